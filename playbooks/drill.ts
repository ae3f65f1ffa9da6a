#!/usr/bin/env -S npx tsx
// npm run drill -- <inventory> [options]: the quarterly restore drill. Restores the newest backups
// of every host into scratch space with the installed restore scripts, verifies them against their
// manifests, measures RTO and RPO and writes reports/drills/<inventory>-<UTC time>.{md,json}.
// Refuses an inventory whose environment is production; asks for a "yes" unless --force.
import { chalk } from "zx/core";
import { main } from "../src/cli/main.ts";
import { parseJobArgs } from "../src/cli/commands.ts";
import { ensureLabIfNamed } from "../src/cli/lab-inventory.ts";
import { runFleetJob } from "../src/run/job.ts";
import { drillJob } from "../src/drill/job.ts";

// zx's question (readline at the terminal); its module loads only when there is someone to ask.
async function ask(text: string): Promise<string> {
  const { question } = await import("zx");
  return question(chalk.bold(text));
}

await main(async () => {
  const opts = parseJobArgs(process.argv.slice(2), drillJob);
  await ensureLabIfNamed(opts.inventory, process.cwd());
  const terminal = process.stdin.isTTY && process.stdout.isTTY;
  const style = { good: chalk.green, bad: chalk.bold.red };
  const report = await runFleetJob(drillJob, opts, { cwd: process.cwd(), style, ask: terminal ? ask : undefined });
  return report.summary.exit_code;
});
