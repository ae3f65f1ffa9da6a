// The bench's results for people (a console table, the large-scale steps, the targets) and for
// tools (the JSON document). Pure: everything comes in as data, text and objects come out.
import { formatBytes, formatMs, textTable } from "../format.ts";
import type { BenchOptions } from "./args.ts";
import type { LargeResult } from "./large.ts";
import { hostCpuParts } from "./hostcpu.ts";
import { mediaSideSummary, type MediaSide } from "./mediaside.ts";
import { median, stat } from "./measure.ts";
import { med, noopKey, noopSets, type CaseResult, type Cases } from "./results.ts";
import { ratio, type Target } from "./targets.ts";

/** The machine the bench ran on (see run.ts machine()). */
export interface MachineInfo {
  date: string;
  nproc: number;
  cpu_model: string;
  memory_gib: number;
  kernel: string;
  os: string;
  node: string;
  openssh: string | undefined;
  loadavg_at_start: string;
  git_head: string | null;
  git_dirty: boolean | null;
}

export interface BenchReport {
  machine: MachineInfo;
  /** /proc/loadavg's first three fields when the report is made. */
  loadavgAtEnd: string;
  opts: BenchOptions;
  /** ansible-playbook's version line when --ansible ran it. */
  ansible?: string;
  labUpMs: number;
  /** The host the single-host cases and the large scale ran on (lab1). */
  hostName: string;
  cases: Cases;
  /** Durations of each smoke component over the smoke runs, ms. */
  smokeParts: Record<string, number[]>;
  large?: LargeResult | null;
  /** The media side by side with bare rsync (absent when not run, and in runs recorded before it). */
  mediaSide?: MediaSide | null;
  targets: Target[];
}

/** The console table's order; a case not listed here comes after these. */
const ORDER = (hosts: number) => [
  "ssh_true",
  "bashrc",
  "node_bare",
  "start_npx",
  "start_node",
  "start_cep",
  "first_1",
  ...noopSets(hosts).map(noopKey),
  "noop_all_forks",
  "noop_1_node",
  "noop_1_npm",
  "smoke_1",
  "backup_db",
  "backup_media",
  "backup_config",
  "ansible_start",
  "ansible_noop",
];

/** What the note column says about a case, beside its figures. */
function caseNote(key: string, c: CaseResult, r: BenchReport): string {
  const { cases } = r;
  const first = c.samples[0]!;
  if (key === "ssh_true") return "baseline";
  if (key === "noop_1_node") return `vs npx: ${ratio(c.wall_ms.median / med(cases, "noop_1"))}`;
  if (key === "noop_1_npm") return `vs node bin/cep.mjs: ${ratio(c.wall_ms.median / med(cases, "noop_1"))}`;
  if (key.startsWith("noop_")) {
    const note = `${ratio(c.wall_ms.median / med(cases, "noop_1"))} 1 host; per-host ${formatMs(med(cases, key, "host_ms_median"))}`;
    // All of the lab's hosts share this machine's CPUs: the CPU used on both sides over the CPUs
    // there are is a floor for the wall time that a real fleet (a CPU per host) does not have.
    if (key === "noop_1") return note;
    return `${note}; CPU floor ${formatMs((c.cpu_ms.median + c.host_cpu_ms.median) / r.machine.nproc)}`;
  }
  if (key === "first_1")
    return `${formatMs(med(cases, key, "host_ms_median"))} on the host, ${first.tasks_per_host} tasks`;
  if (key === "smoke_1")
    return `smoke ${formatMs(med(cases, key, "smoke_ms"))}: ${Object.entries(r.smokeParts)
      .map(([n, xs]) => `${n} ${formatMs(median(xs))}`)
      .join(", ")}`;
  if (key === "backup_media") return `${first.files} files, ${formatBytes(first.bytes)}`;
  if (key === "ansible_noop")
    return `ours (1 host, ${cases.noop_1?.samples[0]?.tasks_per_host} tasks) is ${ratio(med(cases, "noop_1") / c.wall_ms.median)} its time`;
  return "";
}

/** The cases' table: header row first, one row per measured case. */
export function caseRows(r: BenchReport): string[][] {
  const rows: string[][] = [["case", "median", "min–max", "ctl CPU", "host CPU", "cmds/host", "bytes/host", "note"]];
  const order = ORDER(r.opts.hosts);
  const keys = [...order, ...Object.keys(r.cases).filter((k) => !order.includes(k))];
  for (const k of keys) {
    const c = r.cases[k];
    if (!c) continue;
    const has = (f: string) => c.samples.every((s) => s[f] !== undefined);
    rows.push([
      c.label,
      formatMs(c.wall_ms.median),
      `${formatMs(c.wall_ms.min)}–${formatMs(c.wall_ms.max)}`,
      formatMs(c.cpu_ms.median),
      Number.isFinite(c.host_cpu_ms.median) && c.host_cpu_ms.median > 0 ? formatMs(c.host_cpu_ms.median) : "-",
      has("commands_max") ? `${median(c.samples.map((s) => s.commands_max!))}` : "-",
      has("bytes_max") ? formatBytes(median(c.samples.map((s) => s.bytes_max!))) : "-",
      caseNote(k, c, r),
    ]);
  }
  return rows;
}

/** The large-scale section: a title, the steps' table and the disk use over the run. */
export function largeLines(large: LargeResult, hostName: string): string[] {
  const { media, db, first_backup: first, incremental: inc, unchanged } = large;
  const rows: string[][] = [
    ["step", "time", "copied", "disk (real)", "apparent", "note"],
    ["generate media (not part of the backup)", formatMs(media.ms), "-", "-", "-", ""],
    ["generate rows (not part of the backup)", formatMs(db.ms), "-", "-", "-", ""],
    [
      "first media backup (full copy of the new tree)",
      formatMs(first.wall_ms),
      formatBytes(first.bytes_transferred),
      formatBytes(first.disk_after),
      formatBytes(first.apparent_after),
      `rsync ${first.rsync_seconds} s`,
    ],
    [
      `media backup after ${inc.changed_files} files changed (1%), median of ${inc.n}`,
      formatMs(inc.wall_ms),
      formatBytes(inc.bytes_transferred),
      `+${formatBytes(inc.extra_disk_bytes)}`,
      `+${formatBytes(inc.extra_apparent_bytes)}`,
      `changed ${formatBytes(inc.changed_bytes)}; as full copies: +${formatBytes(inc.snapshot_apparent_bytes)}`,
    ],
    [
      "media backup with nothing changed",
      formatMs(unchanged.wall_ms),
      formatBytes(unchanged.bytes_transferred),
      `+${formatBytes(unchanged.extra_disk_bytes)}`,
      "-",
      "",
    ],
    ["sha256 of every file of one snapshot (part of every backup)", formatMs(large.hash_tree_ms), "-", "-", "-", ""],
    [
      `backup-database.sh, ${db.rows} rows, median of ${large.db_backup.n}`,
      formatMs(large.db_backup.wall_ms),
      "-",
      formatBytes(large.db_backup.dump_bytes),
      "-",
      "dump size",
    ],
    [
      `restore-database.sh --force --target-db (scratch), median of ${large.restore.n}`,
      formatMs(large.restore.wall_ms),
      "-",
      "-",
      "-",
      "then dropped",
    ],
  ];
  const d = large.db_side;
  if (d) {
    const side = (label: string, ms: number, note: string, disk = "-") => [label, formatMs(ms), "-", disk, "-", note];
    rows.push(
      side(`database side by side (interleaved), median of ${d.n}: bare pg_dump -Fc`, d.bare_ms, "baseline"),
      side(
        "  backup-database.sh",
        d.script_ms,
        `${ratio(d.script_ms / d.bare_ms)} bare pg_dump -Fc`,
        formatBytes(d.dump_bytes),
      ),
      side(
        `  backup-database.sh, database.dump_jobs ${d.jobs}`,
        d.parallel_ms,
        `${ratio(d.parallel_ms / d.bare_ms)} bare pg_dump -Fc`,
        formatBytes(d.parallel_bytes),
      ),
      side(`  bare pg_dump -Fd -j ${d.jobs}`, d.bare_dir_ms, `${ratio(d.bare_dir_ms / d.bare_ms)} bare pg_dump -Fc`),
      side(`  bare createdb + pg_restore -j ${d.jobs} + vacuumdb --analyze-only`, d.bare_restore_ms, "baseline"),
      side(`  restore-database.sh --jobs ${d.jobs}`, d.restore_ms, `${ratio(d.restore_ms / d.bare_restore_ms)} bare`),
      side(
        `  restore-database.sh --jobs ${d.jobs} of the parallel dump`,
        d.restore_parallel_ms,
        `${ratio(d.restore_parallel_ms / d.bare_restore_ms)} bare`,
      ),
    );
  }
  return [
    `Large scale on ${hostName}: ${media.files} files, ${formatBytes(media.bytes)} of media; ${db.rows} rows (${formatBytes(db.table_bytes)} table, database ${formatBytes(db.db_bytes)})`,
    textTable(rows, { alignNumbers: true }),
    `Media backup dir over the run: ${large.disk_series.map((d) => `${d.label} ${formatBytes(d.real)} real / ${formatBytes(d.as_full_copies)} as full copies`).join("; ")}`,
  ];
}

/** The media side by side: the tree, then each variant's median and its ratio to bare rsync. */
export function mediaSideLines(m: MediaSide): string[] {
  const sum = mediaSideSummary(m);
  const row = (label: string, ms: number, note: string) => [label, formatMs(ms), note];
  return [
    `Media side by side on a generated tree: ${m.files} files, ${formatBytes(m.bytes)} (generated in ${formatMs(m.generate_ms)}; first copies: bare rsync ${formatMs(m.first_ms.bare)}, backup-media.sh ${formatMs(m.first_ms.script)})`,
    textTable(
      [
        ["variant (interleaved, median of " + sum.n + ")", "time", "note"],
        row("bare rsync -a --delete --link-dest, nothing changed", sum.unchanged.bare_ms, "baseline"),
        row("backup-media.sh, nothing changed", sum.unchanged.script_ms, `${ratio(sum.unchanged.ratio)} bare`),
        row(`bare rsync, after ${m.changed_files} files (1%) changed`, sum.changed.bare_ms, "baseline"),
        row(
          `backup-media.sh, after ${m.changed_files} files (1%) changed`,
          sum.changed.script_ms,
          `${ratio(sum.changed.ratio)} bare`,
        ),
      ],
      { alignNumbers: true },
    ),
  ];
}

/** What a host's CPU on the N-host no-op is made of (when its parts were measured). */
export function hostCpuLine(cases: Cases, hosts: number): string[] {
  const p = hostCpuParts(cases, hosts);
  if (!p) return [];
  return [
    `Host CPU per host (${hosts}-host no-op): ${formatMs(p.per_host_ms)} = sshd session ${formatMs(p.sshd_ms)} + login shell with ~/.bashrc ${formatMs(p.shell_ms)} (together \`ssh host true\`) + the remote script ${formatMs(p.script_ms)}`,
  ];
}

/** One line per target: PASS, MISS or n/a, the ratio against its limit, what was measured. */
export function targetLines(targets: Target[]): string[] {
  return targets.map((t) => {
    const verdict = t.pass === null ? "n/a " : t.pass ? "PASS" : "MISS";
    const vs = t.ratio === null ? "" : `${ratio(t.ratio)} (limit ${ratio(t.limit!)}); `;
    return `  ${verdict}  ${t.target}: ${vs}${t.measured}`;
  });
}

/** Everything the console shows, starting with an empty line. */
export function consoleReport(r: BenchReport): string {
  const { machine: m, opts } = r;
  return [
    "",
    `Benchmarks (${opts.reps} reps, medians; ${m.nproc} CPUs ${m.cpu_model}, ${m.memory_gib} GiB; lab of ${opts.hosts} hosts up in ${formatMs(r.labUpMs)})`,
    textTable(caseRows(r), { alignNumbers: true }),
    ...(r.large ? ["", ...largeLines(r.large, r.hostName)] : []),
    ...(r.mediaSide ? ["", ...mediaSideLines(r.mediaSide)] : []),
    "",
    "Targets:",
    ...targetLines(r.targets),
    ...hostCpuLine(r.cases, opts.hosts),
    "",
    "Anchors: Ansible ~4.6 s for a 10-task no-op play, 1 loopback host, pipelining (issue 5, this machine class);",
    `         pyinfra (published, 2024) 1.27 s / 2.24 s / 6.54 s for 1/25/100 hosts. Ours: ${noopSets(opts.hosts)
      .map((n) => `${formatMs(med(r.cases, noopKey(n)))} for ${n}`)
      .join(", ")}.`,
    `Note: every remote command (ours, OpenSSH's, Ansible's) runs root's ~/.bashrc, which inits pyenv: ${formatMs(med(r.cases, "bashrc"))} here.`,
    `      The lab's hosts share this machine's ${m.nproc} CPUs with the controller (load average at the start: ${m.loadavg_at_start}, now ${r.loadavgAtEnd}).`,
  ].join("\n");
}

/** The JSON document (bench/results/latest.json). */
export function jsonReport(r: BenchReport): Record<string, unknown> {
  const { opts } = r;
  return {
    machine: { ...r.machine, loadavg_at_end: r.loadavgAtEnd },
    options: {
      hosts: opts.hosts,
      reps: opts.reps,
      scale: opts.scale,
      ansible: r.ansible ?? null,
      forks: opts.forks ?? "default (10)",
      ...(opts.mediaSide ? { media_side_files: opts.mediaFiles } : {}),
    },
    command: `npm run bench -- ${opts.argv.join(" ")}`.trim(),
    lab: { hosts: opts.hosts, up_ms: r.labUpMs },
    cases: r.cases,
    smoke_components_ms: Object.fromEntries(Object.entries(r.smokeParts).map(([k, xs]) => [k, stat(xs)])),
    large: r.large ?? null,
    ...(r.mediaSide ? { media_side: { ...r.mediaSide, summary: mediaSideSummary(r.mediaSide) } } : {}),
    targets: r.targets,
    anchors: {
      ansible_10_task_noop_s: 4.6,
      pyinfra_published_s: { "1": 1.27, "25": 2.24, "100": 6.54 },
      ansible_published_s: { "1": 4.06, "25": 17.7, "100": 64.6 },
    },
  };
}
