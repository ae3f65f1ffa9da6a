#!/usr/bin/env -S npx tsx
// npm run lab -- up [--hosts N] | down | status: disposable target hosts on loopback (src/lab/).
import { chalk, echo } from "zx";
import { runLabCommand } from "../src/lab/cli.ts";

const stderr = (text: string) => void process.stderr.write(`${text}\n`);

process.exitCode = await runLabCommand(process.argv.slice(2), {
  out: echo,
  note: stderr,
  error: (text) => stderr(chalk.red(text)),
});
