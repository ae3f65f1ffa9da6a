// The status table, summary counts and line (pure), from recorded status outputs (cases/).
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { statusResult } from "../../src/status/parse.ts";
import { backupSummary, statusTable, summaryLine, type StatusHostReport } from "../../src/status/table.ts";
import { newHostReport, runReport } from "../../src/run/report.ts";

function host(name: string, caseName: string): StatusHostReport {
  const c = JSON.parse(readFileSync(join(import.meta.dirname, "cases", `${caseName}.json`), "utf8"));
  return { ...newHostReport(name), backup_status: statusResult({ ...c, stdout: c.stdout.join("\n") }) };
}

const cells = (table: string, name: string) =>
  table
    .split("\n")
    .find((l) => l.startsWith(`${name} `))!
    .split(/ {2,}/);

describe("status table", () => {
  const hosts: StatusHostReport[] = [
    host("web1", "ok"),
    host("web2", "warning"),
    host("web3", "critical"),
    host("web4", "script-failed"),
    { ...newHostReport("web5"), status: "unreachable", error: "connect ECONNREFUSED 127.0.0.1:22\nmore" },
    { ...newHostReport("web6"), status: "skipped", error: "not run: an earlier batch exceeded --max-fail-percent" },
  ];
  const table = statusTable(hosts);

  it("one row per host: checks, newest dump, disk, the first issue", () => {
    expect(table.split("\n")[0]).toMatch(
      /^HOST\s+OVERALL\s+DATABASE\s+WEEKLY\s+MEDIA\s+CONFIG\s+DISK\s+NEWEST DUMP\s+DISK USED\s+OFFSITE\s+ISSUES$/,
    );
    // A status file without an off-site section (recorded before it existed): "-".
    expect(cells(table, "web1")).toEqual(["web1", "OK", "OK", "OK", "OK", "OK", "OK", "3s (daily)", "23%", "-", "-"]);
    expect(cells(table, "web2").slice(1, 3)).toEqual(["WARNING", "WARNING"]);
    expect(cells(table, "web2")[10]).toBe(
      "1 warning: database: cepcomunicacion_2026-12-01_10-14-18.dump has no manifest",
    );
    expect(cells(table, "web3")[10]).toBe(
      "1 critical: database: checksum MISMATCH: cepcomunicacion_2026-12-01_10-14-18.dump is corrupt",
    );
    expect(cells(table, "web5")).toEqual([
      "web5",
      "UNREACHABLE",
      "-",
      "-",
      "-",
      "-",
      "-",
      "-",
      "-",
      "-",
      "connect ECONNREFUSED 127.0.0.1:22",
    ]);
    expect(cells(table, "web6").slice(0, 2)).toEqual(["web6", "SKIPPED"]);
  });

  it("a host with several issues: the first in its row, all of them listed below the table", () => {
    expect(cells(table, "web4").slice(0, 2)).toEqual(["web4", "UNKNOWN"]);
    expect(cells(table, "web4")[7]).toBe("none");
    expect(cells(table, "web4")[10]).toBe("2 critical: status: no status file was written (+more below)");
    expect(table).toContain(
      "\n\nIssues:\n  web4: CRITICAL status: no status file was written\n  web4: CRITICAL status: status script exit 126: bash: /tmp/x: Permission denied",
    );
  });

  it("the OFFSITE column: the age of the oldest daily kind's newest off-site copy and the off-site status", () => {
    const t = statusTable([host("web7", "offsite-ok"), host("web8", "offsite-stale")]);
    // database 10s, config 7s, media 5s: the oldest, 10s (the monthly copy is not counted).
    expect(cells(t, "web7")[9]).toBe("10s (OK)");
    expect(cells(t, "web8")[9]).toBe("30h 00m (WARNING)");
    expect(cells(t, "web8")[10]).toBe(
      "1 warning: offsite: newest off-site media copy 2026-12-01_13-05-00 is 30 hours old (limit 26 hours)",
    );
  });

  it("the summary counts a reached host without a known status as UNKNOWN, never an unreachable one", () => {
    const summary = backupSummary(hosts);
    expect(summary).toEqual({ OK: 1, WARNING: 1, CRITICAL: 1, UNKNOWN: 2, unreachable: 1 });
    const r = { ...runReport("status", { file: "/i.yml", environment: "lab" }, Date.now(), hosts), duration_ms: 1234 };
    expect(summaryLine({ ...r, backup_summary: summary })).toBe(
      "6 hosts: 1 OK, 1 WARNING, 1 CRITICAL, 2 UNKNOWN, 1 unreachable in 1.23s",
    );
  });
});
