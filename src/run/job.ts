// The one job frame every fleet command runs in: check the options against what the job supports,
// load the inventory, select the hosts, let the job prepare (local checks: exit 1 before any
// connection), then every host over one connection (--forks at once, --serial batches,
// --max-fail-percent), recap and --json report. A job is its `perHost` plus its report section.
import { refuseUnsupported, type CommonOptions, type JobOption } from "../cli/options.ts";
import type { Connection } from "../connection/types.ts";
import type { Host, Inventory } from "../inventory/types.ts";
import { loadInventory } from "../inventory/load.ts";
import { parseExtraVars } from "../inventory/vars.ts";
import { selectHosts } from "../inventory/limit.ts";
import { maskSecrets } from "../operations/mask.ts";
import { runHosts } from "./runner.ts";
import { hostConnector, onHost, privateKeyProblems } from "./connect.ts";
import { InputError } from "../errors.ts";
import { newHostReport, recapHosts, recapTotals, runReport, writeJsonReport } from "./report.ts";
import type { HostReport, RunReport } from "./report.ts";
import { jobUi, type Ui } from "./ui.ts";

/** What a run needs from its caller (the playbook): nothing is taken from globals beyond stdout. */
export interface JobDeps {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Where the job's output goes (default stdout); every line is masked first. */
  out?: (line: string) => void;
  /** The progress display (default: listr2 on a terminal without --json, else plain lines). */
  ui?: Ui;
  /** Ask a question at a terminal and return the answer; undefined when there is no terminal. */
  ask?: (question: string) => Promise<string>;
  /** Emphasis for the verdict line (the playbook passes chalk); default: none. */
  style?: { good(text: string): string; bad(text: string): string };
}

/** One run of a job, as its hooks see it. */
export interface JobRun<S = undefined> {
  readonly opts: CommonOptions;
  readonly inv: Inventory;
  readonly hosts: Host[];
  readonly deps: JobDeps;
  /** What `prepare` returned. */
  readonly state: S;
  /** Mask the inventory's secrets in a text. */
  mask(text: string): string;
  /** A progress line for a host (masked). */
  log(host: string, line: string): void;
}

/** What a job prints at the end: text, then its verdict line (emphasised), then a note. */
export interface JobOutput {
  text: string;
  verdict?: string;
  note?: string;
}

export interface FleetJob<H extends HostReport = HostReport, S = undefined, X extends object = object> {
  /** The command's name: in messages, the recap and the report's `playbook`. */
  name: string;
  /** The options beyond the common ones (--limit, --forks, --json, -e, --accept-new-host-keys) it takes. */
  supports: readonly JobOption[];
  /** Why the others are refused, shown with the refusal. */
  refuses?: string;
  /** Without a terminal, print no progress lines (the output is meant for pipes). */
  quiet?: boolean;
  /** Options the job implies, applied after the check (config: --tags config, no smoke test). */
  implies?(opts: CommonOptions): CommonOptions;
  /** Before the inventory is loaded (its secrets resolved): checks of the file itself. */
  preflight?(opts: CommonOptions, deps: JobDeps): void;
  /** After the hosts are selected, before any connection: local checks (throw InputError) and state. */
  prepare?(run: JobRun<undefined>): S | Promise<S>;
  /** One host's work over its connection; adds tasks and its section to `report`. Errors fail the host. */
  perHost(conn: Connection, host: Host, report: H, run: JobRun<S>): Promise<void>;
  /** The run report's own section, from the finished hosts (pure). */
  section?(report: RunReport<H>, run: JobRun<S>): X;
  /** What is printed at the end (default: the recap); may write the job's own files. */
  finish?(report: RunReport<H> & X, run: JobRun<S>): JobOutput;
}

export async function runFleetJob<H extends HostReport, S, X extends object>(
  job: FleetJob<H, S, X>,
  given: CommonOptions,
  deps: JobDeps,
): Promise<RunReport<H> & X> {
  const started = Date.now();
  refuseUnsupported(job, given);
  const opts = job.implies ? job.implies(given) : given;
  job.preflight?.(opts, deps);
  const inv = await loadInventory(opts.inventory, {
    cwd: deps.cwd,
    extraVars: parseExtraVars(opts.extraVars, deps.cwd),
    env: deps.env,
  });
  const hosts = selectHosts(inv, opts.limit);
  const keyProblems = privateKeyProblems(hosts, inv.file, deps.cwd);
  if (keyProblems.length) throw new InputError(keyProblems);
  const mask = (text: string) => maskSecrets(text, inv.secrets);
  const write = deps.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const out = (line: string) => write(mask(line));
  const ui = deps.ui ?? jobUi({ json: opts.json, quiet: job.quiet }, out);
  const base: JobRun<undefined> = {
    opts,
    inv,
    hosts,
    deps,
    state: undefined,
    mask,
    log: (host, line) => ui.log(host, mask(line)),
  };
  const run: JobRun<S> = { ...base, state: job.prepare ? await job.prepare(base) : (undefined as S) };

  const connector = hostConnector(inv, opts);
  const reports = await runHosts(
    hosts,
    opts,
    (h) =>
      onHost(h, connector, inv.secrets, newHostReport(h.name) as H, (conn, report) =>
        job.perHost(conn, h, report, run),
      ),
    ui.runBatch,
  );
  const head = runReport(job.name, inv, started, reports as H[], opts.check);
  const report = { ...head, ...job.section?.(head, run) } as RunReport<H> & X;
  const o = job.finish?.(report, run) ?? { text: recapHosts(report), verdict: recapTotals(report) };
  out(o.text);
  if (o.verdict !== undefined) {
    const style = deps.style ?? { good: (t: string) => t, bad: (t: string) => t };
    out((report.summary.exit_code === 0 ? style.good : style.bad)(o.verdict));
  }
  if (o.note !== undefined) out(o.note);
  if (opts.json) writeJsonReport(opts.json, report, inv.secrets);
  return report;
}
