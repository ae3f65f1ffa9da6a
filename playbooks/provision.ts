#!/usr/bin/env -S npx tsx
// npm run provision -- <inventory> [options]: install or upgrade the backup system on every host,
// then prove it with a smoke backup and a test restore.
import { chalk } from "zx/core";
import { main } from "../src/cli/main.ts";
import { parseJobArgs } from "../src/cli/commands.ts";
import { ensureLabIfNamed } from "../src/cli/lab-inventory.ts";
import { runFleetJob } from "../src/run/job.ts";
import { provisionJob } from "../src/run/provision.ts";

await main(async () => {
  const opts = parseJobArgs(process.argv.slice(2), provisionJob);
  await ensureLabIfNamed(opts.inventory, process.cwd());
  const style = { good: chalk.green, bad: chalk.bold.red };
  const report = await runFleetJob(provisionJob, opts, { cwd: process.cwd(), style });
  return report.summary.exit_code;
});
