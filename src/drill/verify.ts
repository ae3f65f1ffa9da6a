// Drill verification, pure: the drill script's recorded output (`DRILL|component|field|value` lines,
// its exit code and stderr) → one result per component checked against the backup's own manifest,
// the cleanup's outcome and the host's verdict. Tested on recorded outputs (test/drill/cases/).
import type { TaskReport } from "../run/report.ts";
import { formatAge, formatMs } from "../format.ts";
import {
  liveDetails,
  liveFailureDetails,
  liveRestoreOf,
  preRestoreProblem,
  verifyCommandResult,
  verifyCommandTask,
  type LiveRestore,
  type VerifyCommandResult,
} from "./live.ts";

export const DRILL_COMPONENTS = ["database", "media", "config", "weekly", "monthly"] as const;
export type DrillComponentName = (typeof DRILL_COMPONENTS)[number];
/** What a recovery restores: the newest daily dump, media snapshot and config archive (RTO, RPO). */
export const RECOVERY_COMPONENTS = ["database", "media", "config"] as const;
/** The older tiers, restored and verified too, outside the recovery's RTO and RPO. */
export const DUMP_COMPONENTS = ["database", "weekly", "monthly"] as const;
const isDump = (n: DrillComponentName) => (DUMP_COMPONENTS as readonly string[]).includes(n);

/** The inventory's targets (drill.rto_minutes, drill.rpo_hours). */
export interface DrillTargets {
  rto_minutes: number;
  rpo_hours: number;
}

/** The recovery's time by phase (ms): what a real recovery of this host would take. */
export interface DrillPhases {
  /** Downloads from the off-site copy (fetch-offsite.sh: download, checksums, rebuild, decryption of media). */
  fetch_ms: number;
  /** restore-database.sh on the newest daily dump (checksum, decryption in the stream, restore, table and row checks). */
  database_ms: number;
  /** restore-media.sh on the newest snapshot. */
  media_ms: number;
  /** restore-config.sh on the newest archive (decryption in the stream). */
  config_ms: number;
  /** The drill's own checks after the restores (diff -r of the media, config files byte for byte; with --live, drill.verify_command). */
  verification_ms: number;
  total_ms: number;
}

export interface DrillTargetResult {
  rto_minutes: number;
  rpo_hours: number;
  rto_met: boolean | null;
  rpo_met: boolean | null;
  /** By how much the target was missed (0 when met; null when not measured). */
  rto_missed_by_ms: number | null;
  rpo_missed_by_seconds: number | null;
}

export interface DrillComponent {
  /**
   * none: a weekly or monthly tier with no dump yet (nothing to restore, not a failure); skipped
   * (--live): not restored over the live data because an earlier component did not pass.
   */
  status: "passed" | "failed" | "none" | "skipped";
  /** The backup restored (path on the host). */
  backup: string | null;
  /** A dump's tier: daily (database), weekly or monthly. */
  kind?: "daily" | "weekly" | "monthly";
  /** When the backup was taken (its manifest's started_at/created_at, else its name). */
  backup_time: string | null;
  /** RPO: age of the backup at drill time, in seconds. */
  rpo_seconds: number | null;
  /** Where the backup came from: the host's own copy, or the off-site bucket (`--from offsite`). */
  source: "local" | "offsite";
  /** With `--from offsite`: how long fetch-offsite.sh took (download, verify, rebuild). */
  fetch_ms: number | null;
  /** RTO: how long the installed restore script took (verify checksum, restore, its own checks), with the download when from off-site. */
  rto_ms: number | null;
  /** The drill's own verification after the restore (diff -r, file-by-file compare). */
  verify_ms: number | null;
  size_bytes: number | null;
  /** The backup's SHA-256 as its manifest recorded it (media: its checksum list's name). */
  checksum?: string;
  /** What the manifest recorded and what the restore produced (tables/rows, files/bytes). */
  manifest: Record<string, number>;
  restored: Record<string, number>;
  /** What was verified, or why it failed. */
  details: string;
  /** --live: restored over the live data (where, its pre-restore backup, its rollback). */
  live?: LiveRestore;
}

export interface DrillHost {
  verdict: "PASSED" | "FAILED";
  /** scratch: every restore into scratch space; live: the recovery over the live data (--live). */
  mode: "scratch" | "live";
  /** --live: drill.verify_command on the restored host. */
  verify_command?: VerifyCommandResult;
  drilled_at: string | null;
  components: Partial<Record<DrillComponentName, DrillComponent>>;
  /** The recovery's RTO: every phase (fetch, database, media, config, verification) one after the other. */
  rto_ms_total: number | null;
  /** The recovery's RPO: drill start minus the time of the oldest of the newest backups restored. */
  rpo_seconds_max: number | null;
  phases: DrillPhases | null;
  targets: DrillTargetResult;
  scratch_db: string;
  workdir: string | null;
  cleanup: { status: "passed" | "failed"; scratch_db: string; workdir: string };
  stale_removed: number;
  error?: string;
}

/** What the drill script left: its stdout (already masked), exit code and stderr. */
export interface DrillOutput {
  stdout: string;
  stderr: string;
  code: number;
}

type Fields = Map<string, string[]>;

/** `DRILL|component|field|value` lines → component → field → values (in order). */
export function parseDrillLines(stdout: string): Map<string, Fields> {
  const out = new Map<string, Fields>();
  for (const line of stdout.split("\n")) {
    if (!line.startsWith("DRILL|")) continue;
    const [, comp, field, ...rest] = line.split("|");
    if (!comp || !field) continue;
    const f = out.get(comp) ?? new Map<string, string[]>();
    out.set(comp, f);
    f.set(field, [...(f.get(field) ?? []), rest.join("|")]);
  }
  return out;
}

const one = (f: Fields | undefined, k: string): string | undefined => f?.get(k)?.[0];
const num = (f: Fields | undefined, k: string): number | null => {
  const v = one(f, k);
  return v !== undefined && v !== "" && Number.isFinite(Number(v)) ? Number(v) : null;
};

function manifestOf(f: Fields | undefined): any {
  const b = one(f, "manifest_b64");
  if (!b) return undefined;
  try {
    return JSON.parse(Buffer.from(b, "base64").toString("utf8"));
  } catch {
    return null;
  }
}

/** One component's result: what the script measured, checked against the backup's manifest. */
export function componentResult(name: DrillComponentName, f: Fields | undefined, now: number): DrillComponent {
  const c = checkComponent(name, f, now);
  const live = liveRestoreOf(f);
  if (live) {
    c.live = live;
    const problem = c.status === "passed" ? preRestoreProblem(scriptOf(name), live) : undefined;
    if (problem) {
      c.status = "failed";
      c.details = problem;
    } else if (c.status === "passed") c.details = `${c.details}; ${liveDetails(name, live)}`;
    else if (c.status === "failed") c.details += liveFailureDetails(live);
  }
  if (c.source === "offsite" && c.status === "passed")
    c.details = `fetched from the off-site copy and verified (${c.fetch_ms ?? "?"} ms); ${c.details}`;
  return c;
}

const scriptOf = (name: DrillComponentName) =>
  name === "media" ? "restore-media.sh" : name === "config" ? "restore-config.sh" : "restore-database.sh";

function checkComponent(name: DrillComponentName, f: Fields | undefined, now: number): DrillComponent {
  const none = one(f, "none");
  const epoch = num(f, "backup_epoch");
  const c: DrillComponent = {
    status: "failed",
    backup: one(f, "backup") ?? null,
    backup_time: epoch !== null ? new Date(epoch * 1000).toISOString() : null,
    rpo_seconds: epoch !== null ? Math.max(0, now - epoch) : null,
    source: one(f, "source") === "offsite" ? "offsite" : "local",
    fetch_ms: num(f, "fetch_ms"),
    rto_ms: num(f, "rto_ms"),
    verify_ms: num(f, "verify_ms"),
    size_bytes: num(f, "size_bytes"),
    manifest: {},
    restored: {},
    details: "",
  };
  if (isDump(name)) {
    const k = one(f, "kind");
    if (k === "daily" || k === "weekly" || k === "monthly") c.kind = k;
  }
  if (none !== undefined && name !== "database" && isDump(name) && !one(f, "backup")) {
    c.status = "none";
    c.details = none;
    return c;
  }
  const fail = (why: string): DrillComponent => ((c.details = why), c);
  const skipped = one(f, "skipped");
  if (skipped !== undefined && !one(f, "backup")) {
    c.status = "skipped";
    c.details = skipped;
    return c;
  }
  const err = one(f, "error");
  if (!f) return fail("no result: the drill script stopped before this component");
  if (err) return fail(err);
  const m = manifestOf(f);
  if (m === undefined) return fail(`no manifest next to ${c.backup}: nothing to verify the restore against`);
  if (m === null) return fail(`the manifest of ${c.backup} is not valid JSON`);
  if (typeof m?.sha256 === "string") c.checksum = `sha256 ${m.sha256}`;
  else if (typeof m?.checksums === "string") c.checksum = `per-file SHA-256 list ${m.checksums}`;
  if (one(f, "restored") !== "ok") return fail("no result: the drill script stopped during this component");

  if (isDump(name)) {
    c.manifest = { tables: Number(m.table_count), rows: Number(m.total_rows) };
    if (typeof m.size_bytes === "number") c.manifest.size_bytes = m.size_bytes;
    const v = one(f, "verified") ?? "";
    const vm = /^(\d+) tables and (\d+) rows match the manifest/.exec(v);
    if (!vm)
      return fail(`restore-database.sh did not verify the restore against the manifest: "${v || "no Verified line"}"`);
    c.restored = { tables: Number(vm[1]), rows: Number(vm[2]) };
    if (c.restored.tables !== c.manifest.tables || c.restored.rows !== c.manifest.rows)
      return fail(
        `restored ${c.restored.tables} tables / ${c.restored.rows} rows, manifest says ${c.manifest.tables} / ${c.manifest.rows}`,
      );
    if (c.size_bytes !== null && c.manifest.size_bytes !== undefined && c.size_bytes !== c.manifest.size_bytes)
      return fail(`dump is ${c.size_bytes} bytes, manifest says ${c.manifest.size_bytes}`);
    c.status = "passed";
    c.details = `checksum verified; ${c.restored.tables} tables and ${c.restored.rows} rows match the manifest (restore-database.sh)${one(f, "dropped") !== undefined ? "; scratch database dropped" : ""}`;
    return c;
  }
  if (name === "media") {
    c.manifest = { files: Number(m.files), bytes: Number(m.bytes) };
    c.size_bytes = c.manifest.bytes ?? null;
    c.restored = { files: num(f, "restored_files") ?? -1, bytes: num(f, "restored_bytes") ?? -1 };
    if (c.restored.files !== c.manifest.files || c.restored.bytes !== c.manifest.bytes)
      return fail(
        `restored ${c.restored.files} files / ${c.restored.bytes} bytes, manifest says ${c.manifest.files} / ${c.manifest.bytes}`,
      );
    const diff = one(f, "diff");
    if (diff !== "identical")
      return fail(`restored files differ from the snapshot (diff -r): ${diff ?? "no diff result"}`);
    c.status = "passed";
    c.details = `${c.restored.files} files, ${c.restored.bytes} bytes match the manifest; diff -r identical to the snapshot`;
    return c;
  }
  // config: the restored files, one by one, are the manifest's file list.
  const listed: string[] = Array.isArray(m.files) ? m.files.map(String).filter((x: string) => !x.endsWith("/")) : [];
  const restored = f.get("restored_file") ?? [];
  c.manifest = { files: listed.length };
  c.restored = { files: restored.length };
  const missing = listed.filter((x) => !restored.includes(x));
  const extra = restored.filter((x) => !listed.includes(x));
  if (missing.length || extra.length)
    return fail(
      `restored files differ from the manifest's list:${missing.length ? ` missing ${missing.join(", ")}` : ""}${extra.length ? ` not in the manifest ${extra.join(", ")}` : ""}`,
    );
  if (listed.length === 0) return fail("the manifest lists no files");
  c.status = "passed";
  c.details = `${restored.length} files restored, each identical to the archive and listed in the manifest`;
  return c;
}

/**
 * The host's drill from the script's output: every component verified, the cleanup confirmed, the
 * tasks for the host's report (a failed task fails the host) and the verdict. `now` (seconds) is the
 * fallback drill time when the script did not say (it normally prints its own clock).
 */
export function verifyDrill(
  r: DrillOutput,
  now = Math.floor(Date.now() / 1000),
  targets: DrillTargets = DEFAULT_TARGETS,
): { drill: DrillHost; tasks: TaskReport[] } {
  const lines = parseDrillLines(r.stdout);
  const d = lines.get("drill");
  const at = num(d, "now") ?? now;
  const cl = lines.get("cleanup");
  const tasks: TaskReport[] = [];
  const mode = one(d, "mode") === "live" ? "live" : "scratch";
  const drill: DrillHost = {
    verdict: "FAILED",
    mode,
    drilled_at: new Date(at * 1000).toISOString(),
    components: {},
    rto_ms_total: null,
    rpo_seconds_max: null,
    scratch_db: one(d, "scratch_db") ?? "",
    workdir: one(d, "workdir") ?? null,
    cleanup: {
      status: one(cl, "status") === "passed" ? "passed" : "failed",
      scratch_db: one(cl, "scratch_db") ?? "not confirmed",
      workdir: one(cl, "workdir") ?? (one(d, "workdir") ? "not confirmed" : "none"),
    },
    stale_removed: num(d, "stale_removed") ?? 0,
    phases: null,
    targets: {
      rto_minutes: targets.rto_minutes,
      rpo_hours: targets.rpo_hours,
      rto_met: null,
      rpo_met: null,
      rto_missed_by_ms: null,
      rpo_missed_by_seconds: null,
    },
  };
  const tail = r.stderr.trim().split("\n").slice(-3).join(" ");
  const error = one(d, "error") ?? (d ? undefined : `the drill script did not run (exit ${r.code}): ${tail}`);
  if (error) {
    drill.error = error;
    if (!cl) drill.cleanup = { status: "passed", scratch_db: "never created", workdir: "none" };
    tasks.push({ name: "drill", status: "failed", message: error });
    return { drill, tasks };
  }
  for (const name of DRILL_COMPONENTS) {
    const c = componentResult(name, lines.get(name), at);
    if (c.status === "failed" && r.code !== 0 && c.details.startsWith("no result"))
      c.details += ` (exit ${r.code}: ${tail})`;
    drill.components[name] = c;
    tasks.push({
      name: `drill ${name}`,
      status: c.status === "failed" ? "failed" : c.status === "skipped" ? "skipped" : "ok",
      message: `${c.status}: ${c.details}`,
    });
  }
  if (mode === "live") {
    drill.verify_command = verifyCommandResult(lines.get("verify_command"));
    tasks.push(verifyCommandTask(drill.verify_command));
  }
  if (!cl) drill.cleanup.status = "failed";
  tasks.push({
    name: "drill cleanup",
    status: drill.cleanup.status === "passed" ? "ok" : "failed",
    message: `scratch database ${drill.cleanup.scratch_db}; temporary folder ${drill.cleanup.workdir}`,
  });
  drill.phases = recoveryPhases(drill.components, drill.verify_command?.duration_ms ?? 0);
  drill.rto_ms_total = drill.phases?.total_ms ?? null;
  const rpos = RECOVERY_COMPONENTS.map((n) => drill.components[n]?.rpo_seconds).filter(
    (x): x is number => x !== null && x !== undefined,
  );
  drill.rpo_seconds_max = rpos.length ? Math.max(...rpos) : null;
  drill.targets = judgeTargets(drill.rto_ms_total, drill.rpo_seconds_max, targets);
  const recoveryFailed = RECOVERY_COMPONENTS.some((n) => drill.components[n]?.status !== "passed");
  tasks.push(targetsTask(drill.targets, drill.rto_ms_total, drill.rpo_seconds_max, recoveryFailed));
  drill.verdict = tasks.some((t) => t.status === "failed") ? "FAILED" : "PASSED";
  return { drill, tasks };
}

export const DEFAULT_TARGETS: DrillTargets = { rto_minutes: 60, rpo_hours: 26 };

/**
 * The recovery's phases from its components (null when one of them has no time); `checkMs`, the
 * time of drill.verify_command after a --live recovery, is part of its verification.
 */
export function recoveryPhases(components: DrillHost["components"], checkMs = 0): DrillPhases | null {
  const cs = RECOVERY_COMPONENTS.map((n) => components[n]);
  if (cs.some((c) => !c || c.rto_ms === null)) return null;
  // A component's rto_ms includes its download (fetch_ms): the phase is the rest.
  const own = (c: DrillComponent | undefined) => (c!.rto_ms ?? 0) - (c!.fetch_ms ?? 0);
  const p = {
    fetch_ms: cs.reduce((a, c) => a + (c!.fetch_ms ?? 0), 0),
    database_ms: own(components.database),
    media_ms: own(components.media),
    config_ms: own(components.config),
    verification_ms: cs.reduce((a, c) => a + (c!.verify_ms ?? 0), 0) + checkMs,
  };
  return { ...p, total_ms: p.fetch_ms + p.database_ms + p.media_ms + p.config_ms + p.verification_ms };
}

/** RTO and RPO against the targets; a target of 0 is missed by anything above 0. */
export function judgeTargets(rtoMs: number | null, rpoSeconds: number | null, t: DrillTargets): DrillTargetResult {
  const rtoLimit = t.rto_minutes * 60_000;
  const rpoLimit = t.rpo_hours * 3600;
  return {
    rto_minutes: t.rto_minutes,
    rpo_hours: t.rpo_hours,
    rto_met: rtoMs === null ? null : rtoMs <= rtoLimit,
    rpo_met: rpoSeconds === null ? null : rpoSeconds <= rpoLimit,
    rto_missed_by_ms: rtoMs === null ? null : Math.max(0, rtoMs - rtoLimit),
    rpo_missed_by_seconds: rpoSeconds === null ? null : Math.max(0, rpoSeconds - rpoLimit),
  };
}

/** The targets' task: failed when a target was missed (by how much) or could not be measured. */
export function targetsTask(
  t: DrillTargetResult,
  rtoMs: number | null,
  rpoSeconds: number | null,
  recoveryFailed = false,
): TaskReport {
  const rto =
    rtoMs === null
      ? `RTO not measured (a recovery component has no time), target ${t.rto_minutes} min`
      : t.rto_met
        ? `RTO ${formatMs(rtoMs)} within the target of ${t.rto_minutes} min`
        : `RTO target missed: the recovery took ${formatMs(rtoMs)}, target ${t.rto_minutes} min, missed by ${formatMs(t.rto_missed_by_ms)}`;
  const rpo =
    rpoSeconds === null
      ? `RPO not measured (a recovery component has no backup time), target ${t.rpo_hours} h`
      : t.rpo_met
        ? `RPO ${formatAge(rpoSeconds)} within the target of ${t.rpo_hours} h`
        : `RPO target missed: the oldest backup restored was ${formatAge(rpoSeconds)} old, target ${t.rpo_hours} h, missed by ${formatAge(t.rpo_missed_by_seconds)}`;
  const missed = t.rto_met === false || t.rpo_met === false;
  // Not measured because a restore failed: that failure fails the host already.
  const status = t.rto_met && t.rpo_met ? "ok" : !missed && recoveryFailed ? "skipped" : "failed";
  return { name: "drill targets", status, message: `${rto}; ${rpo}` };
}
