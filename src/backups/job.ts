// The backups job (`npm run backups -- <inventory>`): per host, one remote command lists its restore
// points (templates/remote/backups.sh), verifying the newest of each kind (--verify-all: every one);
// one table per host; `backups` per host in the --json report.
//
// Exit codes: 0 listed; 2 a host failed (no backup directory, a restore point whose checksum does
// not match, the script failed); 4 unreachable; 1 bad input. `--offsite` is refused until the
// off-site copy (issue 8) is on this branch: the listing would otherwise claim "local only" for
// points that may be in the bucket.
import { InputError } from "../errors.ts";
import type { FleetJob } from "../run/job.ts";
import { addTask } from "../run/report.ts";
import { BACKUP_KINDS } from "../cli/options.ts";
import { backupsScript } from "./script.ts";
import { countByKind, parsePoints } from "./parse.ts";
import { backupsSummaryLine, backupsText, type BackupsHostReport } from "./table.ts";

export const OFFSITE_PENDING =
  "off-site listing needs issue 8 (the off-site copy and fetch-offsite.sh), which is not on this branch yet";

export const backupsJob: FleetJob<BackupsHostReport> = {
  name: "backups",
  supports: ["kind", "verifyAll", "offsite"],
  refuses: "it only lists each host's restore points",
  quiet: true,
  preflight(opts) {
    if (opts.offsite) throw new InputError([`arguments: --offsite: ${OFFSITE_PENDING}`]);
  },
  async perHost(conn, host, report, { opts, mask }) {
    const kinds = opts.kind ? [opts.kind] : BACKUP_KINDS;
    const r = await conn.exec(backupsScript(host, kinds, opts.verifyAll ? "all" : "newest"));
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
  },
  finish: (report) => ({ text: `${backupsText(report.hosts)}\n`, verdict: backupsSummaryLine(report) }),
};
