// The media backup side by side with bare rsync (issue 13: backup-media.sh ≤ 1.5× bare rsync on a
// 100k-file tree, nothing changed and after 1% changed): a generated tree of small files under lab1's
// uploads, then per repetition, interleaved in a rotating order, a bare `rsync -a --delete
// --link-dest=<its previous copy>` into a new directory and backup-media.sh as cron runs it; once
// with nothing changed, once after rewriting 1% of the files. Each side keeps its own chain of
// snapshots, so both see the same change against their own previous copy. Everything it adds is
// removed at the end, also on an error.
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { LabHost } from "../lab/lab.ts";
import { formatBytes } from "../format.ts";
import { CRON_ENV, changeFiles, generateMedia, listEntries, removeNew, runScript, scriptPath } from "./hostops.ts";
import { check, median, nextSecond, timed, type RunResult } from "./measure.ts";

export const SIDE_FILES = 100_000;
/** Mean file size: small files (a quarter to 1.75× the mean), so the cost is per file, not per byte. */
export const SIDE_MEAN_BYTES = 2048;

export type SideVariant = "bare" | "script";
export type SideState = "unchanged" | "changed";
export const SIDE_KEYS = ["bare_unchanged", "script_unchanged", "bare_changed", "script_changed"] as const;
export type SideKey = (typeof SIDE_KEYS)[number];

export interface MediaSide {
  files: number;
  bytes: number;
  generate_ms: number;
  /** The first full copies (not part of the comparison). */
  first_ms: { bare: number; script: number };
  /** Files (and bytes) rewritten before each "changed" pair. */
  changed_files: number;
  changed_bytes: number[];
  /** wall ms per repetition, by variant and state. */
  samples: Record<SideKey, number[]>;
  cpu_samples: Record<SideKey, number[]>;
  /**
   * Where backup-media.sh's time goes: one extra run per state (after the interleaved ones, not in
   * the medians) traced with bash -x, ms per step of its main() (tracing adds its own cost).
   */
  steps?: Partial<Record<SideState, Record<string, number>>>;
}

/**
 * ms per step from a bash -x trace whose PS4 is `+|$EPOCHREALTIME|${FUNCNAME[*]}| `: the time from
 * one traced command to the next goes to the function main() was in (its direct callee), or to
 * "(top level)" outside main (sourcing the library, the configuration).
 */
export function stepTimes(trace: string): Record<string, number> {
  const points: { t: number; step: string }[] = [];
  for (const line of trace.split("\n")) {
    const m = /^\++\|(\d+[.,]\d+)\|([^|]*)\|/.exec(line);
    if (!m) continue;
    const fns = m[2]!.trim().split(/\s+/).filter(Boolean);
    const i = fns.lastIndexOf("main");
    points.push({ t: Number(m[1]!.replace(",", ".")) * 1000, step: i > 0 ? fns[i - 1]! : "(top level)" });
  }
  const out: Record<string, number> = {};
  for (let k = 0; k + 1 < points.length; k++) {
    const { step, t } = points[k]!;
    out[step] = (out[step] ?? 0) + Math.max(0, points[k + 1]!.t - t);
  }
  return out;
}

/** The medians of a side-by-side run and their ratios to bare rsync (pure). */
export function mediaSideSummary(m: MediaSide): {
  n: number;
  unchanged: { bare_ms: number; script_ms: number; ratio: number };
  changed: { bare_ms: number; script_ms: number; ratio: number };
} {
  const med = (k: SideKey) => median(m.samples[k]);
  const pair = (s: SideState) => {
    const bare_ms = med(`bare_${s}`);
    const script_ms = med(`script_${s}`);
    return { bare_ms, script_ms, ratio: script_ms / bare_ms };
  };
  return { n: m.samples.script_unchanged.length, unchanged: pair("unchanged"), changed: pair("changed") };
}

/** `reps` repetitions of both pairs on `files` generated files; `say` reports progress. */
export async function mediaSideBySide(
  host: LabHost,
  backupDir: string,
  reps: number,
  say: (line: string) => void,
  files = SIDE_FILES,
): Promise<MediaSide> {
  const mediaBackups = join(backupDir, "media");
  const before = listEntries(mediaBackups);
  const src = join(host.mediaDir, "bench-side");
  const bareRoot = join(host.prefix, "bench-bare-media");
  let bareNo = 0;
  let barePrev: string | undefined;
  const bare = async (): Promise<RunResult> => {
    const dest = join(bareRoot, String(++bareNo).padStart(3, "0"));
    const r = await timed(
      "rsync",
      [
        "-a",
        "--delete",
        "--numeric-ids",
        ...(barePrev ? [`--link-dest=${barePrev}`] : []),
        "--",
        `${host.mediaDir}/`,
        `${dest}/`,
      ],
      { extendEnv: false, env: CRON_ENV },
    );
    check(r, "bare rsync");
    barePrev = dest;
    return r;
  };
  const script = async (): Promise<RunResult> => {
    await nextSecond();
    const r = await runScript(host, "backup-media.sh");
    check(r, "backup-media.sh (side by side)");
    return r;
  };
  try {
    say(`media side by side: writing ${files} files of ~${formatBytes(SIDE_MEAN_BYTES)} under ${host.name}'s uploads`);
    mkdirSync(bareRoot, { recursive: true });
    const tree = generateMedia(src, files * SIDE_MEAN_BYTES, files);
    say("media side by side: first copies (bare rsync, backup-media.sh)");
    const first = { bare: (await bare()).wall_ms, script: (await script()).wall_ms };
    const samples = Object.fromEntries(SIDE_KEYS.map((k) => [k, [] as number[]])) as Record<SideKey, number[]>;
    const cpu = Object.fromEntries(SIDE_KEYS.map((k) => [k, [] as number[]])) as Record<SideKey, number[]>;
    const changedBytes: number[] = [];
    let changedFiles = 0;
    const pair = async (state: SideState, rep: number) => {
      const order: SideVariant[] = rep % 2 ? ["script", "bare"] : ["bare", "script"];
      for (const v of order) {
        const r = v === "bare" ? await bare() : await script();
        samples[`${v}_${state}`].push(r.wall_ms);
        cpu[`${v}_${state}`].push(r.cpu_ms);
      }
    };
    const traced = async (state: SideState): Promise<Record<string, number>> => {
      await nextSecond();
      const trace = join(bareRoot, `trace-${state}.txt`);
      // PS4 is not taken from the environment by a root shell: set inside, the script sourced with
      // its own $0 and BASH_SOURCE; the trace goes to fd 9, so no captured stderr ever holds it.
      const r = await timed(
        "bash",
        [
          "-c",
          'exec 9>"$1"; shift; BASH_XTRACEFD=9; PS4=\'+|${EPOCHREALTIME}|${FUNCNAME[*]:-}| \'; set -x; . "$0" "$@"',
          scriptPath(host, "backup-media.sh"),
          trace,
        ],
        { extendEnv: false, env: CRON_ENV },
      );
      check(r, `backup-media.sh traced (${state})`);
      return stepTimes(readFileSync(trace, "utf8"));
    };
    for (let rep = 0; rep < reps; rep++) {
      say(`media side by side ${rep + 1}/${reps}: nothing changed`);
      await pair("unchanged", rep);
      const c = changeFiles(tree.files, 0.01);
      changedFiles = c.files;
      changedBytes.push(c.bytes);
      say(`media side by side ${rep + 1}/${reps}: after changing ${c.files} files (${formatBytes(c.bytes)})`);
      await pair("changed", rep);
    }
    say("media side by side: one traced run of backup-media.sh per state (where its time goes)");
    const steps: MediaSide["steps"] = { unchanged: await traced("unchanged") };
    changeFiles(tree.files, 0.01);
    // The bare chain is not compared any more; the traced run sees the same 1% change.
    steps.changed = await traced("changed");
    return {
      steps,
      files: tree.files.length,
      bytes: tree.bytes,
      generate_ms: tree.ms,
      first_ms: first,
      changed_files: changedFiles,
      changed_bytes: changedBytes,
      samples,
      cpu_samples: cpu,
    };
  } finally {
    say("media side by side: removing the generated tree, its snapshots and the bare copies");
    rmSync(src, { recursive: true, force: true });
    rmSync(bareRoot, { recursive: true, force: true });
    removeNew(mediaBackups, before);
  }
}
