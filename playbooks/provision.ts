#!/usr/bin/env -S npx tsx
// npm run provision -- <inventory> [options]: install or upgrade the backup system on every host,
// then prove it with a smoke backup and a test restore.
import { main } from "../src/cli/main.ts";
import { parseCommonArgs, USAGE_OPTIONS } from "../src/cli/options.ts";
import { provision } from "../src/run/provision.ts";
import { ensureLabIfNamed } from "../src/cli/lab-inventory.ts";
import { defaultUi } from "../src/run/ui.ts";

const USAGE = `Usage: npm run provision -- <inventory> [options]\n\n${USAGE_OPTIONS}`;

await main(async () => {
  const opts = parseCommonArgs(process.argv.slice(2), USAGE);
  const cwd = process.cwd();
  await ensureLabIfNamed(opts.inventory, cwd);
  const report = await provision(opts, { cwd, ui: opts.json ? undefined : defaultUi() });
  return report.summary.exit_code;
});
