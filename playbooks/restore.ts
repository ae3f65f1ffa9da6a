#!/usr/bin/env -S npx tsx
// npm run restore -- <inventory> --limit HOST --component database|media|config [--backup NAME |
// --at TIME] [--target-db NAME | --target DIR] [--check] [--force] [--json FILE]: restores one host
// from the control machine with its installed restore scripts, after a plan and the host name typed
// at a terminal (or --force). Exit 0 restored, 1 bad input/cancelled/refused, 2 failed, 4 unreachable.
import { chalk } from "zx/core";
import { main } from "../src/cli/main.ts";
import { parseJobArgs } from "../src/cli/commands.ts";
import { ensureLabIfNamed } from "../src/cli/lab-inventory.ts";
import { runFleetJob } from "../src/run/job.ts";
import { quietUi } from "../src/run/ui.ts";
import { restoreExitCode, restoreJob } from "../src/restore/job.ts";

// zx's question (readline at the terminal); its module loads only when there is someone to ask.
async function ask(text: string): Promise<string> {
  const { question } = await import("zx");
  return question(chalk.bold(text));
}

await main(async () => {
  const opts = parseJobArgs(process.argv.slice(2), restoreJob);
  await ensureLabIfNamed(opts.inventory, process.cwd());
  const terminal = process.stdin.isTTY && process.stdout.isTTY;
  const style = { good: chalk.green, bad: chalk.bold.red };
  // No progress display: the plan, the question and the restore report are the output.
  const deps = { cwd: process.cwd(), style, ui: quietUi, ask: terminal ? ask : undefined };
  return restoreExitCode(await runFleetJob(restoreJob, opts, deps));
});
