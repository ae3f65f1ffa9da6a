// The fleet commands' usage texts and their arguments, in one place: a command's options block is
// built from what its job supports, so help never offers an option the job refuses.
import { InputError } from "../errors.ts";
import { optionsUsage, parseCommonArgs, refuseUnsupported, type CommonOptions, type JobOption } from "./options.ts";

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
downloaded, verified, decrypted with encryption.identity) instead of its own disk. Reports go to
reports/drills/<inventory>/<UTC time>.md and .json (or --report-dir DIR; and to --json FILE), and
the folder's index.html (the drill history with RTO and RPO charts) is regenerated.

Exit: 0 every host passed, 2 a restore, verification or target failed, 4 unreachable, 1 bad input
(including a production inventory, and no --force without a terminal).`,
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
      `arguments: unexpected ${opts.rest.map((r) => `"${r}"`).join(", ")} after the inventory`,
      text,
    ]);
  refuseUnsupported(job, opts);
  return opts;
}
