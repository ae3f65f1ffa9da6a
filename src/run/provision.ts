// The provision job: load and check everything locally (exit 1 before any connection), then every
// selected host in parallel: facts → plan → apply → smoke; recap, diffs, --json report.
import { InputError } from "../errors.ts";
import type { CommonOptions } from "../cli/options.ts";
import { loadInventory } from "../inventory/load.ts";
import { parseExtraVars } from "../inventory/vars.ts";
import { selectHosts } from "../inventory/limit.ts";
import { createRenderer } from "../render/render.ts";
import { desiredState, type DesiredState } from "../backup/desired.ts";
import { stateProblems } from "../backup/validate.ts";
import { runHosts } from "./runner.ts";
import { provisionHost } from "./host.ts";
import { recap, runReport, writeJsonReport, type RunReport } from "./report.ts";
import { maskSecrets } from "../operations/mask.ts";
import { smokeTest } from "./smoke.ts";
import { plainUi, type Ui } from "./ui.ts";
import { hostConnector } from "./connect.ts";

export interface ProvisionDeps {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  out?: (line: string) => void;
  ui?: Ui;
}

export async function provision(opts: CommonOptions, deps: ProvisionDeps): Promise<RunReport> {
  const started = Date.now();
  const out = deps.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const ui = deps.ui ?? plainUi(out);
  const inv = await loadInventory(opts.inventory, {
    cwd: deps.cwd,
    extraVars: parseExtraVars(opts.extraVars, deps.cwd),
    env: deps.env,
  });
  const hosts = selectHosts(inv, opts.limit);
  const renderer = createRenderer();
  const states = new Map<string, DesiredState>();
  const problems: string[] = [];
  for (const h of hosts) {
    try {
      const s = desiredState(h.vars, renderer);
      problems.push(...stateProblems(s, h.vars.paths).map((p) => `${h.name}: ${p}`));
      states.set(h.name, s);
    } catch (e) {
      problems.push(`${h.name}: rendering failed: ${(e as Error).message}`);
    }
  }
  if (problems.length) throw new InputError(problems.map((p) => maskSecrets(p, inv.secrets)));

  const smoke =
    !opts.check &&
    !opts.skipSmoke &&
    (!opts.tags?.length || opts.tags.includes("smoke")) &&
    !opts.skipTags?.includes("smoke");
  const reports = await runHosts(
    hosts,
    opts,
    (h) =>
      provisionHost(h, states.get(h.name)!, {
        check: opts.check,
        diff: opts.diff,
        verbose: opts.verbose,
        tags: opts.tags?.filter((t) => t !== "smoke"),
        skipTags: opts.skipTags,
        secrets: inv.secrets,
        connect: hostConnector(inv, opts),
        after: smoke ? (conn, host, report) => smokeTest(conn, host, report, inv.secrets) : undefined,
        log: (host, line) => ui.log(host, line),
      }),
    ui.runBatch,
  );
  if (opts.diff) {
    for (const r of reports)
      for (const t of r.tasks) if (t.diff) out(maskSecrets(`[${r.name}] ${t.diff}`, inv.secrets));
  }
  const report = runReport("provision", inv, started, reports, opts.check);
  out(recap(report));
  if (opts.json) writeJsonReport(opts.json, report, inv.secrets);
  return report;
}
