// The provision and config jobs: render and check every host's desired state locally (exit 1 before
// any connection), then per host facts → plan → apply → smoke test; diffs and the recap at the end.
// config is provision limited to the rendered files (--tags config unless given) without smoke test.
import { InputError } from "../errors.ts";
import { createRenderer } from "../render/render.ts";
import { desiredState, type DesiredState } from "../backup/desired.ts";
import { stateProblems } from "../backup/validate.ts";
import { sharedPathProblems } from "../inventory/rules.ts";
import { showPath } from "../inventory/load.ts";
import { recapHosts, recapTotals, type HostReport } from "./report.ts";
import { provisionHost } from "./host.ts";
import { smokeTest } from "./smoke.ts";
import type { FleetJob, JobRun } from "./job.ts";

interface ProvisionState {
  states: Map<string, DesiredState>;
  smoke: boolean;
}

/** Every host's desired state, rendered once per run; every problem of every host at once. */
function prepare({ opts, inv, hosts, mask, deps }: JobRun<undefined>): ProvisionState {
  const renderer = createRenderer();
  const states = new Map<string, DesiredState>();
  // Hosts that are one machine must not write the same paths: all of the inventory's, selected or not.
  const problems: string[] = sharedPathProblems(inv.hosts, showPath(inv.file, deps.cwd));
  for (const h of hosts) {
    try {
      const s = desiredState(h.vars, renderer);
      problems.push(...stateProblems(s, h.vars.paths).map((p) => `${h.name}: ${p}`));
      states.set(h.name, s);
    } catch (e) {
      problems.push(`${h.name}: rendering failed: ${(e as Error).message}`);
    }
  }
  if (problems.length) throw new InputError(problems.map(mask));
  const smoke =
    !opts.check &&
    !opts.skipSmoke &&
    (!opts.tags?.length || opts.tags.includes("smoke")) &&
    !opts.skipTags?.includes("smoke");
  return { states, smoke };
}

export const provisionJob: FleetJob<HostReport, ProvisionState> = {
  name: "provision",
  supports: ["check", "diff", "tags", "skipTags", "serial", "maxFailPercent", "skipSmoke", "verbose"],
  prepare,
  perHost: (conn, host, report, { opts, inv, state, log }) =>
    provisionHost(conn, host, state.states.get(host.name)!, report, {
      check: opts.check,
      diff: opts.diff,
      verbose: opts.verbose,
      tags: opts.tags?.filter((t) => t !== "smoke"),
      skipTags: opts.skipTags,
      secrets: inv.secrets,
      after: state.smoke ? (c, h, r) => smokeTest(c, h, r, inv.secrets) : undefined,
      log,
    }),
  finish(report, { opts }) {
    const diffs = opts.diff
      ? report.hosts.flatMap((r) => r.tasks.flatMap((t) => (t.diff ? [`[${r.name}] ${t.diff}`] : [])))
      : [];
    return { text: [...diffs, recapHosts(report)].join("\n"), verdict: recapTotals(report) };
  },
};

export const configJob: FleetJob<HostReport, ProvisionState> = {
  ...provisionJob,
  name: "config",
  implies: (opts) => ({ ...opts, tags: opts.tags ?? ["config"], skipSmoke: true }),
};
