// The status command's output, pure: one table across the fleet (one row per host, every issue
// listed under it when a host has more than one), the `backup_summary` counts and their line.
import type { HostReport, RunReport } from "../run/report.ts";
import { formatAge, textTable } from "../format.ts";
import type { BackupStatus, Overall } from "./parse.ts";
import type { DrillStatus } from "./drills.ts";

export interface StatusHostReport extends HostReport {
  backup_status?: BackupStatus;
  /** The host's last restore drill (from the inventory's drill reports). */
  drill_status?: DrillStatus;
}

export type BackupSummary = Record<Overall | "unreachable", number>;

export type StatusRunReport = RunReport<StatusHostReport> & { backup_summary: BackupSummary };

export function statusTable(hosts: StatusHostReport[]): string {
  const rows = [
    [
      "HOST",
      "OVERALL",
      "DATABASE",
      "WEEKLY",
      "MEDIA",
      "CONFIG",
      "DISK",
      "NEWEST DUMP",
      "DISK USED",
      "OFFSITE",
      "ISSUES",
    ],
  ];
  const notes: string[] = [];
  for (const h of hosts) {
    const s = h.backup_status;
    if (!s) {
      const what = h.status === "unreachable" ? "UNREACHABLE" : h.status === "skipped" ? "SKIPPED" : "UNKNOWN";
      rows.push([h.name, what, "-", "-", "-", "-", "-", "-", "-", "-", (h.error ?? "").split("\n")[0]!]);
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
      offsiteCell(s),
      first ? `${count}: ${first.check}: ${first.message}${s.issues.length > 1 ? " (+more below)" : ""}` : "-",
    ]);
    if (s.issues.length > 1) for (const i of s.issues) notes.push(`  ${h.name}: ${i.level} ${i.check}: ${i.message}`);
  }
  return textTable(rows) + (notes.length ? `\n\nIssues:\n${notes.join("\n")}` : "");
}

/** The off-site column: the age of the oldest of the newest off-site copies, and its status. */
export function offsiteCell(s: BackupStatus): string {
  const o = s.offsite;
  if (!o) return "-";
  if (!o.enabled) return "off";
  return `${o.age_seconds === null ? "none" : formatAge(o.age_seconds)} (${o.status})`;
}

/** Hosts by overall status; a reached host without a known status (a failed run) counts as UNKNOWN. */
export function backupSummary(hosts: StatusHostReport[]): BackupSummary {
  const count = (o: Overall) => hosts.filter((r) => r.backup_status?.overall_status === o).length;
  const known = ["OK", "WARNING", "CRITICAL"];
  return {
    OK: count("OK"),
    WARNING: count("WARNING"),
    CRITICAL: count("CRITICAL"),
    UNKNOWN: hosts.filter((r) => r.status !== "unreachable" && !known.includes(r.backup_status?.overall_status ?? ""))
      .length,
    unreachable: hosts.filter((r) => r.status === "unreachable").length,
  };
}

export function summaryLine(report: StatusRunReport): string {
  const b = report.backup_summary;
  return `${report.hosts.length} hosts: ${b.OK} OK, ${b.WARNING} WARNING, ${b.CRITICAL} CRITICAL, ${b.UNKNOWN} UNKNOWN, ${b.unreachable} unreachable in ${(report.duration_ms / 1000).toFixed(2)}s`;
}
