// The backups command's output, pure: one table per host of its restore points (kind, name, time,
// age, size, checksum verified now, encrypted, where: local, off-site or both, the manifest's
// headline), what the bucket's listing said, and the last line.
import type { HostReport, RunReport } from "../run/report.ts";
import { formatAge, formatBytes, textTable } from "../format.ts";
import type { BackupKind } from "../cli/options.ts";
import type { PointsListing, RestorePoint } from "./parse.ts";

export interface BackupsHostReport extends HostReport {
  backups?: PointsListing & { counts: Record<BackupKind, number> };
  /** Why the bucket was not listed for --offsite (the host has no off-site copy). */
  offsite_note?: string;
}

/** The manifest's headline in words: "14 tables, 1234 rows" or "12 files, 3.4 MiB". */
export function headline(p: RestorePoint): string {
  const m = p.manifest;
  if (!m) return "-";
  if (m.tables !== undefined) return `${m.tables} tables, ${m.rows ?? "?"} rows`;
  if (m.files !== undefined) return `${m.files} files${m.bytes !== undefined ? `, ${formatBytes(m.bytes)}` : ""}`;
  return "-";
}

const WHERE_WORDS: Record<RestorePoint["where"], string> = { local: "local", offsite: "off-site", both: "both" };

export function pointsTable(points: readonly RestorePoint[]): string {
  const rows = [["KIND", "NAME", "TIME (UTC)", "AGE", "SIZE", "CHECKSUM", "ENCRYPTED", "WHERE", "MANIFEST"]];
  for (const p of points)
    rows.push([
      p.kind,
      p.name,
      p.time.replace(/\.\d{3}Z$/, "Z"),
      formatAge(p.age_seconds),
      formatBytes(p.bytes),
      p.checksum,
      p.encrypted ? "yes" : "no",
      WHERE_WORDS[p.where],
      headline(p),
    ]);
  return textTable(rows);
}

/** One section per host: its name and counts, then its table (or why there is none). */
export function backupsText(hosts: readonly BackupsHostReport[]): string {
  const parts: string[] = [];
  for (const h of hosts) {
    const b = h.backups;
    if (!b) {
      parts.push(`${h.name}: ${h.status.toUpperCase()}${h.error ? `: ${h.error.split("\n")[0]}` : ""}`);
      continue;
    }
    const counts = Object.entries(b.counts)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${n} ${k}`)
      .join(", ");
    const bad = b.points.filter((p) => p.checksum === "no" || p.checksum === "missing").length;
    const head = `${h.name}: ${b.points.length} restore points${counts ? ` (${counts})` : ""}${bad ? `, ${bad} failing or incomplete` : ""} in ${b.backup_dir ?? "?"}`;
    parts.push(b.error ? `${h.name}: ${b.error}` : b.points.length ? `${head}\n${pointsTable(b.points)}` : `${head}`);
    if (b.offsite?.listed) {
      const there = b.points.filter((p) => p.where !== "local").length;
      const only = b.points.filter((p) => p.where === "offsite").length;
      parts.push(`  off-site: ${there} in the bucket${only ? ` (${only} only there)` : ""}`);
    }
    if (h.offsite_note) parts.push(`  off-site: ${h.offsite_note}`);
    for (const t of h.tasks.filter((t) => t.status === "failed")) parts.push(`  FAILED: ${t.message}`);
    for (const u of b.unparsed) parts.push(`  (not understood: ${u})`);
  }
  return parts.join("\n\n");
}

export function backupsSummaryLine(report: RunReport<BackupsHostReport>): string {
  const n = report.hosts.reduce((a, h) => a + (h.backups?.points.length ?? 0), 0);
  const s = report.summary;
  return `${s.hosts} hosts, ${n} restore points: ${s.ok} listed, ${s.failed} failed, ${s.unreachable} unreachable in ${(report.duration_ms / 1000).toFixed(2)}s`;
}
