// Status knows drills (pure): each host's last drill from drill reports built on recorded outputs.
import { describe, it, expect } from "vitest";
import { drillStatusTable, hostDrillStatus } from "../../src/status/drills.ts";
import type { DrillHistoryEntry } from "../../src/drill/html.ts";
import { caseHost, caseReport } from "../helpers/drill-cases.ts";

const now = Date.parse("2026-12-01T12:00:00Z");
const daysAgo = (d: number) => new Date(now - d * 86400_000).toISOString();
const entry = (at: string, hosts: Parameters<typeof caseReport>[0]): DrillHistoryEntry => ({
  file: `${at.replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}.json`,
  report: caseReport(hosts, at),
});

describe("status: last drill per host", () => {
  const entries = [
    entry(daysAgo(93), [caseHost("web1", "pass"), caseHost("web2", "pass")]),
    entry(daysAgo(0.1), [caseHost("web1", "pass")]),
    entry(daysAgo(10), [caseHost("web3", "weekly-dump-corrupted")]),
    { file: "broken.json", error: "not valid JSON" },
  ];

  it("drilled today and passed: OK with its verdict and age", () => {
    expect(hostDrillStatus("web1", entries, now)).toEqual({
      status: "OK",
      verdict: "PASSED",
      drilled_at: daysAgo(0.1),
      age_seconds: 8640,
      report: entries[1]!.file,
      message: "last drill PASSED 2h 24m ago",
    });
  });

  it("a last drill 93 days old is a WARNING; one never drilled too; a failed one too", () => {
    expect(hostDrillStatus("web2", entries, now)).toMatchObject({
      status: "WARNING",
      verdict: "PASSED",
      age_seconds: 93 * 86400,
      message: "the last drill is 93d 0h old (older than 92 days)",
    });
    expect(hostDrillStatus("web2", entries, now - 2 * 86400_000).status).toBe("OK");
    expect(hostDrillStatus("web9", entries, now)).toMatchObject({
      status: "WARNING",
      verdict: null,
      message: "never drilled: no drill report for web9 (npm run drill)",
    });
    expect(hostDrillStatus("web3", entries, now)).toMatchObject({
      status: "WARNING",
      verdict: "FAILED",
      message: `the last drill FAILED (${entries[2]!.file})`,
    });
  });

  it("an unreachable host in a drill was not drilled", () => {
    const gone = caseHost("web1", "pass");
    gone.status = "unreachable";
    const e = [entry(daysAgo(100), [caseHost("web1", "pass")]), entry(daysAgo(1), [gone])];
    expect(hostDrillStatus("web1", e, now)).toMatchObject({ status: "WARNING", age_seconds: 100 * 86400 });
  });

  it("the drills section: one line per host", () => {
    const t = drillStatusTable(
      ["web1", "web2", "web9"].map((name) => ({ name, drill: hostDrillStatus(name, entries, now) })),
      "reports/drills/staging",
    ).split("\n");
    expect(t[0]).toBe("Drills (reports/drills/staging):");
    expect(t[1]).toMatch(/^HOST\s+LAST DRILL\s+VERDICT\s+AGE\s+STATUS\s+NOTE$/);
    expect(t[2]).toMatch(/^web1\s+\S+\s+PASSED\s+2h 24m\s+OK\s+-$/);
    expect(t[3]).toMatch(/^web2\s+\S+\s+PASSED\s+93d 0h\s+WARNING\s+the last drill is 93d 0h old/);
    expect(t[4]).toMatch(/^web9\s+never\s+-\s+-\s+WARNING\s+never drilled/);
  });
});
