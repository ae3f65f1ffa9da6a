// Drill reports built from the recorded drill outputs (test/drill/cases/), as the drill job builds
// them: for the pure report, history page and status tests.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { verifyDrill, type DrillTargets } from "../../src/drill/verify.ts";
import { drillSection, type DrillHostReport, type DrillRunReport } from "../../src/drill/report.ts";
import { addTask, newHostReport, runReport, settleStatus } from "../../src/run/report.ts";

const CASES = join(import.meta.dirname, "..", "drill", "cases");

/** A host's report from a recorded case (its targets, or the defaults). */
export function caseHost(name: string, caseName: string, targets?: DrillTargets): DrillHostReport {
  const c = JSON.parse(readFileSync(join(CASES, `${caseName}.json`), "utf8"));
  const { drill, tasks } = verifyDrill(
    { code: c.code, stderr: c.stderr, stdout: c.stdout.join("\n") },
    undefined,
    targets ?? c.targets,
  );
  const r: DrillHostReport = { ...newHostReport(name), drill, commands: 1, duration_ms: 2500 };
  for (const t of tasks) addTask(r, t);
  r.status = settleStatus(r);
  return r;
}

/** A run's report of these hosts, started at `startedAt` (ISO). */
export function caseReport(hosts: DrillHostReport[], startedAt: string, name = "staging"): DrillRunReport {
  const head = runReport("drill", { file: `/inv/${name}.yml`, environment: "staging" }, Date.parse(startedAt), hosts);
  return { ...head, started_at: startedAt, duration_ms: 3100, drill: drillSection(head, name) };
}
