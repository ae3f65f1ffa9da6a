// One host's provision: connect, gather every fact in one command, plan, apply every change in one
// command, then the smoke test (a third). A no-op run is one command.
import type { Host } from "../inventory/types.ts";
import type { Connection } from "../connection/types.ts";
import type { DesiredState } from "../backup/desired.ts";
import { UnreachableError, HostKeyError } from "../errors.ts";
import { factsScript, planHost, type TagFilter } from "./plan.ts";
import { applyScript, failedStep } from "../operations/apply.ts";
import { maskSecrets } from "../operations/mask.ts";
import { newHostReport, addTask, settleStatus, type HostReport } from "./report.ts";

export interface HostJob extends TagFilter {
  check: boolean;
  diff: boolean;
  secrets: string[];
  connect: (host: Host) => Promise<Connection>;
  /** Runs after a successful apply on the same connection (the smoke test); adds to the report. */
  after?: (conn: Connection, host: Host, report: HostReport) => Promise<void>;
  /** Also log tasks that changed nothing, with the reason. */
  verbose?: boolean;
  /** Progress lines (already masked). */
  log?: (host: string, line: string) => void;
}

export async function provisionHost(host: Host, state: DesiredState, job: HostJob): Promise<HostReport> {
  const started = Date.now();
  const report = newHostReport(host.name);
  const mask = (s: string) => maskSecrets(s, job.secrets);
  const log = (line: string) => job.log?.(host.name, mask(line));
  let conn: Connection | undefined;
  try {
    try {
      conn = await job.connect(host);
    } catch (e) {
      report.status = e instanceof UnreachableError ? "unreachable" : "failed";
      report.error = mask((e as Error).message);
      if (!(e instanceof UnreachableError) && !(e instanceof HostKeyError)) throw e;
      return report;
    }
    const facts = await conn.exec(factsScript(state, { diff: job.diff }));
    if (facts.code !== 0) {
      report.error = mask(`gathering facts failed (exit ${facts.code}): ${facts.stderr.trim()}`);
      return report;
    }
    const plan = planHost(state, facts.stdout, { ...job, backupDir: host.vars.paths.backup_dir });
    const errors = plan.filter((p) => p.error);
    for (const p of errors) addTask(report, { name: p.name, status: "failed", message: mask(p.error!) });
    const changes = plan.filter((p) => p.changed && !p.error);
    if (errors.length === 0 && changes.length > 0 && !job.check) {
      const r = await conn.exec(applyScript(changes));
      const step = failedStep(r.stdout);
      // Steps run in plan order: those before the failed one were applied, those after were not.
      let reached = false;
      for (const p of plan) {
        if (!p.changed) addTask(report, { name: p.name, status: "ok", message: p.reason });
        else if (step === undefined) addTask(report, { name: p.name, status: "changed", message: p.reason, diff: p.diff });
        else if (step === p.id) {
          reached = true;
          addTask(report, { name: p.name, status: "failed", message: mask(`${p.reason}: ${r.stderr.trim() || `exit ${r.code}`}`) });
        } else if (!reached) addTask(report, { name: p.name, status: "changed", message: p.reason, diff: p.diff });
        else addTask(report, { name: p.name, status: "skipped", message: "not applied: an earlier step failed" });
      }
      if (step === undefined && r.code !== 0) report.error = mask(`apply exited ${r.code}: ${r.stderr.trim()}`);
      report.bytes_uploaded = changes.reduce((n, p) => n + (p.bytes ?? 0), 0);
    } else {
      for (const p of plan.filter((x) => !x.error)) {
        const status = p.changed ? "changed" : "ok";
        addTask(report, { name: p.name, status, message: job.check && p.changed ? `would change: ${p.reason}` : p.reason, diff: p.diff });
      }
    }
    for (const t of report.tasks) if (t.status !== "ok" || job.verbose) log(`${t.status}: ${t.message}`);
    report.status = settleStatus(report);
    if (report.status !== "failed" && !job.check && job.after) {
      await job.after(conn, host, report);
      report.status = settleStatus(report);
    }
    return report;
  } catch (e) {
    report.error = mask((e as Error).message);
    report.status = "failed";
    return report;
  } finally {
    report.commands = conn?.commands ?? 0;
    report.duration_ms = Date.now() - started;
    report.status = settleStatus(report);
    await conn?.close().catch(() => undefined);
  }
}
