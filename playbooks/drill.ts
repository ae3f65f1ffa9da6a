#!/usr/bin/env -S npx tsx
// npm run drill -- <inventory> [options]: the quarterly restore drill. Restores the newest backups
// of every host into scratch space with the installed restore scripts, verifies them against their
// manifests, measures RTO and RPO and writes reports/drills/<inventory>-<UTC time>.{md,json}.
// Refuses an inventory whose environment is production.
import { createInterface } from "node:readline/promises";
import { main } from "../src/cli/main.ts";
import { parseCommonArgs } from "../src/cli/options.ts";
import { drill } from "../src/run/drill.ts";
import { ensureLabIfNamed } from "../src/cli/lab-inventory.ts";
import { defaultUi } from "../src/run/ui.ts";

const USAGE = `Usage: npm run drill -- <inventory> [options]

Restore drill (never on an inventory with environment: production): on every host, the newest
database dump (daily or weekly), media snapshot and config archive are restored with the installed
restore scripts into a scratch database and a temporary folder, verified against their manifests,
timed (RTO) and dated (RPO); scratch space is removed afterwards, also on failure. Reports go to
reports/drills/<inventory>-<UTC time>.md and .json.

Exit: 0 every host passed, 2 a restore or verification failed, 4 unreachable, 1 bad input
(including a production inventory, and no --force without a terminal).

Options:
  --force                          do not ask for confirmation (needed without a terminal)
  --limit <host|group|glob,...>   only these hosts (!pattern excludes)
  --forks N / --serial N|N%        hosts at once (default 10) / rolling batches
  --max-fail-percent N             stop after a batch whose failed share exceeds N
  --json FILE                      machine-readable report (also written under reports/drills/)
  -e key=value                     extra vars
  --accept-new-host-keys           record unknown host keys (a changed key always fails)`;

async function askYes(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(`${question}\nType "yes" to run the drill: `)).trim() === "yes";
  } finally {
    rl.close();
  }
}

await main(async () => {
  const opts = parseCommonArgs(process.argv.slice(2), USAGE);
  const cwd = process.cwd();
  await ensureLabIfNamed(opts.inventory, cwd);
  const report = await drill(opts, {
    cwd,
    ui: opts.json ? undefined : defaultUi(),
    confirm: process.stdin.isTTY && process.stderr.isTTY ? askYes : undefined,
  });
  return report.summary.exit_code;
});
