// The drill's report sections and renderings (pure), from recorded drill outputs (cases/).
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { verifyDrill } from "../../src/drill/verify.ts";
import {
  drillMarkdown,
  drillSection,
  drillTable,
  drillVerdictLine,
  reportBaseName,
  type DrillHostReport,
  type DrillRunReport,
} from "../../src/drill/report.ts";
import { addTask, newHostReport, runReport, settleStatus } from "../../src/run/report.ts";

/** A host's report as the drill job builds it, from a recorded case. */
function host(name: string, caseName: string): DrillHostReport {
  const c = JSON.parse(readFileSync(join(import.meta.dirname, "cases", `${caseName}.json`), "utf8"));
  const { drill, tasks } = verifyDrill({ code: c.code, stderr: c.stderr, stdout: c.stdout.join("\n") });
  const r: DrillHostReport = { ...newHostReport(name), drill, commands: 1, duration_ms: 2500 };
  for (const t of tasks) addTask(r, t);
  r.status = settleStatus(r);
  return r;
}

function report(hosts: DrillHostReport[]): DrillRunReport {
  const head = runReport(
    "drill",
    { file: "/inv/staging.yml", environment: "staging" },
    Date.parse("2026-12-01T10:14:19Z"),
    hosts,
  );
  return { ...head, duration_ms: 3100, drill: drillSection(head, "staging") };
}

describe("drill section", () => {
  it("PASSED when every host passed; worst RPO and RTO named by host", () => {
    const r = report([host("web1", "pass"), host("web2", "pass")]);
    expect(r.drill).toMatchObject({ verdict: "PASSED", hosts_passed: 2, report_files: null });
    expect(r.drill.worst_rpo).toEqual({ host: "web1", component: "database", seconds: 1 });
    // The recovery's phases: the three restores and the drill's own verification (9 + 54 ms).
    expect(r.drill.worst_rto).toEqual({ host: "web1", ms: 728 + 208 + 114 + 9 + 54 });
  });
  it("FAILED when a host failed; INCOMPLETE when one was unreachable and none failed", () => {
    expect(report([host("web1", "pass"), host("web2", "media-file-count-off")]).drill).toMatchObject({
      verdict: "FAILED",
      hosts_passed: 1,
    });
    const gone = { ...newHostReport("web2"), status: "unreachable" as const, error: "connect ECONNREFUSED" };
    expect(report([host("web1", "pass"), gone]).drill).toMatchObject({ verdict: "INCOMPLETE", hosts_passed: 1 });
  });
});

describe("drill renderings", () => {
  const r = report([host("web1", "pass"), host("web2", "config-file-corrupted"), host("web3", "not-installed")]);

  it("Markdown: verdict, one row per component with RPO/RTO/size/counts, the failures, the hosts", () => {
    const md = drillMarkdown(r);
    expect(md).toMatch(/^# Restore drill: staging \(staging\)\n/);
    expect(md).toContain("| Verdict | **FAILED**: 1 of 3 hosts passed |");
    expect(md).toContain("| Worst RPO | 1s (web1 database) |");
    expect(md).toContain(
      "| web1 | database | passed | cepcomunicacion_2026-12-01_10-14-18.dump (daily) | 2026-12-01T10:14:18.000Z | 1s | 728ms | 64.6 KiB | 16 tables, 580 rows (manifest 16 / 580) |",
    );
    expect(md).toContain(
      "| web1 | media | passed | 2026-12-01_10-14-18 | 2026-12-01T10:14:18.000Z | 1s | 208ms | 150 KiB | 49 files, 150 KiB (manifest 49 / 150 KiB) |",
    );
    expect(md).toMatch(/\| web1 \| \*\*host\*\* \| \*\*PASSED\*\* \| - \| - \| 1s \| 1\.11s \|/);
    expect(md).toMatch(
      /\| web2 \| config \| \*\*FAILED\*\* \| config_2026-12-01_10-14-18\.tar\.gz \|.*\| differs from the archive: payload\.config\.ts \|/,
    );
    expect(md).toMatch(
      /\| web3 \| - \| FAILED \| .*\| the restore scripts are not installed in .* \(run provision first\) \|/,
    );
    expect(md).toContain(
      "## Failures\n\n- web2 config: failed: differs from the archive: payload.config.ts\n- web3: the restore scripts are not installed",
    );
    expect(md).toMatch(
      /## Hosts\n\n- web1: ok, 1 remote command\(s\), 2\.5s, temporary folder .*-drill-9lB0QP, scratch database cepcomunicacion_drill_6c27ded4\n/,
    );
  });

  it("console table and verdict line", () => {
    const lines = drillTable(r).split("\n");
    expect(lines[0]).toMatch(/^HOST\s+COMPONENT\s+RESULT\s+RPO\s+RTO\s+SIZE\s+RESTORED$/);
    expect(lines[1]).toMatch(
      /^web1\s+database\s+passed\s+1s\s+728ms\s+64\.6 KiB\s+16 tables, 580 rows \(manifest 16 \/ 580\)$/,
    );
    expect(lines.find((l) => l.startsWith("web2") && l.includes("config"))).toMatch(
      /FAILED .*differs from the archive: payload\.config\.ts$/,
    );
    expect(lines.find((l) => l.startsWith("web3"))).toMatch(/^web3\s+-\s+FAILED\s+-\s+-\s+-\s+the restore scripts/);
    expect(drillVerdictLine(r)).toBe("DRILL FAILED: 1 of 3 hosts passed in 3.1s");
    expect(reportBaseName(r)).toBe("20261201T101419Z");
  });
});

describe("drill Markdown stands alone", () => {
  it("which backup, its checksum, where it was restored, the phases and the targets", () => {
    const md = drillMarkdown(report([host("web1", "pass")]));
    expect(md).toMatch(
      /\| web1 \| database \| \/tmp\/\S+\/database\/cepcomunicacion_2026-12-01_10-14-18\.dump \| sha256 3d6b13f697da58cd2cad06bdfe9c03dc98ababbb36e80b7be83cf4b1c63e31f8 \| scratch database cepcomunicacion_drill_6c27ded4 \(dropped\) \|/,
    );
    expect(md).toMatch(
      /\| web1 \| media \| \S+ \| per-file SHA-256 list 2026-12-01_10-14-18\.sha256 \| \S+-drill-9lB0QP\/media \(removed\) \|/,
    );
    expect(md).toContain(
      "| web1 | RTO | 1.11s | 60 min | met | fetch 0ms, database 728ms, media 208ms, config 114ms, verification 63ms |",
    );
    expect(md).toMatch(/\| web1 \| RPO \| 1s \| 26 h \| met \|/);
  });
});

describe("drill Markdown and table of a --live drill", () => {
  const head = (hosts: DrillHostReport[]) =>
    runReport("drill", { file: "/inv/staging.yml", environment: "staging" }, Date.parse("2026-12-01T17:03:05Z"), hosts);
  const live = (hosts: DrillHostReport[]): DrillRunReport => {
    const h = head(hosts);
    return { ...h, duration_ms: 9000, drill: drillSection(h, "staging", "live") };
  };
  const r = live([host("stg1", "live-pass"), host("stg2", "live-database-rolled-back")]);
  const md = drillMarkdown(r);

  it("says it was live, that the older tiers went to scratch, and lists each pre-restore backup and rollback", () => {
    expect(r.drill).toMatchObject({ mode: "live", verdict: "FAILED", hosts_passed: 1 });
    expect(md).toContain("| Mode | **live**: restored over the live database, media and app config |");
    expect(md).toContain("The weekly and monthly dumps went into a scratch database, verified there and dropped");
    expect(md).not.toContain("never over live data");
    expect(md).toMatch(
      /## Pre-restore backups\n\n.*\n\n\| Host \| Component \| Replaced \| Pre-restore backup \| On the host \| Rollback \|\n\|---\|---\|---\|---\|---\|---\|\n\| stg1 \| database \| cepcomunicacion \| \/tmp\/\S+\/database\/pre-restore\/pre-restore_cepcomunicacion_2026-12-01_17-03-06\.dump \| yes \| - \|\n\| stg1 \| media \| \/tmp\/\S+\/uploads \| \/tmp\/\S+\/media\/pre-restore\/2026-12-01_17-03-08 \| yes \| - \|\n\| stg1 \| config \| /,
    );
    expect(md).toMatch(
      /\| stg2 \| database \| cepcomunicacion \| \S+pre-restore_cepcomunicacion_2026-12-01_17-03-15\.dump \| yes \| none needed: the original database was put back as cepcomunicacion \|/,
    );
    // Restored into: the live database and folders, not scratch space; the monthly dump in scratch.
    expect(md).toMatch(
      /\| stg1 \| database \| \S+\.dump \| sha256 [0-9a-f]{64} \| the live database cepcomunicacion \(pre-restore backup \S+\) \|/,
    );
    expect(md).toMatch(
      /\| stg1 \| monthly \| \S+\.dump \| sha256 [0-9a-f]{64} \| scratch database cepcomunicacion_drill_050c5f3e \(dropped\) \|/,
    );
  });

  it("verify_command: a row per host in the results, its own section with the exit status and last output", () => {
    expect(md).toMatch(
      /\| stg1 \| verify_command \| passed \| - \| - \| - \| 5ms \| - \| - \| exit 0 after 5ms; last output: app ok \/ second line \|/,
    );
    expect(md).toMatch(/\| stg2 \| verify_command \| skipped \| .* \| not run: the database restore did not pass \|/);
    expect(md).toMatch(/\| stg2 \| media \| skipped \| - \|/);
    expect(md).toContain(
      "## verify_command\n\n| Host | Command | Result | Exit | Took | Last output |\n|---|---|---|---|---|---|\n| stg1 | echo app ok; echo second line | passed | 0 | 5ms | app ok / second line |\n| stg2 | echo app ok; echo second line | skipped | - | - | not run: the database restore did not pass |",
    );
    const lines = drillTable(r).split("\n");
    expect(lines.find((l) => l.startsWith("stg1") && l.includes("verify_command"))).toMatch(
      /^stg1\s+verify_command\s+passed\s+5ms\s+exit 0 after 5ms; last output: app ok \/ second line$/,
    );
    expect(lines.find((l) => l.startsWith("stg2") && l.includes(" media "))).toMatch(/^stg2\s+media\s+skipped\s+/);
  });

  it("a scratch drill's Markdown says scratch", () => {
    expect(drillMarkdown(report([host("web1", "pass")]))).toContain(
      "| Mode | scratch: restored into scratch space, live data not touched |",
    );
  });
});
