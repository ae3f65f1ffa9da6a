#!/usr/bin/env -S npx tsx
// npm run status -- <inventory> [options]: run the backup health check on every host and print one
// table of backup health across the fleet. Exit 0 all OK (WARNINGs are shown, not failed), 2 a host
// is CRITICAL/UNKNOWN/failed, 4 unreachable, 1 bad input.
import { main } from "../src/cli/main.ts";
import { parseCommonArgs } from "../src/cli/options.ts";
import { status } from "../src/run/status.ts";
import { ensureLabIfNamed } from "../src/cli/lab-inventory.ts";
import { listrUi } from "../src/run/ui.ts";

const USAGE = `Usage: npm run status -- <inventory> [options]

Runs the installed check-backups.sh --no-alert on every host (as the backup user) and prints its
status JSON as one table: overall, database/weekly/media/config/disk checks, age of the newest
database dump, disk used, issues.

Exit: 0 every host OK or WARNING, 2 a host CRITICAL, UNKNOWN or failed, 4 unreachable, 1 bad input.

Options:
  --limit <host|group|glob,...>   only these hosts (!pattern excludes)
  --forks N                        hosts at once (default 10)
  --json FILE                      machine-readable report (hosts[].backup_status)
  -e key=value                     extra vars
  --accept-new-host-keys           record unknown host keys (a changed key always fails)`;

await main(async () => {
  const opts = parseCommonArgs(process.argv.slice(2), USAGE);
  const cwd = process.cwd();
  await ensureLabIfNamed(opts.inventory, cwd);
  const report = await status(opts, {
    cwd,
    runBatch: process.stdout.isTTY && !opts.json ? listrUi().runBatch : undefined,
  });
  return report.summary.exit_code;
});
