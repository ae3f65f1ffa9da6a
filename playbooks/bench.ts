#!/usr/bin/env -S npx tsx
// npm run bench -- [--hosts N] [--scale small|large] [--reps R] [--json FILE] [--ansible] [--forks N]
//
// The benchmarks of DESIGN.md "Performance", side by side in one run on a private lab that is
// always taken down (src/bench/; figures and how to read them in bench/README.md).
// Exit: 0 measured (a missed target is a finding, not a failure), 1 bad arguments, 2 the bench failed.
import { chalk, echo } from "zx";
import { InputError } from "../src/errors.ts";
import { parseBenchArgs, USAGE } from "../src/bench/args.ts";
import { runBench } from "../src/bench/run.ts";

let code = 0;
try {
  const opts = parseBenchArgs(process.argv.slice(2));
  if (opts === "help") echo(USAGE.trimEnd());
  else await runBench(opts, { out: echo, log: (line) => console.error(line) });
} catch (e) {
  if (e instanceof InputError) {
    console.error(`${chalk.red(e.problems.join("\n"))}\n\n${USAGE.trimEnd()}`);
    code = 1;
  } else {
    console.error(chalk.red(`bench: failed: ${(e as Error).stack ?? e}`));
    code = 2;
  }
}
process.exit(code);
