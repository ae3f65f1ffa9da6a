// One host's provision, over the connection the job frame opened: gather every fact in one command,
// plan, apply every change in one more, then the smoke test (a third). A no-op run is one command.
import type { Host } from "../inventory/types.ts";
import type { Connection } from "../connection/types.ts";
import type { DesiredState } from "../backup/desired.ts";
import { factsScript, planHost, selected, type TagFilter } from "./plan.ts";
import { dirname } from "node:path";
import { applyScript, applyOutcome } from "../operations/apply.ts";
import { loadDiffer } from "../operations/file.ts";
import { maskSecrets } from "../operations/mask.ts";
import { addTask, settleStatus, type HostReport } from "./report.ts";

export interface HostJob extends TagFilter {
  check: boolean;
  diff: boolean;
  secrets: string[];
  /** Runs after a successful apply on the same connection (the smoke test); adds to the report. */
  after?: (conn: Connection, host: Host, report: HostReport) => Promise<void>;
  /** Also log tasks that changed nothing, with the reason. */
  verbose?: boolean;
  /** Progress lines (already masked). */
  log?: (host: string, line: string) => void;
}

export async function provisionHost(
  conn: Connection,
  host: Host,
  state: DesiredState,
  report: HostReport,
  job: HostJob,
): Promise<void> {
  const mask = (s: string) => maskSecrets(s, job.secrets);
  const log = (line: string) => job.log?.(host.name, mask(line));
  const facts = await conn.exec(factsScript(state, { diff: job.diff }));
  if (facts.code !== 0) {
    report.error = mask(`gathering facts failed (exit ${facts.code}): ${facts.stderr.trim()}`);
    return;
  }
  // Planned whole, then selected: changes left out by --tags are named, not silently skipped.
  const all = planHost(state, facts.stdout, {
    diff: job.diff ? await loadDiffer() : undefined,
    secrets: job.secrets,
    backupDir: host.vars.paths.backup_dir,
    prefix: host.vars.prefix,
  });
  const plan = all.filter((p) => selected(p.tags, job));
  const outside = all.filter((p) => p.changed && !plan.includes(p));
  if (outside.length) {
    log(
      `note: ${outside.length} change(s) outside the selected tags are left for a full run: ${outside.map((p) => p.name).join(", ")}`,
    );
  }
  const changes = plan.filter((p) => p.changed && !p.error);
  const apply = !job.check && changes.length > 0 && !plan.some((p) => p.error);
  // One provision at a time per app on a host (a lock on its config directory), and never one
  // writing over files changed since its facts were read.
  const lock = { lock: dirname(host.vars.paths.config_file), lockWaitS: lockWait(host) };
  const result = apply ? await conn.exec(applyScript(changes, lock)) : undefined;
  const outcome = applyOutcome(plan, result, { check: job.check });
  for (const s of outcome.steps) {
    addTask(report, {
      name: s.plan.name,
      status: s.status,
      message: mask(s.message),
      diff: s.status === "changed" ? s.plan.diff : undefined,
    });
  }
  if (outcome.error) report.error = mask(outcome.error);
  if (apply) report.bytes_uploaded = changes.reduce((n, p) => n + (p.bytes ?? 0), 0);
  for (const t of report.tasks) if (t.status !== "ok" || job.verbose) log(`${t.status}: ${t.message}`);
  report.status = settleStatus(report);
  if (report.status !== "failed" && !job.check && job.after) await job.after(conn, host, report);
}

/** How long an apply waits for another provision's lock: 120 s, within the command's timeout. */
function lockWait(host: Host): number {
  return Math.max(1, Math.min(120, Math.floor(host.ssh.command_timeout_s / 2)));
}
