// The fleet commands' usage texts and their arguments, in one place: a command's options block is
// built from what its job supports, so help never offers an option the job refuses.
import { InputError } from "../errors.ts";
import { optionsUsage, parseCommonArgs, refuseUnsupported, type CommonOptions, type JobOption } from "./options.ts";
import { shown } from "../inventory/shown.ts";

const ABOUT: Record<string, { synopsis: string; about?: string }> = {
  provision: {
    synopsis: "npm run provision -- <inventory> [options]",
    about:
      "Installs or upgrades the backup system on every host, then proves it with a smoke backup and a test restore.",
  },
  config: {
    synopsis: "npm run config -- <inventory> [options]   (provision --tags config --skip-smoke)",
    about:
      "Rolls out the files rendered from inventory vars (backup.conf, pgpass, cron, logrotate).\n" +
      "Add --check --diff to preview, --serial/--max-fail-percent to roll out in batches.",
  },
  status: {
    synopsis: "npm run status -- <inventory> [options]",
    about: `Runs the installed check-backups.sh --no-alert on every host (as the backup user) and prints its
status JSON as one table: overall, database/weekly/media/config/disk checks, age of the newest
database dump, disk used, issues (--json: hosts[].backup_status). Below it, each host's last restore
drill from reports/drills/<inventory>/ (or --report-dir): verdict and age; a last drill older than
92 days, a failed one or none is a WARNING (--json: hosts[].drill_status).

Exit: 0 every host OK or WARNING, 2 a host CRITICAL, UNKNOWN or failed, 4 unreachable, 1 bad input.`,
  },
  drill: {
    synopsis: "npm run drill -- <inventory> [options]",
    about: `Restore drill (never on an inventory with environment: production): on every host, the newest
daily, weekly and monthly database dumps, media snapshot and config archive are restored with the
installed restore scripts into a scratch database and a temporary folder, verified against their
manifests, timed by phase (RTO) and dated (RPO); scratch space is removed afterwards, also on
failure. RTO and RPO are held against drill.rto_minutes and drill.rpo_hours: a missed target fails
the host. With --from offsite the backups come from each host's off-site copy (fetch-offsite.sh:
downloaded, verified, decrypted with encryption.identity) instead of its own disk. With --live the
newest daily dump, media snapshot and config archive are restored OVER each host's live database,
media and app config with the installed restore scripts (pre-restore backups taken first, their
component put back on a failure), verified there the same way, then drill.verify_command runs on the
host (as root, at most 5 minutes; its exit status and last lines are a check); the hosts stay on
the restored data, and the weekly and monthly dumps are still verified in scratch. --live needs
--force, or the inventory's name typed at a terminal. With --source INVENTORY (or drill.source)
each host restores the newest backups of a host of that inventory (drill.map, else by position)
from its off-site copy, with the read-only keys of drill.source_offsite, into scratch space only
(--live needs drill.allow_live_from_source); the source inventory's hosts are never contacted.
Reports go to
reports/drills/<inventory>/<UTC time>.md and .json (or --report-dir DIR; and to --json FILE), and
the folder's index.html (the drill history with RTO and RPO charts) is regenerated.

Exit: 0 every host passed, 2 a restore, verification or target failed, 4 unreachable, 1 bad input
(including a production inventory, and no --force without a terminal).`,
  },
  backups: {
    synopsis: "npm run backups -- <inventory> [--limit HOST] [--kind K] [--verify-all] [--offsite] [--json FILE]",
    about: `Lists every host's restore points, one table per host: kind (database = daily, weekly, monthly,
media, config), name, time (from the name), age, size, checksum verified now (yes, no, missing, or
not checked: the newest of each kind is verified, every one with --verify-all), encrypted (.age),
where (local, off-site or both: with --offsite the bucket is listed too, by the host's installed
fetch-offsite.sh --list, and a backup only there is a restore point too) and the manifest's
headline (tables and rows; files and bytes). One remote command per host (--json: hosts[].backups).

Exit: 0 listed, 2 a host failed, a verified checksum does not match or the bucket could not be
listed, 4 unreachable, 1 bad input.`,
  },
  restore: {
    synopsis:
      "npm run restore -- <inventory> --limit HOST --component database|media|config [--backup NAME | --at TIME] [options]",
    about: `Restores one host (any environment, production included) from the control machine with its
installed restore scripts. First the plan (one remote command): which restore point (name, time,
size, checksum), what it replaces (the live database's size and row counts, or the target folder's
files) and where the pre-restore backup goes. At a terminal type the host name to go on; without
one --force is needed; --check shows the plan and stops. --at picks the newest restore point not
newer than TIME. The backup is read from the off-site copy (fetch-offsite.sh, verified, into a
private work folder removed afterwards) with --from offsite, when it has no complete local copy, or
when the local copy turns out missing or failing its checksum (said, never silently). The script's
report, the RTO and --json follow; every attempt is a line in the host's
<log_dir>/restore-audit.log, saying where the backup came from. A failed restore leaves the live
data as it was.

Exit: 0 restored (or planned with --check), 1 bad input, cancelled or refused (nothing changed),
2 the restore failed, 4 unreachable.`,
  },
};

export function usage(command: string, supports: readonly JobOption[]): string {
  const a = ABOUT[command];
  if (!a) throw new Error(`no usage text for command ${command}`);
  return [`Usage: ${a.synopsis}`, ...(a.about ? ["", a.about] : []), "", optionsUsage(supports)].join("\n");
}

/**
 * A fleet command's argv → its options: InputError (with the usage) on bad arguments or --help, and
 * on an option the job does not take.
 */
export function parseJobArgs(
  argv: string[],
  job: { name: string; supports: readonly JobOption[]; refuses?: string },
): CommonOptions {
  const text = usage(job.name, job.supports);
  const opts = parseCommonArgs(argv, text);
  if (opts.rest.length)
    throw new InputError([
      `arguments: unexpected ${opts.rest.map((r) => shown(r)).join(", ")} after the inventory`,
      text,
    ]);
  refuseUnsupported(job, opts);
  return opts;
}
