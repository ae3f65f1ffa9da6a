#!/usr/bin/env -S npx tsx
// npm run backups -- <inventory> [--limit ...] [--kind K] [--verify-all] [--json FILE]: every host's
// restore points, one table per host. Exit 0 listed, 2 a host failed (or a checksum does not
// match), 4 unreachable, 1 bad input.
import { chalk } from "zx/core";
import { main } from "../src/cli/main.ts";
import { parseJobArgs } from "../src/cli/commands.ts";
import { ensureLabIfNamed } from "../src/cli/lab-inventory.ts";
import { runFleetJob } from "../src/run/job.ts";
import { backupsJob } from "../src/backups/job.ts";

await main(async () => {
  const opts = parseJobArgs(process.argv.slice(2), backupsJob);
  await ensureLabIfNamed(opts.inventory, process.cwd());
  const style = { good: chalk.green, bad: chalk.bold.red };
  const report = await runFleetJob(backupsJob, opts, { cwd: process.cwd(), style });
  return report.summary.exit_code;
});
