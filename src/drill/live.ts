// The live drill's part of the verdict, pure (`--live`): where each recovery component was restored
// over live data, the pre-restore backup the installed restore script took first (and that it is
// there), its rollback line on a failure, and drill.verify_command's result. Read from the drill
// script's `DRILL|component|field|value` lines (verify.ts parses them); tested on recorded outputs.
import type { TaskReport } from "../run/report.ts";
import { formatMs } from "../format.ts";

type Fields = Map<string, string[]>;
const one = (f: Fields | undefined, k: string): string | undefined => f?.get(k)?.[0];

/** One recovery component restored over the live data. */
export interface LiveRestore {
  /** Where it went: the live database's name, or the live folder (media, the app folder). */
  target: string;
  /** The pre-restore backup the restore script took first; null when none was needed (an empty target). */
  pre_restore: string | null;
  /** The restore script's words about it ("none (the target was empty)"). */
  pre_restore_note: string;
  /** Whether that backup is on the host after the drill (null: no path to check). */
  pre_restore_exists: boolean | null;
  /** On a failure: what the restore script put back (its report's Rollback line). */
  rollback?: string;
}

/** drill.verify_command after a --live drill. */
export interface VerifyCommandResult {
  /** none: not configured; skipped: not run because a restore did not pass. */
  status: "passed" | "failed" | "none" | "skipped";
  command: string | null;
  exit_code: number | null;
  duration_ms: number | null;
  timeout_seconds: number | null;
  /** The last lines of its output (stdout and stderr), secrets masked. */
  output: string[];
  details: string;
}

/** The live restore's lines of a component, or undefined when it was not restored over live data. */
export function liveRestoreOf(f: Fields | undefined): LiveRestore | undefined {
  const target = one(f, "live_target");
  if (target === undefined) return undefined;
  const pre = one(f, "pre_restore") ?? "";
  const exists = one(f, "pre_restore_exists");
  const r: LiveRestore = {
    target,
    pre_restore: pre.startsWith("/") ? pre : null,
    pre_restore_note: pre,
    pre_restore_exists: exists === "yes" ? true : exists === "no" ? false : null,
  };
  const rollback = one(f, "rollback");
  if (rollback !== undefined) r.rollback = rollback;
  return r;
}

/**
 * A live restore that passed its own checks must also have left its pre-restore backup where it
 * says (or said it needed none): the way back to the data it replaced. A problem, or undefined.
 */
export function preRestoreProblem(script: string, l: LiveRestore): string | undefined {
  if (l.pre_restore !== null)
    return l.pre_restore_exists === true
      ? undefined
      : `${script} reported its pre-restore backup ${l.pre_restore}, which is not on the host after the restore`;
  if (/^none\b/.test(l.pre_restore_note)) return undefined;
  return `${script} did not say where its pre-restore backup is (report line "Pre-Restore Backup: ${l.pre_restore_note}")`;
}

/** What a passed live restore adds to its component's details. */
export function liveDetails(name: string, l: LiveRestore): string {
  const into = name === "database" ? `the live database ${l.target}` : `the live folder ${l.target}`;
  return `restored over ${into}; pre-restore backup ${l.pre_restore ?? l.pre_restore_note}`;
}

/** What a failed live restore adds: its rollback (the restore scripts put their component back). */
export function liveFailureDetails(l: LiveRestore | undefined): string {
  if (!l) return "";
  const parts = [];
  if (l.rollback) parts.push(`rollback: ${l.rollback}`);
  if (l.pre_restore) parts.push(`pre-restore backup ${l.pre_restore}`);
  return parts.length ? ` (${parts.join("; ")})` : "";
}

/** drill.verify_command's lines → its result. */
export function verifyCommandResult(f: Fields | undefined): VerifyCommandResult {
  const num = (k: string) => {
    const v = one(f, k);
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : null;
  };
  const v: VerifyCommandResult = {
    status: "failed",
    command: one(f, "command") ?? null,
    exit_code: num("exit"),
    duration_ms: num("ms"),
    timeout_seconds: num("timeout_s"),
    output: f?.get("output") ?? [],
    details: "",
  };
  const none = one(f, "none");
  const skipped = one(f, "skipped");
  if (none !== undefined) return { ...v, status: "none", details: none };
  if (skipped !== undefined) return { ...v, status: "skipped", details: skipped };
  if (!f || v.command === null) return { ...v, details: "no result: the drill script stopped before it" };
  if (v.exit_code === null) return { ...v, details: "no result: the drill script stopped while it ran" };
  const last = v.output.length ? `; last output: ${v.output.slice(-3).join(" / ")}` : "; no output";
  const took = v.duration_ms !== null ? ` after ${formatMs(v.duration_ms)}` : "";
  if (v.exit_code === 0) return { ...v, status: "passed", details: `exit 0${took}${last}` };
  // timeout(1): 124 when the limit was hit, 137 when it had to kill.
  const why =
    (v.exit_code === 124 || v.exit_code === 137) && v.timeout_seconds !== null
      ? `timed out after ${v.timeout_seconds}s (exit ${v.exit_code})`
      : `exit ${v.exit_code}${took}`;
  return { ...v, details: `${why}${last}` };
}

/** Its task: failed when it failed; skipped when not configured or not run. */
export function verifyCommandTask(v: VerifyCommandResult): TaskReport {
  const what = v.command === null ? "" : `${v.command}: `;
  return {
    name: "drill verify_command",
    status: v.status === "passed" ? "ok" : v.status === "failed" ? "failed" : "skipped",
    message: `${v.status}: ${what}${v.details}`,
  };
}
