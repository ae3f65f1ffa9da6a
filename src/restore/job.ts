// The restore job (`npm run restore -- <inventory> --limit HOST --component C`): one host, any
// environment. One remote command gathers the plan's facts (plan.ts); the plan is shown; at a
// terminal the operator types the host name, else --force is needed (checked before connecting);
// --check stops after the plan. A second command runs the installed restore script and appends the
// attempt to the host's audit log (<log_dir>/restore-audit.log); an attempt that ends before that
// (cancelled, no restore point) is logged by a command of its own.
//
// The off-site copy: with --from offsite, when the chosen point has no complete local copy, or when
// the local copy turns out missing or failing its checksum as the run starts (said, never silent),
// the run fetches it with the installed fetch-offsite.sh (verified there) into a private work
// folder and restores that, with the same safety path; the audit line says where it came from.
//
// Exit codes: 0 restored (or the plan shown with --check); 1 bad input, cancelled or refused
// (nothing changed); 2 the restore failed (the scripts put the live data back; the report says
// how); 4 unreachable.
import { InputError } from "../errors.ts";
import type { FleetJob, JobRun } from "../run/job.ts";
import { addTask, type HostReport, type RunReport } from "../run/report.ts";
import { longJobTimeoutMs } from "../run/connect.ts";
import { EXIT } from "../errors.ts";
import type { CommonOptions, Component } from "../cli/options.ts";
import { formatMs } from "../format.ts";
import { templateContext } from "../backup/context.ts";
import { parseAt } from "./select.ts";
import { buildPlan, parsePlanFacts, planText, restoreTarget, type RestorePlan } from "./plan.ts";
import {
  auditFields,
  auditHead,
  auditLine,
  auditScript,
  failureReason,
  parseRun,
  planScript,
  runScript,
  type RunResult,
} from "./run.ts";

export type RestoreResult = "restored" | "failed" | "cancelled" | "refused" | "planned";

export interface RestoreRecord {
  component: Component;
  result: RestoreResult;
  reason: string | null;
  plan: RestorePlan | null;
  run: Omit<RunResult, "log"> | null;
  rto_ms: number | null;
  audit: { written: boolean; error: string | null } | null;
}

export interface RestoreHostReport extends HostReport {
  restore?: RestoreRecord;
}

/** The arguments' own rules (before the inventory is read): exit 1 on any. */
export function restoreArgProblems(opts: CommonOptions, nowMs: number): string[] {
  const p: string[] = [];
  if (!opts.limit) p.push("arguments: --limit HOST: a restore needs exactly one host");
  if (!opts.component) p.push("arguments: --component: expected database, media or config");
  if (opts.backup && opts.at) p.push("arguments: --backup and --at: give one of them (or neither: the newest)");
  if (opts.at) {
    const a = parseAt(opts.at, nowMs);
    if ("problem" in a) p.push(`arguments: --at: ${a.problem}`);
    else if (a.epoch * 1000 > nowMs) p.push(`arguments: --at: ${opts.at} is in the future`);
  }
  if (opts.targetDb && opts.component && opts.component !== "database")
    p.push("arguments: --target-db: only with --component database (use --target DIR)");
  if (opts.target && opts.component === "database")
    p.push("arguments: --target: only with --component media or config (use --target-db NAME)");
  return p;
}

type State = { atEpoch?: number };

function say(run: JobRun<State>, line: string): void {
  (run.deps.out ?? ((l: string) => process.stdout.write(`${l}\n`)))(run.mask(line));
}

export const restoreJob: FleetJob<RestoreHostReport, State, { restore: RestoreRecord | null }> = {
  name: "restore",
  supports: ["check", "force", "component", "backup", "at", "from", "targetDb", "target"],
  refuses: "a restore takes one host and one component",
  quiet: true,
  preflight(opts) {
    const p = restoreArgProblems(opts, Date.now());
    if (p.length) throw new InputError(p);
  },
  prepare({ opts, hosts, deps }) {
    if (hosts.length !== 1)
      throw new InputError([
        hosts.length
          ? `arguments: --limit ${opts.limit}: matches ${hosts.length} hosts (${hosts.map((h) => h.name).join(", ")}); a restore takes exactly one`
          : `arguments: --limit ${opts.limit}: matches no host`,
      ]);
    if (opts.from === "offsite" && !hosts[0]!.vars.offsite.enabled)
      throw new InputError([
        `arguments: --from offsite: ${hosts[0]!.name} has no off-site copy (offsite.enabled is false in its inventory)`,
      ]);
    if (!opts.force && !opts.check && !deps.ask)
      throw new InputError([
        `restore: refusing to restore ${opts.component} on ${hosts[0]!.name} without --force: there is no terminal to type the host name at (nothing was changed)`,
      ]);
    return { atEpoch: opts.at ? (parseAt(opts.at, Date.now()) as { epoch: number }).epoch : undefined };
  },
  async perHost(conn, host, report, run) {
    const { opts, mask } = run;
    const component = opts.component!;
    const target = restoreTarget(component, host.vars, opts);
    const record: RestoreRecord = {
      component,
      result: "refused",
      reason: null,
      plan: null,
      run: null,
      rto_ms: null,
      audit: null,
    };
    report.restore = record;
    const forced = opts.force;
    // An attempt that ends before the restore script runs: one audit line of its own.
    const endEarly = async (result: "cancelled" | "refused", reason: string) => {
      record.result = result;
      record.reason = reason;
      const line = mask(auditLine(auditFields(host, component, record.plan, target, forced), result, reason));
      const a = parseRun((await conn.exec(auditScript(host, line))).stdout).audit;
      record.audit = a;
      addTask(report, { name: "restore", status: "skipped", message: `${result}: ${reason}` });
      say(run, `${result.toUpperCase()}: ${reason} (nothing was changed)`);
    };

    const facts = parsePlanFacts(mask((await conn.exec(planScript(host, component, target))).stdout));
    const built = buildPlan(
      facts,
      {
        host: host.name,
        environment: host.vars.environment,
        component,
        backupDir: templateContext(host.vars).paths.backup_dir,
        target,
      },
      { backup: opts.backup, atEpoch: run.state.atEpoch, from: opts.from },
    );
    if ("problem" in built) {
      if (opts.check) {
        record.reason = built.problem;
        addTask(report, { name: "restore plan", status: "failed", message: built.problem });
        return;
      }
      return endEarly("refused", built.problem);
    }
    const plan = built.plan;
    record.plan = plan;
    say(run, planText(plan));
    if (opts.check) {
      record.result = "planned";
      addTask(report, { name: "restore plan", status: "ok", message: `--check: would restore ${plan.backup.name}` });
      return;
    }
    if (!forced) {
      const answer = await run.deps.ask!(
        `\nThis replaces live data on ${host.name} (${host.vars.environment}). Type the host name to restore: `,
      );
      if (answer.trim() !== host.name)
        return endEarly("cancelled", `the answer "${answer.trim()}" is not the host name ${host.name}`);
    }
    const head = mask(auditHead(auditFields(host, component, plan, target, forced)));
    const r = await conn.exec(runScript(host, plan, head), { timeoutMs: longJobTimeoutMs(host) });
    const res = parseRun(mask(r.stdout));
    const { log, ...kept } = res;
    record.run = kept;
    record.rto_ms = res.rto_ms;
    record.audit = res.audit;
    if (res.fallback) say(run, `FALLBACK: ${res.fallback}`);
    if (res.fetched)
      say(run, `Fetched from the off-site copy and verified in ${formatMs(res.fetch_ms)}: ${res.fetched}`);
    if (res.report) say(run, res.report.trimEnd());
    if (res.exit_code === 0) {
      record.result = "restored";
      addTask(report, {
        name: "restore",
        status: "changed",
        message: `restored ${plan.backup.name}${res.source === "offsite" ? " from the off-site copy" : ""} in ${formatMs(res.rto_ms)}`,
      });
      say(
        run,
        `RTO: ${formatMs(res.rto_ms)} (${component} from ${plan.backup.name}${res.source === "offsite" ? ", the off-site copy" : ""})`,
      );
    } else {
      record.result = "failed";
      record.reason = failureReason(res);
      if (!res.report && log) say(run, log.trimEnd());
      addTask(report, { name: "restore", status: "failed", message: record.reason });
      say(run, `FAILED after ${formatMs(res.rto_ms)}: ${record.reason}`);
      if (res.rollback) say(run, `Live data: ${res.rollback}`);
      else if (!res.ran && res.exit_code !== null) say(run, "Live data: unchanged (the restore script did not run)");
    }
    if (res.workdir?.startsWith("left:")) say(run, `WARNING: the work folder was not removed: ${res.workdir}`);
    if (!res.audit.written) say(run, `WARNING: the audit line was not written: ${res.audit.error ?? "no answer"}`);
  },
  section: (report) => ({ restore: report.hosts[0]?.restore ?? null }),
  finish: (report) => {
    const h = report.hosts[0];
    const r = report.restore;
    const what = r
      ? `${r.component} on ${h!.name}: ${r.result}${r.reason ? ` (${r.reason})` : ""}`
      : `${h?.name ?? "?"}: ${h?.status ?? "no host"}${h?.error ? `: ${h.error}` : ""}`;
    return { text: "", verdict: `restore ${what} in ${(report.duration_ms / 1000).toFixed(2)}s` };
  },
};

/** The command's exit code: a cancelled or refused restore changed nothing (1), else the run's. */
export function restoreExitCode(report: RunReport<RestoreHostReport> & { restore: RestoreRecord | null }): number {
  const r = report.restore;
  if (r && (r.result === "cancelled" || r.result === "refused")) return EXIT.badInput;
  return report.summary.exit_code;
}
