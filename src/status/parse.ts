// A host's backup status, pure: the status script's `STATUS|field|value` lines (check-backups'
// exit code, its status JSON base64-encoded, the newest dump) → overall status, checks and issues.
// Anything that is not a fresh, valid status file is UNKNOWN with the reason as a CRITICAL issue.
// Tested on recorded outputs (test/status/cases/).

export const OVERALL = ["OK", "WARNING", "CRITICAL", "UNKNOWN"] as const;
export type Overall = (typeof OVERALL)[number];
export const CHECKS = [
  "database",
  "database_weekly",
  "database_monthly",
  "media",
  "config",
  "disk_space",
  "offsite",
] as const;

export interface BackupIssue {
  level: string;
  check: string;
  message: string;
}

/** The off-site copy as check-backups recorded it (from the uploads' state, no bucket access). */
export interface OffsiteStatus {
  enabled: boolean;
  /** The worst kind's status (checks.offsite). */
  status: string;
  /**
   * The oldest of the daily kinds' (database, config, media) newest off-site copies: how far behind
   * the off-site leg is (weekly and monthly copies are old by nature; their status still counts).
   */
  age_seconds: number | null;
  kinds: Record<
    string,
    { status: string; newest: string; age_hours: number | null; age_seconds: number | null; last_error: string }
  >;
}

export interface BackupStatus {
  overall_status: Overall;
  /** When check-backups wrote the status (its `timestamp`). */
  checked_at: string | null;
  /** check-backups' exit code (0 OK, 1 warnings, 2 critical; others: it could not run). */
  check_exit: number | null;
  checks: Record<string, string>;
  critical_issues: number;
  warnings: number;
  disk_used_percent: number | null;
  issues: BackupIssue[];
  newest_dump: { file: string; kind: "daily" | "weekly"; age_seconds: number; bytes: number } | null;
  /** null when check-backups wrote no off-site section (an older version). */
  offsite: OffsiteStatus | null;
}

function unknown(message: string, partial: Partial<BackupStatus> = {}): BackupStatus {
  return {
    overall_status: "UNKNOWN",
    checked_at: null,
    check_exit: null,
    checks: {},
    critical_issues: 0,
    warnings: 0,
    disk_used_percent: null,
    newest_dump: null,
    offsite: null,
    ...partial,
    issues: [...(partial.issues ?? []), { level: "CRITICAL", check: "status", message }],
  };
}

/** The host's backup status from the status script's `STATUS|field|value` lines. */
export function parseStatus(stdout: string): BackupStatus {
  const f = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const m = /^STATUS\|([a-z_]+)\|(.*)$/.exec(line);
    if (m) f.set(m[1]!, m[2]!);
  }
  if (f.has("error")) return unknown(f.get("error")!);
  const now = Number(f.get("now")) || Math.floor(Date.now() / 1000);
  const exit = f.has("check_exit") ? Number(f.get("check_exit")) : null;
  const dump = f.get("newest_dump");
  const newest_dump: BackupStatus["newest_dump"] = dump
    ? {
        file: dump,
        kind: f.get("newest_dump_kind") === "weekly" ? "weekly" : "daily",
        age_seconds: Math.max(0, now - (Number(f.get("newest_dump_time")) || now)),
        bytes: Number(f.get("newest_dump_bytes")) || 0,
      }
    : null;
  const base = { check_exit: exit, newest_dump };
  const why =
    exit !== null && ![0, 1, 2].includes(exit)
      ? ` (check-backups exit ${exit}${f.get("check_output") ? `: ${f.get("check_output")}` : ""})`
      : exit !== null
        ? ` (check-backups exit ${exit})`
        : "";
  if (!f.has("status_json"))
    return unknown(`no status file ${f.get("status_missing") ?? ""} was written${why}`.replace("  ", " "), base);
  // A status file older than this run is somebody else's: the check did not get to write one.
  if (Number(f.get("status_mtime")) < Number(f.get("started")))
    return unknown(`check-backups did not write a new status file${why}; the one there is older`, base);
  let json: any;
  try {
    json = JSON.parse(Buffer.from(f.get("status_json")!, "base64").toString("utf8"));
  } catch (e) {
    return unknown(`the status file is not valid JSON: ${(e as Error).message}`, base);
  }
  const overall: Overall = (OVERALL as readonly string[]).includes(json?.overall_status)
    ? json.overall_status
    : "UNKNOWN";
  const issues: BackupIssue[] = Array.isArray(json?.issues)
    ? json.issues.map((i: any) => ({
        level: String(i?.level ?? ""),
        check: String(i?.check ?? ""),
        message: String(i?.message ?? ""),
      }))
    : [];
  const status: BackupStatus = {
    overall_status: overall,
    checked_at: typeof json?.timestamp === "string" ? json.timestamp : null,
    check_exit: exit,
    checks:
      typeof json?.checks === "object" && json.checks
        ? Object.fromEntries(Object.entries(json.checks).map(([k, v]) => [k, String(v)]))
        : {},
    critical_issues: Number(json?.critical_issues) || 0,
    warnings: Number(json?.warnings) || 0,
    disk_used_percent: typeof json?.disk_used_percent === "number" ? json.disk_used_percent : null,
    issues,
    newest_dump,
    offsite: offsiteOf(json),
  };
  if (overall === "UNKNOWN")
    status.issues.push({
      level: "CRITICAL",
      check: "status",
      message: `unexpected overall_status ${JSON.stringify(json?.overall_status)}`,
    });
  return status;
}

/** The status JSON's `offsite` section, or null when there is none. */
export function offsiteOf(json: any): OffsiteStatus | null {
  const o = json?.offsite;
  if (typeof o !== "object" || o === null) return null;
  if (o.enabled !== true) return { enabled: false, status: "OK", age_seconds: null, kinds: {} };
  const kinds: OffsiteStatus["kinds"] = {};
  for (const [k, v] of Object.entries<any>(typeof o.kinds === "object" && o.kinds ? o.kinds : {}))
    kinds[k] = {
      status: String(v?.status ?? "UNKNOWN"),
      newest: String(v?.newest ?? ""),
      age_hours: typeof v?.age_hours === "number" ? v.age_hours : null,
      age_seconds:
        typeof v?.age_seconds === "number"
          ? v.age_seconds
          : typeof v?.age_hours === "number"
            ? v.age_hours * 3600
            : null,
      last_error: String(v?.last_error ?? ""),
    };
  const ages = Object.entries(kinds)
    .filter(([k]) => k !== "weekly" && k !== "monthly")
    .map(([, k]) => k.age_seconds);
  return {
    enabled: true,
    status: String(json?.checks?.offsite ?? "UNKNOWN"),
    age_seconds: ages.length && ages.every((a) => a !== null) ? Math.max(...(ages as number[])) : null,
    kinds,
  };
}

/** The script's result: parsed, plus why the script itself failed when it left no usable status. */
export function statusResult(r: { stdout: string; stderr: string; code: number }): BackupStatus {
  const s = parseStatus(r.stdout);
  if (r.code !== 0 && s.overall_status === "UNKNOWN")
    s.issues.push({
      level: "CRITICAL",
      check: "status",
      message: `status script exit ${r.code}: ${r.stderr.trim().split("\n").slice(-3).join(" ")}`,
    });
  return s;
}

/** A status that fails the host: CRITICAL, or UNKNOWN (no fresh, valid status). WARNING does not. */
export const failsHost = (s: BackupStatus): boolean =>
  s.overall_status === "CRITICAL" || s.overall_status === "UNKNOWN";
