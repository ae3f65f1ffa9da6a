// The drill's report, pure: the run's `drill` section (verdict, worst RPO and RTO), the Markdown
// file and the console table, from the host reports. Secrets are masked by whoever writes them.
import { basename } from "node:path";
import type { HostReport, RunReport } from "../run/report.ts";
import { formatAge, formatBytes, formatMs, textTable } from "../format.ts";
import { DRILL_COMPONENTS, type DrillComponent, type DrillHost } from "./verify.ts";
import { sourceHeadRows, sourceMarkdown, type DrillSourceHostReport, type DrillSourceSection } from "./source.ts";

export interface DrillHostReport extends HostReport {
  drill?: DrillHost;
  /** With --source: the source host this host restored, from where, and its credentials' removal. */
  source?: DrillSourceHostReport;
}

export interface DrillSection {
  inventory_name: string;
  /** scratch (the default), or live: the recovery restored over each host's live data (--live). */
  mode: "scratch" | "live";
  verdict: "PASSED" | "FAILED" | "INCOMPLETE";
  hosts_passed: number;
  worst_rpo: { host: string; component: string; seconds: number } | null;
  worst_rto: { host: string; ms: number } | null;
  report_files: { markdown: string; json: string } | null;
  /** With --source: the inventory whose off-site copy was restored (its hosts never contacted). */
  source?: DrillSourceSection;
}

export type DrillRunReport = RunReport<DrillHostReport> & { drill: DrillSection };

/** The run's verdict: FAILED when a host failed (or was skipped), INCOMPLETE when one was unreachable. */
export function drillSection(
  report: RunReport<DrillHostReport>,
  inventoryName: string,
  mode: DrillSection["mode"] = "scratch",
): DrillSection {
  let worstRpo: DrillSection["worst_rpo"] = null;
  let worstRto: DrillSection["worst_rto"] = null;
  for (const h of report.hosts) {
    for (const [component, c] of Object.entries(h.drill?.components ?? {})) {
      if (c.rpo_seconds !== null && (!worstRpo || c.rpo_seconds > worstRpo.seconds))
        worstRpo = { host: h.name, component, seconds: c.rpo_seconds };
    }
    const t = h.drill?.rto_ms_total;
    if (t !== null && t !== undefined && (!worstRto || t > worstRto.ms)) worstRto = { host: h.name, ms: t };
  }
  const s = report.summary;
  return {
    inventory_name: inventoryName,
    mode,
    verdict: s.failed > 0 || s.skipped > 0 ? "FAILED" : s.unreachable > 0 ? "INCOMPLETE" : "PASSED",
    hosts_passed: report.hosts.filter((h) => h.status === "ok" && h.drill?.verdict === "PASSED").length,
    worst_rpo: worstRpo,
    worst_rto: worstRto,
    report_files: null,
  };
}

function restoredText(name: string, c: DrillComponent): string {
  if (name === "database" && c.restored.tables !== undefined)
    return `${c.restored.tables} tables, ${c.restored.rows} rows (manifest ${c.manifest.tables} / ${c.manifest.rows})`;
  if (name === "media" && c.restored.files !== undefined)
    return `${c.restored.files} files, ${formatBytes(c.restored.bytes ?? null)} (manifest ${c.manifest.files} / ${formatBytes(c.manifest.bytes ?? null)})`;
  if (name === "config" && c.restored.files !== undefined)
    return `${c.restored.files} files (manifest ${c.manifest.files})`;
  return "-";
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
const result = (status: DrillComponent["status"] | "failed", failed = "**FAILED**") =>
  status === "passed" || status === "none" || status === "skipped" ? status : failed;

/** Which backup each component restored, its checksum and where it went (scratch space, removed). */
function restoredRows(h: DrillHostReport): string[] {
  const dr = h.drill;
  if (!dr || dr.error) return [];
  return DRILL_COMPONENTS.flatMap((name) => {
    const c = dr.components[name];
    if (!c || !c.backup) return [];
    const gone = dr.cleanup.status === "passed";
    const into = c.live
      ? `${name === "database" ? "the live database" : "the live folder"} ${c.live.target} (pre-restore backup ${c.live.pre_restore ?? c.live.pre_restore_note})`
      : name === "media" || name === "config"
        ? `${dr.workdir ?? "a temporary folder"}/${name} (${gone ? "removed" : "cleanup not confirmed"})`
        : `scratch database ${dr.scratch_db} (${gone ? "dropped" : "cleanup not confirmed"})`;
    return [`| ${h.name} | ${name} | ${cell(c.backup)} | ${cell(c.checksum ?? "-")} | ${cell(into)} |`];
  });
}

/** One host's RTO phases and its targets, for the Markdown's targets table. */
function targetRows(h: DrillHostReport): string[] {
  const dr = h.drill;
  if (!dr || dr.error) return [];
  const t = dr.targets;
  const p = dr.phases;
  const phases = p
    ? `fetch ${formatMs(p.fetch_ms)}, database ${formatMs(p.database_ms)}, media ${formatMs(p.media_ms)}, config ${formatMs(p.config_ms)}, verification ${formatMs(p.verification_ms)}`
    : "not measured (a restore did not finish)";
  const verdict = (met: boolean | null, by: string) =>
    met === null ? "not measured" : met ? "met" : `**MISSED** by ${by}`;
  return [
    `| ${h.name} | RTO | ${formatMs(dr.rto_ms_total)} | ${t.rto_minutes} min | ${verdict(t.rto_met, formatMs(t.rto_missed_by_ms))} | ${phases} |`,
    `| ${h.name} | RPO | ${formatAge(dr.rpo_seconds_max)} | ${t.rpo_hours} h | ${verdict(t.rpo_met, formatAge(t.rpo_missed_by_seconds))} | drill start minus the time of the oldest of the newest daily dump, media snapshot and config archive |`,
  ];
}

export function drillMarkdown(report: DrillRunReport): string {
  const d = report.drill;
  const L: string[] = [];
  L.push(`# Restore drill: ${d.inventory_name} (${report.environment})`, "");
  L.push("| | |", "|---|---|");
  L.push(`| Verdict | **${d.verdict}**: ${d.hosts_passed} of ${report.hosts.length} hosts passed |`);
  L.push(`| Started | ${report.started_at} (UTC) |`);
  L.push(`| Duration | ${formatMs(report.duration_ms)} |`);
  L.push(`| Inventory | ${cell(report.inventory)} |`);
  L.push(
    `| Mode | ${d.mode === "live" ? "**live**: restored over the live database, media and app config" : "scratch: restored into scratch space, live data not touched"} |`,
  );
  L.push(
    `| Worst RPO | ${d.worst_rpo ? `${formatAge(d.worst_rpo.seconds)} (${d.worst_rpo.host} ${d.worst_rpo.component})` : "-"} |`,
  );
  L.push(`| Worst RTO | ${d.worst_rto ? `${formatMs(d.worst_rto.ms)} (${d.worst_rto.host}, all components)` : "-"} |`);
  L.push(...sourceHeadRows(report));
  L.push("");
  L.push(
    "RPO is the age of the restored backup at drill time (from the backup's own timestamp): the data a restore now would lose. " +
      "RTO is the recovery's time by phase: the download from the off-site copy (when restoring from it), the installed restore scripts on the newest daily dump, media snapshot and config archive (checksum check, decryption in the stream, restore, their own verification), and the drill's own verification of what they restored; a host's RTO is the sum of its phases. " +
      "The newest weekly and monthly dumps are restored and verified too (table set and row counts against their manifests), outside the recovery's RTO and RPO. " +
      (d.mode === "live"
        ? LIVE_ABOUT
        : "Every restore went into a scratch database or a temporary folder, never over live data."),
  );
  L.push("", "## Results", "");
  L.push("| Host | Component | Result | Backup | Taken (UTC) | RPO | RTO | Size | Restored | Verified |");
  L.push("|---|---|---|---|---|---|---|---|---|---|");
  for (const h of report.hosts) {
    const dr = h.drill;
    if (!dr || dr.error) {
      const what = h.status === "unreachable" ? "UNREACHABLE" : "FAILED";
      L.push(`| ${h.name} | - | ${what} | - | - | - | - | - | - | ${cell(dr?.error ?? h.error ?? "")} |`);
      continue;
    }
    for (const name of DRILL_COMPONENTS) {
      const c = dr.components[name];
      if (!c) continue;
      const backup = c.backup ? `${basename(c.backup)}${c.kind ? ` (${c.kind})` : ""}` : "-";
      L.push(
        `| ${h.name} | ${name} | ${result(c.status)} | ${cell(backup)} | ${c.backup_time ?? "-"} | ${formatAge(c.rpo_seconds)} | ${formatMs(c.rto_ms)} | ${formatBytes(c.size_bytes)} | ${cell(restoredText(name, c))} | ${cell(c.details)} |`,
      );
    }
    const v = dr.verify_command;
    if (v)
      L.push(
        `| ${h.name} | verify_command | ${result(v.status)} | - | - | - | ${formatMs(v.duration_ms)} | - | - | ${cell(v.details)} |`,
      );
    L.push(
      `| ${h.name} | cleanup | ${dr.cleanup.status === "passed" ? "passed" : "**FAILED**"} | - | - | - | - | - | - | ${cell(`scratch database ${dr.cleanup.scratch_db}; temporary folder ${dr.cleanup.workdir}`)} |`,
    );
    L.push(
      `| ${h.name} | **host** | ${dr.verdict === "PASSED" ? "**PASSED**" : "**FAILED**"} | - | - | ${formatAge(dr.rpo_seconds_max)} | ${formatMs(dr.rto_ms_total)} | - | - | - |`,
    );
  }
  const restored = report.hosts.flatMap(restoredRows);
  if (restored.length)
    L.push(
      "",
      "## Backups restored",
      "",
      "| Host | Component | Backup | Checksum | Restored into |",
      "|---|---|---|---|---|",
      ...restored,
    );
  L.push(...liveSections(report));
  L.push(...sourceMarkdown(report));
  const targets = report.hosts.flatMap(targetRows);
  if (targets.length)
    L.push(
      "",
      "## Targets",
      "",
      "| Host | Target | Measured | Target | Result | How |",
      "|---|---|---|---|---|---|",
      ...targets,
    );
  const failures = report.hosts.flatMap((h) =>
    h.status === "unreachable" || h.drill?.error || (!h.drill && h.error)
      ? [`- ${h.name}: ${h.status === "unreachable" ? "unreachable: " : ""}${h.drill?.error ?? h.error ?? ""}`]
      : h.tasks
          .filter((t) => t.status === "failed")
          .map((t) => `- ${h.name} ${t.name.replace(/^drill /, "")}: ${t.message}`),
  );
  if (failures.length) L.push("", "## Failures", "", ...failures);
  L.push("", "## Hosts", "");
  for (const h of report.hosts) {
    L.push(
      `- ${h.name}: ${h.status}, ${h.commands} remote command(s), ${formatMs(h.duration_ms)}${h.drill?.workdir ? `, temporary folder ${h.drill.workdir}` : ""}${h.drill?.scratch_db ? `, scratch database ${h.drill.scratch_db}` : ""}${h.drill?.stale_removed ? `, ${h.drill.stale_removed} leftover(s) of an earlier drill removed` : ""}`,
    );
  }
  return L.join("\n") + "\n";
}

const LIVE_ABOUT =
  "Live drill: the newest daily dump, media snapshot and config archive were restored over each host's live database, media and app config with the installed restore scripts (restore-database.sh --force, restore-media.sh, restore-config.sh), which took pre-restore backups first (listed below) and put their own component back on a failure; after a restore that did not pass, the components after it were not restored. " +
  "The hosts stay on the restored data, as after a real recovery. drill.verify_command ran on each host after the restores (its time is in the verification phase). " +
  "The weekly and monthly dumps went into a scratch database, verified there and dropped: restoring an older tier over live data would only replace the newest data with older data.";

/** --live: the pre-restore backups (the way back to the data the drill replaced) and drill.verify_command. */
function liveSections(report: DrillRunReport): string[] {
  if (report.drill.mode !== "live") return [];
  const pre: string[] = [];
  const checks: string[] = [];
  for (const h of report.hosts) {
    const dr = h.drill;
    if (!dr || dr.error) continue;
    for (const name of DRILL_COMPONENTS) {
      const l = dr.components[name]?.live;
      if (!l) continue;
      const there = l.pre_restore === null ? "-" : l.pre_restore_exists ? "yes" : "**NO**";
      pre.push(
        `| ${h.name} | ${name} | ${cell(l.target)} | ${cell(l.pre_restore ?? l.pre_restore_note)} | ${there} | ${cell(l.rollback ?? "-")} |`,
      );
    }
    const v = dr.verify_command;
    if (v)
      checks.push(
        `| ${h.name} | ${cell(v.command ?? "-")} | ${result(v.status)} | ${v.exit_code ?? "-"} | ${formatMs(v.duration_ms)} | ${cell(v.output.length ? v.output.join(" / ") : v.details)} |`,
      );
  }
  const L: string[] = [];
  if (pre.length)
    L.push(
      "",
      "## Pre-restore backups",
      "",
      "What each live restore replaced, and the copy its restore script took first (restore it with the same script to go back).",
      "",
      "| Host | Component | Replaced | Pre-restore backup | On the host | Rollback |",
      "|---|---|---|---|---|---|",
      ...pre,
    );
  if (checks.length)
    L.push(
      "",
      "## verify_command",
      "",
      "| Host | Command | Result | Exit | Took | Last output |",
      "|---|---|---|---|---|---|",
      ...checks,
    );
  return L;
}

/** The console table: one line per host and component. */
export function drillTable(report: DrillRunReport): string {
  const rows: string[][] = [["HOST", "COMPONENT", "RESULT", "RPO", "RTO", "SIZE", "RESTORED"]];
  for (const h of report.hosts) {
    if (!h.drill || h.drill.error) {
      rows.push([
        h.name,
        "-",
        h.status === "unreachable" ? "UNREACHABLE" : "FAILED",
        "-",
        "-",
        "-",
        (h.drill?.error ?? h.error ?? "").split("\n")[0]!,
      ]);
      continue;
    }
    for (const name of DRILL_COMPONENTS) {
      const c = h.drill.components[name];
      if (c)
        rows.push([
          h.name,
          name,
          result(c.status, "FAILED"),
          formatAge(c.rpo_seconds),
          formatMs(c.rto_ms),
          formatBytes(c.size_bytes),
          c.status === "passed" ? restoredText(name, c) : c.details,
        ]);
    }
    const v = h.drill.verify_command;
    if (v)
      rows.push([h.name, "verify_command", result(v.status, "FAILED"), "", formatMs(v.duration_ms), "", v.details]);
    const t = h.drill.targets;
    rows.push([
      h.name,
      "targets",
      t.rto_met && t.rpo_met ? "met" : t.rto_met === false || t.rpo_met === false ? "MISSED" : "-",
      formatAge(h.drill.rpo_seconds_max),
      formatMs(h.drill.rto_ms_total),
      "",
      [
        t.rto_met === false ? `RTO missed by ${formatMs(t.rto_missed_by_ms)} (target ${t.rto_minutes} min)` : "",
        t.rpo_met === false ? `RPO missed by ${formatAge(t.rpo_missed_by_seconds)} (target ${t.rpo_hours} h)` : "",
      ]
        .filter(Boolean)
        .join("; ") || `RTO target ${t.rto_minutes} min, RPO target ${t.rpo_hours} h`,
    ]);
    rows.push([
      h.name,
      "cleanup",
      h.drill.cleanup.status === "passed" ? "passed" : "FAILED",
      "",
      "",
      "",
      `scratch database ${h.drill.cleanup.scratch_db}; temporary folder ${h.drill.cleanup.workdir}`,
    ]);
  }
  return textTable(rows);
}

/** The verdict line under the table. */
export function drillVerdictLine(report: DrillRunReport): string {
  const d = report.drill;
  return `DRILL ${d.verdict}: ${d.hosts_passed} of ${report.hosts.length} hosts passed in ${formatMs(report.duration_ms)}`;
}

/** `<UTC stamp>`: the base name of the report files in the inventory's folder (20261201T101418Z). */
export function reportBaseName(report: DrillRunReport): string {
  const stamp = new Date(Date.parse(report.started_at))
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return stamp;
}
