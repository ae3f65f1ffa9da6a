#!/usr/bin/env -S npx tsx
// npm run config -- <inventory> [options]: shorthand for `provision --tags config --skip-smoke`:
// roll out the files rendered from inventory vars (backup.conf, pgpass, cron, logrotate).
// Add --check --diff to preview, --serial/--max-fail-percent to roll out in batches.
import { chalk } from "zx/core";
import { main } from "../src/cli/main.ts";
import { parseJobArgs } from "../src/cli/commands.ts";
import { ensureLabIfNamed } from "../src/cli/lab-inventory.ts";
import { runFleetJob } from "../src/run/job.ts";
import { configJob } from "../src/run/provision.ts";

await main(async () => {
  const opts = parseJobArgs(process.argv.slice(2), configJob);
  await ensureLabIfNamed(opts.inventory, process.cwd());
  const style = { good: chalk.green, bad: chalk.bold.red };
  const report = await runFleetJob(configJob, opts, { cwd: process.cwd(), style });
  return report.summary.exit_code;
});
