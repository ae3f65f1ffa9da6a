// The status job (`npm run status -- <inventory>`): on every selected host, in one remote command,
// run the installed check-backups.sh --no-alert as the backup user and read the status JSON it
// wrote; print one table across the fleet; --json report with a `backup_status` per host.
//
// Exit codes (the Ansible ones of the contract): 0 every host OK or WARNING; 2 a host is CRITICAL,
// UNKNOWN (the check could not run or left no fresh status) or failed; 4 unreachable hosts and no
// failure; 1 bad input. A WARNING (e.g. a backup past its max age but within twice it, disk above
// the warning level) is shown in the table and counted in the report but does not fail the run:
// the backups are there and restorable, and check-backups itself already alerts on warnings.
import type { CommonOptions } from "../cli/options.ts";
import type { Connection } from "../connection/types.ts";
import type { Host } from "../inventory/types.ts";
import { loadInventory } from "../inventory/load.ts";
import { parseExtraVars } from "../inventory/vars.ts";
import { selectHosts } from "../inventory/limit.ts";
import { jobScript } from "../render/remote.ts";
import { maskSecrets } from "../operations/mask.ts";
import { runHosts, type BatchRunner } from "./runner.ts";
import { pool } from "../pool.ts";
import { formatAge, textTable } from "../format.ts";
import { addTask, newHostReport, runReport, writeJsonReport, type HostReport, type RunReport } from "./report.ts";
import { hostConnector, onHost } from "./connect.ts";

export const OVERALL = ["OK", "WARNING", "CRITICAL", "UNKNOWN"] as const;
export type Overall = (typeof OVERALL)[number];
export const CHECKS = ["database", "database_weekly", "media", "config", "disk_space"] as const;

export interface BackupIssue {
  level: string;
  check: string;
  message: string;
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
}

export interface StatusHostReport extends HostReport {
  backup_status?: BackupStatus;
}

export interface StatusRunReport extends Omit<RunReport, "hosts"> {
  hosts: StatusHostReport[];
  backup_summary: Record<Overall | "unreachable", number>;
}

export function statusScript(host: Host): string {
  return jobScript("status.sh", host.vars);
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
  };
  if (overall === "UNKNOWN")
    status.issues.push({
      level: "CRITICAL",
      check: "status",
      message: `unexpected overall_status ${JSON.stringify(json?.overall_status)}`,
    });
  return status;
}

export async function statusHost(
  conn: Connection,
  host: Host,
  report: StatusHostReport,
  secrets: readonly string[],
): Promise<void> {
  const r = await conn.exec(statusScript(host));
  const s = parseStatus(r.stdout);
  if (r.code !== 0 && s.overall_status === "UNKNOWN")
    s.issues.push({
      level: "CRITICAL",
      check: "status",
      message: `status script exit ${r.code}: ${r.stderr.trim().split("\n").slice(-3).join(" ")}`,
    });
  for (const i of s.issues) i.message = maskSecrets(i.message, [...secrets]);
  report.backup_status = s;
  const bad = s.overall_status === "CRITICAL" || s.overall_status === "UNKNOWN";
  const detail = s.issues.map((i) => `${i.level} ${i.check}: ${i.message}`).join("; ");
  addTask(report, {
    name: "check-backups",
    status: bad ? "failed" : "ok",
    message: `${s.overall_status}${detail ? `: ${detail}` : ""}`,
  });
}

// ---- the table ---------------------------------------------------------------------------------

export function statusTable(hosts: StatusHostReport[]): string {
  const rows = [
    ["HOST", "OVERALL", "DATABASE", "WEEKLY", "MEDIA", "CONFIG", "DISK", "NEWEST DUMP", "DISK USED", "ISSUES"],
  ];
  const notes: string[] = [];
  for (const h of hosts) {
    const s = h.backup_status;
    if (!s) {
      const what = h.status === "unreachable" ? "UNREACHABLE" : h.status === "skipped" ? "SKIPPED" : "UNKNOWN";
      rows.push([h.name, what, "-", "-", "-", "-", "-", "-", "-", (h.error ?? "").split("\n")[0]!]);
      continue;
    }
    const c = (k: string) => s.checks[k] ?? "-";
    const crit = s.issues.filter((i) => i.level === "CRITICAL").length;
    const warn = s.issues.length - crit;
    const count = [crit ? `${crit} critical` : "", warn ? `${warn} warning${warn > 1 ? "s" : ""}` : ""]
      .filter(Boolean)
      .join(", ");
    const first = s.issues[0];
    rows.push([
      h.name,
      s.overall_status,
      c("database"),
      c("database_weekly"),
      c("media"),
      c("config"),
      c("disk_space"),
      s.newest_dump ? `${formatAge(s.newest_dump.age_seconds)} (${s.newest_dump.kind})` : "none",
      s.disk_used_percent === null ? "-" : `${s.disk_used_percent}%`,
      first ? `${count}: ${first.check}: ${first.message}${s.issues.length > 1 ? " (+more below)" : ""}` : "-",
    ]);
    if (s.issues.length > 1) for (const i of s.issues) notes.push(`  ${h.name}: ${i.level} ${i.check}: ${i.message}`);
  }
  return textTable(rows) + (notes.length ? `\n\nIssues:\n${notes.join("\n")}` : "");
}

// ---- the job -----------------------------------------------------------------------------------

export interface StatusDeps {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  out?: (line: string) => void;
  /** How a batch of hosts is run (a progress display); default: quietly, --forks at once. */
  runBatch?: BatchRunner;
}

export async function status(opts: CommonOptions, deps: StatusDeps): Promise<StatusRunReport> {
  const started = Date.now();
  const out = deps.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const inv = await loadInventory(opts.inventory, {
    cwd: deps.cwd,
    extraVars: parseExtraVars(opts.extraVars, deps.cwd),
    env: deps.env,
  });
  const hosts = selectHosts(inv, opts.limit);
  const connector = hostConnector(inv, opts);
  const reports = (await runHosts(
    hosts,
    opts,
    (h) =>
      onHost(h, connector, inv.secrets, newHostReport(h.name) as StatusHostReport, (conn, r) =>
        statusHost(conn, h, r, inv.secrets),
      ),
    deps.runBatch ?? ((b, f, w) => pool(b, f, w)),
  )) as StatusHostReport[];
  const count = (o: Overall) => reports.filter((r) => r.backup_status?.overall_status === o).length;
  const report: StatusRunReport = {
    ...runReport("status", inv, started, reports),
    backup_summary: {
      OK: count("OK"),
      WARNING: count("WARNING"),
      CRITICAL: count("CRITICAL"),
      UNKNOWN: reports.filter(
        (r) =>
          r.status !== "unreachable" &&
          r.backup_status?.overall_status !== "OK" &&
          r.backup_status?.overall_status !== "WARNING" &&
          r.backup_status?.overall_status !== "CRITICAL",
      ).length,
      unreachable: reports.filter((r) => r.status === "unreachable").length,
    },
  };
  out(maskSecrets(statusTable(reports), inv.secrets));
  const b = report.backup_summary;
  out(
    `\n${reports.length} hosts: ${b.OK} OK, ${b.WARNING} WARNING, ${b.CRITICAL} CRITICAL, ${b.UNKNOWN} UNKNOWN, ${b.unreachable} unreachable in ${(report.duration_ms / 1000).toFixed(2)}s`,
  );
  if (opts.json) writeJsonReport(opts.json, report, inv.secrets);
  return report;
}
