// The bench's targets as data: what each needs measured, its limit, and a pure function from the
// figures to its ratio and explanation. A target whose figures are missing says so ("not
// measured") instead of passing or failing. Goals for the benchmark, never timed assertions in tests.
import { formatBytes, formatMs } from "../format.ts";
import type { LargeResult } from "./large.ts";
import { hostCpuParts } from "./hostcpu.ts";
import { mediaSideSummary, type MediaSide } from "./mediaside.ts";
import { median } from "./measure.ts";
import { med, noopKey, noopSets, type Cases } from "./results.ts";

/** One target's verdict, as printed and written to the JSON. */
export interface Target {
  target: string;
  measured: string;
  ratio: number | null;
  limit: number | null;
  /** null: not measured. */
  pass: boolean | null;
  note?: string;
}

/** What the targets are computed from. */
export interface Figures {
  /** The lab's size (--hosts). */
  hosts: number;
  cases: Cases;
  large?: LargeResult | null;
  /** The controller's CPUs (the lab's hosts share them): the CPU floor's divisor. */
  nproc?: number;
  /** The media side by side with bare rsync (--media-side or --scale large). */
  mediaSide?: MediaSide | null;
}

export interface TargetDef {
  target: (f: Figures) => string;
  /** False when this run was not set up for it at all (e.g. fewer than 10 hosts): then it is left out. */
  applies?: (f: Figures) => boolean;
  /** Case keys whose medians it needs; "large" for the --scale large results. */
  needs: (f: Figures) => string[];
  limit: number;
  /** The ratio to compare with the limit, what was measured in words, and any other condition of passing. */
  measure: (f: Figures, large: LargeResult) => { ratio: number; measured: string; alsoRequired?: boolean };
  note?: string;
  /** Targets of one group that are all unmeasured for the same reason are listed as this one line. */
  group?: string;
}

export const ratio = (x: number): string => `${x.toFixed(2)}×`;

/** The database side by side (--scale large; runs recorded before it have no db_side: left out). */
const hasDbSide = (f: Figures) => !!f.large?.db_side;
type Side = NonNullable<LargeResult["db_side"]>;

/** How many CPUs a variant kept busy (client + server CPU over wall, medians), when recorded. */
function busy(d: Side, key: string): number | undefined {
  const cpu = d.cpu_samples?.[key];
  const wall = d.samples[key];
  if (!cpu?.length || !wall?.length) return undefined;
  return median(cpu) / median(wall);
}

/** Median client + server CPU of a variant, ms, when recorded. */
const cpu = (d: Side, key: string): number | undefined =>
  d.cpu_samples?.[key]?.length ? median(d.cpu_samples[key]!) : undefined;

/** The parallel dump's CPU figures: a second worker does not do less work; on saturated CPUs wall follows CPU. */
function dumpCpu(d: Side): string {
  const [fc, dir, par] = [cpu(d, "bare"), cpu(d, "bare_dir"), cpu(d, "parallel")];
  if (fc === undefined || dir === undefined || par === undefined) return "";
  return `; CPU (client + server): bare -Fc ${formatMs(fc)}, bare -Fd -j ${d.jobs} ${formatMs(dir)}, dump_jobs ${d.jobs} ${formatMs(par)}; CPUs kept busy: bare -Fc ${busy(d, "bare")!.toFixed(2)} of 2`;
}

/** restore-database.sh's own steps (medians, ≥ 0.05 s), and the bare restore of a piped dump. */
function restoreSteps(d: Side): string {
  const st = d.restore_steps?.restore;
  const parts = st
    ? Object.entries(st)
        .filter(([k, v]) => k !== "total" && v >= 50)
        .map(([k, v]) => `${k} ${formatMs(v)}`)
    : [];
  const stream =
    d.bare_restore_stream_ms !== undefined && Number.isFinite(d.bare_restore_stream_ms)
      ? `; bare restore of a -Fc dump written to a pipe (no data offsets, as an encrypted dump's): ${formatMs(d.bare_restore_stream_ms)}`
      : "";
  const [mine, bare] = [cpu(d, "restore"), cpu(d, "bare_restore")];
  const cpus =
    mine !== undefined && bare !== undefined
      ? `; CPU ${formatMs(mine)} vs ${formatMs(bare)} (${ratio(mine / bare)})`
      : "";
  const bs = d.bare_restore_steps;
  const bareSteps = bs
    ? `; bare: createdb ${formatMs(bs.createdb ?? 0)}, pg_restore ${formatMs(bs.pg_restore ?? 0)}, vacuumdb ${formatMs(bs.vacuumdb ?? 0)}`
    : "";
  return `${parts.length ? `; steps: ${parts.join(", ")}` : ""}${bareSteps}${stream}${cpus}`;
}
const DB_TARGETS: TargetDef[] = [
  {
    target: () => "backup-database.sh ≤ 1.05× a bare pg_dump -Fc of the same database",
    applies: hasDbSide,
    needs: () => ["large"],
    limit: 1.05,
    measure: (_, { db_side: d }) => ({
      ratio: d!.script_ms / d!.bare_ms,
      measured: `${formatMs(d!.script_ms)} vs ${formatMs(d!.bare_ms)} (dump ${formatBytes(d!.dump_bytes)}, median of ${d!.n})`,
    }),
  },
  {
    target: (f) =>
      `parallel dump (database.dump_jobs ${f.large?.db_side?.jobs ?? 2}) ≥ 1.5× as fast as a bare pg_dump -Fc (≤ 0.67× its time)`,
    applies: hasDbSide,
    needs: () => ["large"],
    limit: 0.67,
    measure: (_, { db_side: d }) => ({
      ratio: d!.parallel_ms / d!.bare_ms,
      measured: `${formatMs(d!.parallel_ms)} vs ${formatMs(d!.bare_ms)} (${(d!.bare_ms / d!.parallel_ms).toFixed(2)}× as fast; bare pg_dump -Fd -j ${d!.jobs}: ${formatMs(d!.bare_dir_ms)}; archive ${formatBytes(d!.parallel_bytes)}${dumpCpu(d!)})`,
    }),
  },
  {
    target: (f) =>
      `restore-database.sh --jobs ${f.large?.db_side?.jobs ?? 2} ≤ 1.15× a bare createdb + pg_restore -j + vacuumdb --analyze-only`,
    applies: hasDbSide,
    needs: () => ["large"],
    limit: 1.15,
    measure: (_, { db_side: d }) => ({
      ratio: d!.restore_ms / d!.bare_restore_ms,
      measured: `${formatMs(d!.restore_ms)} vs ${formatMs(d!.bare_restore_ms)} (the parallel dump's restore: ${formatMs(d!.restore_parallel_ms)}${restoreSteps(d!)})`,
    }),
  },
];

// Issue 13's start-up, fleet and media-side-by-side targets (the "bench" helper's block).

/** The README's own command against what no run can beat: one SSH connection and a Node.js start. */
const START_TARGETS: TargetDef[] = [
  {
    target: () => "no-op re-provision of 1 host through `npm run provision` ≤ 1.5× (ssh host true + node -e 0)",
    needs: () => ["noop_1_npm", "ssh_true", "node_bare"],
    limit: 1.5,
    measure: ({ cases }) => {
      const floor = med(cases, "ssh_true") + med(cases, "node_bare");
      const npm = med(cases, "noop_1_npm");
      const cep = med(cases, "noop_1");
      const direct = Number.isFinite(cep)
        ? `; the same no-op by node bin/cep.mjs provision (no npm): ${formatMs(cep)} (${ratio(cep / floor)}), so npm run costs ${formatMs(npm - cep)}`
        : "";
      const start = Number.isFinite(med(cases, "start_cep"))
        ? `; CLI start (node bin/cep.mjs provision --help): ${formatMs(med(cases, "start_cep"))}`
        : "";
      return {
        ratio: npm / floor,
        measured: `${formatMs(npm)} vs ${formatMs(med(cases, "ssh_true"))} + ${formatMs(med(cases, "node_bare"))} = ${formatMs(floor)}${direct}${start}`,
      };
    },
  },
];

/** The N-host no-op (default forks) on the lab's sshd-only hosts; for 10 hosts or more (fewer says little). */
const fleet = (f: Figures) => f.hosts >= 10;
const FLEET_TARGETS: TargetDef[] = [
  {
    target: (f) => `${f.hosts}-host no-op: wall within 1.2× of the lab's CPU floor ((ctl CPU + host CPU) / CPUs)`,
    applies: (f) => fleet(f) && !!f.nproc,
    needs: (f) => [noopKey(f.hosts)],
    limit: 1.2,
    measure: ({ cases, hosts, nproc }) => {
      const k = noopKey(hosts);
      const [ctl, host] = [med(cases, k, "cpu_ms"), med(cases, k, "host_cpu_ms")];
      const floor = (ctl + host) / nproc!;
      const parts = hostCpuParts(cases, hosts);
      const per = parts ? `; host CPU per host ${formatMs(parts.per_host_ms)}` : "";
      return {
        ratio: med(cases, k) / floor,
        measured: `${formatMs(med(cases, k))} vs ${formatMs(floor)} (ctl ${formatMs(ctl)} + host ${formatMs(host)} over ${nproc} CPUs)${per}`,
      };
    },
  },
  {
    target: (f) => `${f.hosts}-host no-op: controller CPU ≤ 15 ms per extra host ((ctl CPU at N − at 1) / (N − 1))`,
    applies: fleet,
    needs: (f) => [noopKey(1), noopKey(f.hosts)],
    limit: 1,
    measure: ({ cases, hosts }) => {
      const [one, n] = [med(cases, noopKey(1), "cpu_ms"), med(cases, noopKey(hosts), "cpu_ms")];
      const per = (n - one) / (hosts - 1);
      return {
        ratio: per / 15,
        measured: `${per.toFixed(1)} ms per extra host (${formatMs(n)} for ${hosts} hosts, ${formatMs(one)} for 1)`,
      };
    },
    note: "ratio: ms per extra host / 15 ms",
  },
  {
    target: (f) => `${f.hosts}-host no-op: controller RSS ≤ 200 MB (peak RSS of the provision process, GNU time)`,
    applies: fleet,
    needs: (f) => [`${noopKey(f.hosts)}:max_rss_kb`],
    limit: 1,
    measure: ({ cases, hosts }) => {
      const kb = cases[noopKey(hosts)]!.samples.map((s) => s.max_rss_kb).filter((x) => x !== undefined);
      const bytes = Math.max(...kb) * 1024;
      const one = med(cases, noopKey(1), "max_rss_kb");
      return {
        ratio: bytes / 200e6,
        measured: `${(bytes / 1e6).toFixed(1)} MB, the largest of ${kb.length} runs${Number.isFinite(one) ? ` (1 host: ${((one * 1024) / 1e6).toFixed(1)} MB)` : ""}`,
      };
    },
    note: "ratio: peak RSS / 200 MB (10^6 bytes)",
  },
];

/** backup-media.sh against bare rsync on the generated 100k-file tree. */
const MEDIA_SIDE = "media side by side";
const MEDIA_SIDE_TARGETS: TargetDef[] = (["unchanged", "changed"] as const).map((state): TargetDef => ({
  target: (f) =>
    `backup-media.sh ≤ 1.5× bare rsync -a --delete --link-dest, ${f.mediaSide?.files ?? "100000"} files, ${state === "unchanged" ? "nothing changed" : "after 1% changed"}`,
  needs: () => [MEDIA_SIDE],
  limit: 1.5,
  measure: ({ mediaSide }) => {
    const sum = mediaSideSummary(mediaSide!);
    const p = sum[state];
    const cpu = (k: string) => median((mediaSide!.cpu_samples as Record<string, number[]>)[k] ?? []);
    const st = mediaSide!.steps?.[state];
    const steps = st
      ? `; one traced run: ${Object.entries(st)
          .filter(([, ms]) => ms >= 50)
          .sort((a, b) => b[1] - a[1])
          .map(([k, ms]) => `${k} ${formatMs(ms)}`)
          .join(", ")}`
      : "";
    return {
      ratio: p.ratio,
      measured: `${formatMs(p.script_ms)} vs ${formatMs(p.bare_ms)} (median of ${sum.n}, interleaved; ${formatBytes(mediaSide!.bytes)} in ${mediaSide!.files} files${state === "changed" ? `, ${mediaSide!.changed_files} rewritten` : ""}; CPU ${formatMs(cpu(`script_${state}`))} vs ${formatMs(cpu(`bare_${state}`))}${steps})`,
    };
  },
  group: "backup-media.sh ≤ 1.5× bare rsync on a 100k-file tree, nothing changed and after 1% changed",
}));

const pct = (x: number) => `${(x * 100).toFixed(x < 0.1 ? 2 : 1)}%`;
const LARGE = "large";
const MEDIA_1PCT = "media backup after a 1% change: ~1% of the bytes, a small fraction of the first backup's time";

export const TARGETS: TargetDef[] = [
  {
    target: () => "no-op re-provision: ≤ 3 remote commands per host, 0 bytes uploaded",
    needs: (f) => noopSets(f.hosts).map(noopKey),
    limit: 1,
    measure: (f) => {
      const samples = noopSets(f.hosts).flatMap((n) => f.cases[noopKey(n)]!.samples);
      const maxCmds = Math.max(...samples.map((s) => s.commands_max!));
      const maxBytes = Math.max(...samples.map((s) => s.bytes_max!));
      const changed = samples.reduce((m, s) => m + s.changed_tasks!, 0);
      return {
        ratio: maxCmds / 3,
        measured: `max ${maxCmds} command(s)/host, max ${maxBytes} bytes uploaded, ${changed} tasks changed (all no-op runs, ${noopSets(f.hosts).join("/")} hosts)`,
        alsoRequired: maxBytes === 0 && changed === 0,
      };
    },
  },
  {
    target: (f) => `${f.hosts} hosts ≤ 2× one host (wall, no-op, default forks)`,
    applies: (f) => f.hosts > 1,
    needs: (f) => [noopKey(1), noopKey(f.hosts)],
    limit: 2,
    measure: ({ cases, hosts }) => {
      const [one, n] = [noopKey(1), noopKey(hosts)];
      return {
        ratio: med(cases, n) / med(cases, one),
        measured: `${formatMs(med(cases, n))} vs ${formatMs(med(cases, one))}; in-process (report duration_ms) ${ratio(med(cases, n, "run_ms") / med(cases, one, "run_ms"))}`,
      };
    },
  },
  {
    target: () => "10 hosts ≤ 1.5× one host (wall; DESIGN.md)",
    applies: (f) => f.hosts >= 10,
    needs: () => [noopKey(1), noopKey(10)],
    limit: 1.5,
    measure: ({ cases }) => ({
      ratio: med(cases, noopKey(10)) / med(cases, noopKey(1)),
      measured: `${formatMs(med(cases, noopKey(10)))} vs ${formatMs(med(cases, noopKey(1)))}`,
    }),
  },
  ...START_TARGETS,
  ...FLEET_TARGETS,
  {
    target: () => "media backup after a 1% change copies ~1% of the bytes",
    needs: () => [LARGE],
    limit: 1.5,
    measure: (_, large) => {
      const vsChanged = large.incremental.bytes_transferred / large.incremental.changed_bytes;
      return {
        ratio: vsChanged,
        measured: `${formatBytes(large.incremental.bytes_transferred)} of ${formatBytes(large.media.bytes)} copied (${pct(large.incremental.bytes_transferred / large.media.bytes)}; ${ratio(vsChanged)} the bytes changed); extra disk ${formatBytes(large.incremental.extra_disk_bytes)}`,
      };
    },
    note: "ratio: bytes copied / bytes changed",
    group: MEDIA_1PCT,
  },
  {
    target: () => "media backup after a 1% change takes a small fraction (≤ 20%) of the first backup's time",
    needs: () => [LARGE],
    limit: 0.2,
    measure: (_, large) => ({
      ratio: large.incremental.wall_ms / large.first_backup.wall_ms,
      measured: `${formatMs(large.incremental.wall_ms)} vs ${formatMs(large.first_backup.wall_ms)} (no change at all: ${formatMs(large.unchanged.wall_ms)}; hashing the tree alone: ${formatMs(large.hash_tree_ms)})`,
    }),
    group: MEDIA_1PCT,
  },
  ...DB_TARGETS,
  ...MEDIA_SIDE_TARGETS,
];

/** Why a target cannot be judged: what it needs and this run lacks ("" when nothing is missing). */
function missing(def: TargetDef, f: Figures): string {
  const needs = def.needs(f);
  if (needs.includes(LARGE) && !f.large) return "needs --scale large";
  if (needs.includes(MEDIA_SIDE) && !f.mediaSide) return "needs --media-side or --scale large";
  // "key:field" needs that figure of the case (e.g. the peak RSS, recorded only with GNU time).
  const absent = needs.filter((k) => {
    if (k === LARGE || k === MEDIA_SIDE) return false;
    const [key, field] = k.split(":");
    return !Number.isFinite(med(f.cases, key!, field));
  });
  return absent.length ? `no figures for ${absent.join(", ")}` : "";
}

/** Every target that applies to this run, judged on its figures (in TARGETS' order). */
export function evaluateTargets(f: Figures, defs: TargetDef[] = TARGETS): Target[] {
  const out: Target[] = [];
  const listed = new Set<string>();
  const applicable = defs.filter((d) => d.applies?.(f) ?? true);
  for (const d of applicable) {
    const why = missing(d, f);
    if (why === "") {
      const m = d.measure(f, f.large!);
      out.push({
        target: d.target(f),
        measured: m.measured,
        ratio: m.ratio,
        limit: d.limit,
        pass: m.ratio <= d.limit && (m.alsoRequired ?? true),
        ...(d.note ? { note: d.note } : {}),
      });
      continue;
    }
    const group = d.group;
    const wholeGroup =
      group !== undefined && applicable.filter((x) => x.group === group).every((x) => missing(x, f) === why);
    if (wholeGroup && listed.has(group)) continue;
    if (wholeGroup) listed.add(group);
    out.push({
      target: wholeGroup ? group : d.target(f),
      measured: `not measured (${why})`,
      ratio: null,
      limit: null,
      pass: null,
    });
  }
  return out;
}
