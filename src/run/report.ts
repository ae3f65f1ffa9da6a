// The run's report: per-host results, the recap printed at the end, the --json file, the exit code.
import { writeFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { EXIT } from "../errors.ts";
import { maskSecrets } from "../operations/mask.ts";

export type HostStatus = "ok" | "changed" | "failed" | "unreachable" | "skipped";
export type TaskStatus = "ok" | "changed" | "failed" | "skipped";

export interface TaskReport {
  name: string;
  status: TaskStatus;
  message: string;
  diff?: string;
}

export interface SmokeComponent {
  status: "passed" | "failed" | "skipped";
  duration_ms: number;
  details: string;
}

export interface HostReport {
  name: string;
  status: HostStatus;
  ok: number;
  changed: number;
  failed: number;
  tasks: TaskReport[];
  duration_ms: number;
  /** Remote commands run on this host. */
  commands: number;
  bytes_uploaded: number;
  smoke?: Record<string, SmokeComponent>;
  error?: string;
}

export interface RunReport<H extends HostReport = HostReport> {
  playbook: string;
  inventory: string;
  environment: string;
  check: boolean;
  started_at: string;
  duration_ms: number;
  hosts: H[];
  summary: Record<HostStatus, number> & { hosts: number; exit_code: number };
}

export function newHostReport(name: string): HostReport {
  return {
    name,
    status: "ok",
    ok: 0,
    changed: 0,
    failed: 0,
    tasks: [],
    duration_ms: 0,
    commands: 0,
    bytes_uploaded: 0,
  };
}

export function addTask(r: HostReport, t: TaskReport): void {
  r.tasks.push(t);
  if (t.status === "ok") r.ok++;
  else if (t.status === "changed") r.changed++;
  else if (t.status === "failed") r.failed++;
}

/** A host's status from its tasks, unless it was already marked unreachable or skipped. */
export function settleStatus(r: HostReport): HostStatus {
  if (r.status === "unreachable" || r.status === "skipped") return r.status;
  if (r.failed > 0 || r.error) return "failed";
  return r.changed > 0 ? "changed" : "ok";
}

export function exitCode(hosts: HostReport[]): number {
  if (hosts.some((h) => h.status === "failed")) return EXIT.failed;
  if (hosts.some((h) => h.status === "unreachable")) return EXIT.unreachable;
  return EXIT.ok;
}

export function summarize(hosts: HostReport[]): RunReport["summary"] {
  const count = (s: HostStatus) => hosts.filter((h) => h.status === s).length;
  return {
    hosts: hosts.length,
    ok: count("ok"),
    changed: count("changed"),
    failed: count("failed"),
    unreachable: count("unreachable"),
    skipped: count("skipped"),
    exit_code: exitCode(hosts),
  };
}

/** The recap's header and one entry per host: counts, commands, time, smoke results, what failed. */
export function recapHosts(report: RunReport): string {
  const width = Math.max(4, ...report.hosts.map((h) => h.name.length));
  const lines = [`RECAP (${report.playbook}${report.check ? ", check mode" : ""}) ${"*".repeat(40)}`];
  for (const h of report.hosts) {
    const smoke = h.smoke
      ? "  smoke: " +
        Object.entries(h.smoke)
          .map(([k, v]) => `${k}=${v.status}`)
          .join(" ")
      : "";
    lines.push(
      `${h.name.padEnd(width)} : ${h.status.padEnd(11)} ok=${h.ok} changed=${h.changed} failed=${h.failed} commands=${h.commands} ${(h.duration_ms / 1000).toFixed(2)}s${smoke}` +
        [
          h.error,
          ...h.tasks
            .filter((t) => t.status === "failed" && t.message !== h.error)
            .map((t) => `${t.name}: ${t.message}`),
        ]
          .filter(Boolean)
          .map((m) => `\n${" ".repeat(width)}   ${m!.split("\n").join(`\n${" ".repeat(width)}   `)}`)
          .join(""),
    );
  }
  return lines.join("\n");
}

/** The recap's last line: hosts by status and the run's time. */
export function recapTotals(report: RunReport): string {
  const s = report.summary;
  return `${s.hosts} hosts: ${s.ok} ok, ${s.changed} changed, ${s.failed} failed, ${s.unreachable} unreachable, ${s.skipped} skipped in ${(report.duration_ms / 1000).toFixed(2)}s`;
}

export function recap(report: RunReport): string {
  return `${recapHosts(report)}\n${recapTotals(report)}`;
}

/** The fields every playbook's report starts with. */
export function runReport<H extends HostReport>(
  playbook: string,
  inv: { file: string; environment: string },
  started: number,
  hosts: H[],
  check = false,
): RunReport<H> {
  return {
    playbook,
    inventory: inv.file,
    environment: inv.environment,
    check,
    started_at: new Date(started).toISOString(),
    duration_ms: Date.now() - started,
    hosts,
    summary: summarize(hosts),
  };
}

/** A report as JSON with every secret masked, also where JSON escaping changed its spelling. */
export function maskedJson(report: object, secrets: readonly string[]): string {
  return (
    maskSecrets(JSON.stringify(report, null, 2), [...secrets, ...secrets.map((s) => JSON.stringify(s).slice(1, -1))]) +
    "\n"
  );
}

export function writeJsonReport(file: string, report: object, secrets: readonly string[]): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, maskedJson(report, secrets));
}
