// Status knows drills, pure: each host's last restore drill from the inventory's drill reports
// (reports/drills/<inventory>/*.json, or --report-dir): its verdict and age. The spec's drills are
// quarterly: a last drill older than 92 days, a failed one or none at all is a WARNING.
import { formatAge, textTable } from "../format.ts";
import type { DrillHistoryEntry } from "../drill/html.ts";
import type { DrillRunReport } from "../drill/report.ts";

export const DRILL_MAX_AGE_DAYS = 92;

export interface DrillStatus {
  status: "OK" | "WARNING";
  /** The host's verdict in its last drill (PASSED, FAILED); null when never drilled. */
  verdict: "PASSED" | "FAILED" | null;
  drilled_at: string | null;
  age_seconds: number | null;
  /** The report file (in the folder) of that drill. */
  report: string | null;
  message: string;
}

type DrilledHost = DrillRunReport["hosts"][number];

/**
 * The hosts of a report that drilled `host`: itself, or, in a drill of another inventory with
 * --source naming `inventory` (staging restoring production's copy), the hosts that restored
 * `host`'s backups (drill.source.inventory_name and hosts[].source.host).
 */
function drillsOf(r: DrillRunReport, host: string, inventory: string | undefined): DrilledHost[] {
  const src = r.drill?.source;
  if (inventory !== undefined && src?.inventory_name === inventory && r.drill.inventory_name !== inventory)
    return r.hosts.filter((x) => x.source?.host === host);
  return r.hosts.filter((x) => x.name === host);
}

/**
 * The host's last drill among the reports (unreachable in a drill is no drill); `now` in ms. With
 * `inventory` (the status run's inventory name), drills of other inventories that restored this
 * host's backups with --source count too: passed when every host that restored it passed.
 */
export function hostDrillStatus(
  host: string,
  entries: readonly DrillHistoryEntry[],
  now: number,
  inventory?: string,
): DrillStatus {
  let last: { at: number; started: string; file: string; passed: boolean } | null = null;
  for (const e of entries) {
    const r = e.report;
    const hs = r
      ? drillsOf(r, host, inventory).filter((h) => h.status !== "unreachable" && h.status !== "skipped")
      : [];
    if (!r || !hs.length) continue;
    const at = Date.parse(r.started_at);
    if (!Number.isFinite(at) || (last && at <= last.at)) continue;
    const passed = hs.every((h) => h.status === "ok" && h.drill?.verdict === "PASSED");
    last = { at, started: r.started_at, file: e.file, passed };
  }
  if (!last)
    return {
      status: "WARNING",
      verdict: null,
      drilled_at: null,
      age_seconds: null,
      report: null,
      message: `never drilled: no drill report for ${host} (npm run drill)`,
    };
  const age = Math.max(0, Math.round((now - last.at) / 1000));
  const old = age > DRILL_MAX_AGE_DAYS * 86400;
  const verdict = last.passed ? "PASSED" : "FAILED";
  const why = [
    old ? `the last drill is ${formatAge(age)} old (older than ${DRILL_MAX_AGE_DAYS} days)` : "",
    last.passed ? "" : `the last drill FAILED (${last.file})`,
  ].filter(Boolean);
  return {
    status: why.length ? "WARNING" : "OK",
    verdict,
    drilled_at: last.started,
    age_seconds: age,
    report: last.file,
    message: why.length ? why.join("; ") : `last drill ${verdict} ${formatAge(age)} ago`,
  };
}

/** The drills section under the status table: one line per host. */
export function drillStatusTable(rows: readonly { name: string; drill?: DrillStatus }[], folder: string): string {
  const t: string[][] = [["HOST", "LAST DRILL", "VERDICT", "AGE", "STATUS", "NOTE"]];
  for (const r of rows) {
    const d = r.drill;
    if (!d) continue;
    t.push([
      r.name,
      d.drilled_at ?? "never",
      d.verdict ?? "-",
      d.age_seconds === null ? "-" : formatAge(d.age_seconds),
      d.status,
      d.status === "OK" ? "-" : d.message,
    ]);
  }
  return `Drills (${folder}):\n${textTable(t)}`;
}
