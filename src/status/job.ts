// The status job (`npm run status -- <inventory>`): per host, one remote command runs the installed
// check-backups.sh --no-alert as the backup user and reads the status JSON it wrote; one table for
// the fleet; `backup_status` per host and `backup_summary` in the --json report.
//
// Exit codes (the contract's): 0 every host OK or WARNING; 2 a host is CRITICAL, UNKNOWN (the check
// could not run or left no fresh status) or failed; 4 unreachable hosts and no failure. A WARNING
// (a backup past its max age but within twice it, disk above the warning level) is shown and
// counted but does not fail the run: the backups are there, and check-backups already alerted.
import { relative } from "node:path";
import type { FleetJob } from "../run/job.ts";
import { drillReportDir, inventoryName, readDrillHistory, readSourcedDrills } from "../drill/history.ts";
import type { DrillHistoryEntry } from "../drill/html.ts";
import { drillStatusTable, hostDrillStatus } from "./drills.ts";
import { addTask } from "../run/report.ts";
import { statusScript } from "./script.ts";
import { failsHost, statusResult } from "./parse.ts";
import { backupSummary, statusTable, summaryLine, type BackupSummary, type StatusHostReport } from "./table.ts";

export const statusJob: FleetJob<StatusHostReport, { drills: DrillHistoryEntry[] }, { backup_summary: BackupSummary }> =
  {
    name: "status",
    supports: ["reportDir"],
    refuses: "it only reads each host's backup status",
    // Each host's last drill comes from the inventory's drill reports (local files, read once), and
    // from other inventories' drills that restored its backups with --source (without --report-dir:
    // every folder of reports/drills/; with it: that folder's).
    prepare: ({ opts, deps }) => ({
      drills: [
        ...readDrillHistory(drillReportDir(opts, deps.cwd)),
        ...(opts.reportDir ? [] : readSourcedDrills(deps.cwd, inventoryName(opts.inventory))),
      ],
    }),
    // The table is the output, also in a pipe: no progress lines before it.
    quiet: true,
    async perHost(conn, host, report, { mask, state, opts }) {
      report.drill_status = hostDrillStatus(host.name, state.drills, Date.now(), inventoryName(opts.inventory));
      const s = statusResult(await conn.exec(statusScript(host)));
      for (const i of s.issues) i.message = mask(i.message);
      report.backup_status = s;
      const detail = s.issues.map((i) => `${i.level} ${i.check}: ${i.message}`).join("; ");
      addTask(report, {
        name: "check-backups",
        status: failsHost(s) ? "failed" : "ok",
        message: `${s.overall_status}${detail ? `: ${detail}` : ""}`,
      });
    },
    section: (report) => ({ backup_summary: backupSummary(report.hosts) }),
    finish: (report, { opts, deps }) => ({
      text: `${statusTable(report.hosts)}\n\n${drillStatusTable(
        report.hosts.map((h) => ({ name: h.name, drill: h.drill_status })),
        relative(deps.cwd, drillReportDir(opts, deps.cwd)) || ".",
      )}\n`,
      verdict: summaryLine(report),
    }),
  };
