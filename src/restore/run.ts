// The restore's remote scripts (plan facts, the run, an audit line alone) and the run's result,
// pure: `RUN|field|value` lines → exit code, RTO, the script's report, its status and rollback line.
import { hostname, userInfo } from "node:os";
import type { Host } from "../inventory/types.ts";
import type { Component } from "../cli/options.ts";
import { jobScript } from "../render/remote.ts";
import type { RestorePlan, RestoreTarget } from "./plan.ts";

export const auditLogPath = (host: Host) => `${host.vars.paths.log_dir}/restore-audit.log`;

/** The plan's facts; with the host's off-site copy on, its bucket is listed too (fallbacks, --from offsite). */
export function planScript(host: Host, component: Component, target: RestoreTarget): string {
  return jobScript(
    "restore-plan.sh",
    host.vars,
    {
      COMPONENT: component,
      TARGET_DB: target.database ?? "",
      TARGET: target.folder ?? "",
      OFFSITE: host.vars.offsite.enabled ? "1" : "0",
    },
    ["remote/points.sh"],
  );
}

/** The control machine's side of an audit line: who, from where, when, what (never a secret). */
export interface AuditFields {
  who: string;
  control_host: string;
  when: string;
  host: string;
  environment: string;
  component: Component;
  backup: string | null;
  backup_time: string | null;
  /** Where the plan reads the backup from; the run's line says where it was read from in the end. */
  from: "local" | "offsite";
  target: string | null;
  forced: boolean;
}

export function auditFields(
  host: Host,
  component: Component,
  plan: RestorePlan | null,
  target: RestoreTarget,
  forced: boolean,
  now = new Date(),
): AuditFields {
  return {
    who: userInfo().username,
    control_host: hostname(),
    when: now.toISOString(),
    host: host.name,
    environment: host.vars.environment,
    component,
    backup: plan?.backup.name ?? null,
    backup_time: plan?.backup.time ?? null,
    from: plan?.source.from ?? "local",
    target: target.database ?? target.folder ?? null,
    forced,
  };
}

/** A whole audit line (an attempt that ended before a restore script ran). */
export const auditLine = (a: AuditFields, result: string, reason: string): string =>
  JSON.stringify({ ...a, result, reason, duration_ms: 0 });

/**
 * The audit line's first fields, which restore-run.sh completes with where the backup was read
 * from in the end (`from`, and `fallback`: why the local copy was not used), the result, exit code
 * and duration.
 */
export const auditHead = ({ from: _planned, ...a }: AuditFields): string => JSON.stringify(a).replace(/\}$/, ",");

export function auditScript(host: Host, line: string): string {
  return jobScript("restore-audit.sh", host.vars, { AUDIT_LOG: auditLogPath(host), AUDIT_LINE: line }, [
    "remote/audit.sh",
  ]);
}

export function runScript(host: Host, plan: RestorePlan, head: string): string {
  return jobScript(
    "restore-run.sh",
    host.vars,
    {
      COMPONENT: plan.component,
      BACKUP_PATH: plan.backup.path,
      BACKUP_KIND: plan.backup.kind,
      BACKUP_NAME: plan.backup.name,
      FROM: plan.source.from,
      FALLBACK: plan.source.fallback ? "1" : "0",
      TARGET_DB: plan.target.database ?? "",
      TARGET: plan.target.given_folder,
      AUDIT_LOG: auditLogPath(host),
      AUDIT_HEAD: head,
      // An encrypted dump or config archive (.age) needs the identity, and so may a media snapshot
      // rebuilt from the bucket (its objects are encrypted there): on the SSH stdin for this run
      // only, handed to the installed scripts on a pipe (common.sh with_identity), as the drill does.
      AGE_IDENTITY:
        host.vars.encryption.recipients.length > 0 &&
        (plan.backup.name.endsWith(".age") ||
          (plan.component === "media" && (plan.source.from === "offsite" || plan.source.fallback)))
          ? (host.vars.encryption.identity ?? "")
          : "",
    },
    ["remote/points.sh", "remote/audit.sh"],
  );
}

export interface RunResult {
  exit_code: number | null;
  rto_ms: number | null;
  started_at: string | null;
  /** The restore script's report (its stdout). */
  report: string;
  /** The last lines of its log (stderr). */
  log: string;
  /** "SUCCESS" or "FAILED (exit n): why", from the report's Status line. */
  status: string | null;
  /** The report's Rollback line (failures): what was put back. */
  rollback: string | null;
  pre_restore: string | null;
  /** Where the backup was read from in the end; `fallback`: the local copy was not used, and why. */
  source: "local" | "offsite" | null;
  fallback: string | null;
  /** The fetched copy (from the off-site copy), the time the fetch took, and the work folder's fate. */
  fetched: string | null;
  fetch_ms: number | null;
  workdir: string | null;
  /** The restore script ran (false: nothing was changed, e.g. the fetch failed). */
  ran: boolean;
  audit: { written: boolean; error: string | null };
  error: string | null;
}

const b64 = (s: string | undefined) => (s ? Buffer.from(s, "base64").toString("utf8") : "");

/** RUN| and AUDIT| lines → the run's result. */
export function parseRun(stdout: string): RunResult {
  const f = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const m = /^(RUN|AUDIT)\|([a-z_0-9]+)\|(.*)$/.exec(line);
    if (m) f.set(`${m[1]}.${m[2]}`, m[3]!);
  }
  const n = (k: string) => (/^\d+$/.test(f.get(k) ?? "") ? Number(f.get(k)) : null);
  const report = b64(f.get("RUN.report_b64"));
  const field = (name: string) => new RegExp(`^${name}: (.*)$`, "m").exec(report)?.[1] ?? null;
  const pre = field("Pre-Restore Backup");
  return {
    exit_code: n("RUN.exit"),
    rto_ms: n("RUN.rto_ms"),
    started_at: f.get("RUN.started_at") ?? null,
    report,
    log: b64(f.get("RUN.log_b64")),
    status: field("Status"),
    rollback: field("Rollback"),
    pre_restore: pre && pre.startsWith("/") ? pre.split(" ")[0]! : null,
    source: f.get("RUN.source") === "offsite" ? "offsite" : f.get("RUN.source") === "local" ? "local" : null,
    fallback: f.get("RUN.fallback") ?? null,
    fetched: f.get("RUN.fetched") ?? null,
    fetch_ms: n("RUN.fetch_ms"),
    workdir: f.get("RUN.workdir_cleanup") ?? null,
    ran: f.get("RUN.ran") === "1",
    audit: { written: f.get("AUDIT.written") === "1", error: f.get("AUDIT.error") ?? null },
    error: f.get("RUN.error") ?? null,
  };
}

/** The last words of a failed restore: its Status line, else the last error in its log. */
export function failureReason(r: RunResult): string {
  if (r.error) return r.error;
  if (r.status && r.status !== "SUCCESS") return r.status;
  const err = r.log
    .split("\n")
    .filter((l) => /\[(ERROR|CRITICAL)\]/.test(l))
    .pop();
  return (err ?? r.log.trim().split("\n").pop() ?? "no output").replace(/^\S+ \[[A-Z]+\] \[[a-z-]+\] /, "");
}
