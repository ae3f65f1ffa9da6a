#!/usr/bin/env -S npx tsx
// npm run status -- <inventory> [options]: run the backup health check on every host and print one
// table of backup health across the fleet. Exit 0 all OK (WARNINGs are shown, not failed), 2 a host
// is CRITICAL/UNKNOWN/failed, 4 unreachable, 1 bad input.
import { chalk } from "zx/core";
import { main } from "../src/cli/main.ts";
import { parseJobArgs } from "../src/cli/commands.ts";
import { ensureLabIfNamed } from "../src/cli/lab-inventory.ts";
import { runFleetJob } from "../src/run/job.ts";
import { statusJob } from "../src/status/job.ts";

await main(async () => {
  const opts = parseJobArgs(process.argv.slice(2), statusJob);
  await ensureLabIfNamed(opts.inventory, process.cwd());
  const style = { good: chalk.green, bad: chalk.bold.red };
  const report = await runFleetJob(statusJob, opts, { cwd: process.cwd(), style });
  return report.summary.exit_code;
});
