// The backups job (`npm run backups -- <inventory>`): per host, one remote command lists its restore
// points (templates/remote/backups.sh), verifying the newest of each kind (--verify-all: every one);
// one table per host; `backups` per host in the --json report.
//
// With --offsite the same command also lists the bucket (the installed fetch-offsite.sh --list, with
// the host's own 0600 credentials): each point says whether it is local, off-site or both, and a
// backup only in the bucket is a restore point too. A host without the off-site copy says so.
//
// Exit codes: 0 listed; 2 a host failed (no backup directory, a restore point whose checksum does
// not match, the bucket could not be listed with --offsite, the script failed); 4 unreachable;
// 1 bad input.
import type { FleetJob } from "../run/job.ts";
import { addTask } from "../run/report.ts";
import { BACKUP_KINDS } from "../cli/options.ts";
import { backupsScript } from "./script.ts";
import { countByKind, parsePoints } from "./parse.ts";
import { backupsSummaryLine, backupsText, type BackupsHostReport } from "./table.ts";

export const backupsJob: FleetJob<BackupsHostReport> = {
  name: "backups",
  supports: ["kind", "verifyAll", "offsite"],
  refuses: "it only lists each host's restore points",
  quiet: true,
  async perHost(conn, host, report, { opts, mask }) {
    const kinds = opts.kind ? [opts.kind] : BACKUP_KINDS;
    const offsite = opts.offsite && host.vars.offsite.enabled;
    if (opts.offsite && !offsite)
      report.offsite_note = "not enabled for this host (offsite.enabled): local points only";
    const r = await conn.exec(backupsScript(host, kinds, opts.verifyAll ? "all" : "newest", offsite));
    const listing = parsePoints(mask(r.stdout));
    report.backups = { ...listing, counts: countByKind(listing.points) };
    if (r.code !== 0) {
      addTask(report, {
        name: "list restore points",
        status: "failed",
        message: `exit ${r.code}: ${mask(r.stderr).trim().split("\n").slice(-3).join(" ")}`,
      });
      return;
    }
    if (listing.error) {
      addTask(report, { name: "list restore points", status: "failed", message: listing.error });
      return;
    }
    const bad = listing.points.filter((p) => p.checksum === "no");
    addTask(report, {
      name: "list restore points",
      status: bad.length ? "failed" : "ok",
      message: bad.length
        ? `checksum does not match: ${bad.map((p) => p.name).join(", ")}`
        : `${listing.points.length} restore points`,
    });
    if (listing.offsite?.error)
      addTask(report, { name: "list the off-site copy", status: "failed", message: listing.offsite.error });
  },
  finish: (report) => ({ text: `${backupsText(report.hosts)}\n`, verdict: backupsSummaryLine(report) }),
};
