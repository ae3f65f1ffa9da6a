// The drill's remote script: one command per host that restores the newest backups into scratch
// space with the installed restore scripts, prints `DRILL|component|field|value` lines (read by
// verify.ts) and removes its scratch database and folder whatever happens.
import { randomBytes } from "node:crypto";
import type { Host } from "../inventory/types.ts";
import { jobScript, type ShellValues } from "../render/remote.ts";

/** Scratch names: <db, cut to 40>_drill_<8 hex>; leftovers of killed drills match scratchRe. */
export function scratchNames(
  dbName: string,
  suffix = randomBytes(4).toString("hex"),
): { scratch_db: string; scratch_re: string } {
  const base = dbName.slice(0, 40);
  return { scratch_db: `${base}_drill_${suffix}`, scratch_re: `^${base}_drill_[0-9a-f]{8}$` };
}

/** Where a drill restores from: the host's own backups, or its off-site copy. */
export type DrillFrom = "local" | "offsite";

/** Where the recovery goes: scratch space (removed afterwards), or over the live data (--live). */
export type DrillMode = "scratch" | "live";

/** How long drill.verify_command may take on a host after a --live drill. */
export const VERIFY_TIMEOUT_SECONDS = 300;

/** `source`: with --source, the values that point the drill at the source host's copy (source.ts). */
export function drillScript(
  host: Host,
  suffix?: string,
  from: DrillFrom = "local",
  mode: DrillMode = "scratch",
  source: ShellValues = {},
): string {
  const { scratch_db, scratch_re } = scratchNames(host.vars.database.name, suffix);
  return jobScript("drill.sh", host.vars, {
    SCRATCH_DB: scratch_db,
    SCRATCH_RE: scratch_re,
    FROM: from,
    // Sent only when something is encrypted; it stays in the remote shell's memory (drill.sh).
    AGE_IDENTITY: host.vars.encryption.recipients.length > 0 ? (host.vars.encryption.identity ?? "") : "",
    ...liveValues(host, mode),
    ...source,
  });
}

/** The live mode's values: the live database and the check run after the restores. */
function liveValues(host: Host, mode: DrillMode) {
  return {
    MODE: mode,
    LIVE_DB: host.vars.database.name,
    VERIFY_COMMAND: mode === "live" ? (host.vars.drill.verify_command ?? "") : "",
    VERIFY_TIMEOUT: VERIFY_TIMEOUT_SECONDS,
  };
}

/** The drill's result as check-backups' metrics read it on the host (<state_dir>/last-drill.json). */
export interface LastDrill {
  finished_at: string;
  mode: DrillMode;
  /** --live: the pre-restore backups the restore scripts took (component → path). */
  pre_restore?: Record<string, string>;
  verdict: "PASSED" | "FAILED";
  rto_ms_total: number | null;
  rpo_seconds_max: number | null;
  /** With --source: whose backups were restored (the source inventory's name and host). */
  source?: { inventory: string; host: string };
}

/** The second command of a drill: its result written on the host, by the backup user. */
export function lastDrillScript(host: Host, last: LastDrill): string {
  return jobScript("last-drill.sh", host.vars, {
    STATE_DIR: host.vars.paths.state_dir,
    LAST_DRILL: JSON.stringify(last),
  });
}
