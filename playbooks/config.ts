#!/usr/bin/env -S npx tsx
// npm run config -- <inventory> [options]: shorthand for `provision --tags config --skip-smoke`:
// roll out the files rendered from inventory vars (backup.conf, pgpass, cron, logrotate).
// Add --check --diff to preview, --serial/--max-fail-percent to roll out in batches.
import { main } from "../src/cli/main.ts";
import { parseCommonArgs, USAGE_OPTIONS } from "../src/cli/options.ts";
import { provision } from "../src/run/provision.ts";
import { ensureLabIfNamed } from "../src/cli/lab-inventory.ts";
import { defaultUi } from "../src/run/ui.ts";

const USAGE = `Usage: npm run config -- <inventory> [options]   (provision --tags config --skip-smoke)\n\n${USAGE_OPTIONS}`;

await main(async () => {
  const opts = parseCommonArgs(process.argv.slice(2), USAGE);
  const cwd = process.cwd();
  await ensureLabIfNamed(opts.inventory, cwd);
  const report = await provision(
    { ...opts, tags: opts.tags ?? ["config"], skipSmoke: true },
    { cwd, ui: opts.json ? undefined : defaultUi() },
  );
  return report.summary.exit_code;
});
