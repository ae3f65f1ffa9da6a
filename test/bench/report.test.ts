import { describe, expect, it } from "vitest";
import type { BenchOptions } from "../../src/bench/args.ts";
import { caseRows, consoleReport, jsonReport, targetLines, type BenchReport } from "../../src/bench/report.ts";
import { record, type Cases } from "../../src/bench/results.ts";
import type { Target } from "../../src/bench/targets.ts";

const opts: BenchOptions = {
  hosts: 1,
  reps: 2,
  scale: "small",
  rows: 1_000_000,
  json: "/x.json",
  ansible: false,
  mediaSide: false,
  mediaFiles: 100_000,
  argv: ["--hosts", "1"],
};

function report(cases: Cases, targets: Target[] = []): BenchReport {
  return {
    machine: {
      date: "2026-01-01T00:00:00.000Z",
      nproc: 2,
      cpu_model: "Test CPU",
      memory_gib: 8,
      kernel: "6.1",
      os: "Debian GNU/Linux 12 (bookworm)",
      node: "v20.0.0",
      openssh: "OpenSSH_9.2p1",
      loadavg_at_start: "0.10 0.20 0.30",
      git_head: "abc1234",
      git_dirty: false,
    },
    loadavgAtEnd: "1.00 2.00 3.00",
    opts,
    labUpMs: 1500,
    hostName: "lab1",
    cases,
    smokeParts: { database: [400, 600] },
    targets,
  };
}

describe("targetLines", () => {
  it("says PASS, MISS or n/a, the ratio against the limit, and what was measured", () => {
    expect(
      targetLines([
        { target: "a", measured: "1s vs 2s", ratio: 0.5, limit: 1.5, pass: true },
        { target: "b", measured: "3s vs 1s", ratio: 3, limit: 2, pass: false },
        { target: "c", measured: "not measured (needs --scale large)", ratio: null, limit: null, pass: null },
      ]),
    ).toEqual([
      "  PASS  a: 0.50× (limit 1.50×); 1s vs 2s",
      "  MISS  b: 3.00× (limit 2.00×); 3s vs 1s",
      "  n/a   c: not measured (needs --scale large)",
    ]);
  });
});

describe("caseRows", () => {
  it("lists cases in the table's order, a new case after the known ones, with medians, ranges and notes", () => {
    const c: Cases = {};
    record(c, "bare_pg_dump", "bare pg_dump -Fc", { wall_ms: 900, cpu_ms: 800 });
    record(c, "noop_1", "no-op, 1 host", {
      wall_ms: 1000,
      cpu_ms: 700,
      host_cpu_ms: 200,
      commands_max: 1,
      bytes_max: 0,
      host_ms_median: 300,
    });
    record(c, "noop_1", "no-op, 1 host", {
      wall_ms: 1400,
      cpu_ms: 900,
      host_cpu_ms: 220,
      commands_max: 1,
      bytes_max: 0,
      host_ms_median: 340,
    });
    record(c, "ssh_true", "ssh host true", { wall_ms: 250, cpu_ms: 60, host_cpu_ms: 90 });
    record(c, "smoke_1", "smoke", { wall_ms: 2000, cpu_ms: 1000, smoke_ms: 1000 });
    expect(caseRows(report(c))).toEqual([
      ["case", "median", "min–max", "ctl CPU", "host CPU", "cmds/host", "bytes/host", "note"],
      ["ssh host true", "250ms", "250ms–250ms", "60ms", "90ms", "-", "-", "baseline"],
      ["no-op, 1 host", "1.2s", "1s–1.4s", "800ms", "210ms", "1", "0 B", "1.00× 1 host; per-host 320ms"],
      ["smoke", "2s", "2s–2s", "1s", "-", "-", "-", "smoke 1s: database 500ms"],
      ["bare pg_dump -Fc", "900ms", "900ms–900ms", "800ms", "-", "-", "-", ""],
    ]);
  });
});

describe("consoleReport and jsonReport", () => {
  it("head the table with the run's size and the machine, and record the command that reproduces it", () => {
    const c: Cases = {};
    record(c, "noop_1", "no-op, 1 host", { wall_ms: 1000, commands_max: 1, bytes_max: 0 });
    const r = report(c);
    const text = consoleReport(r).split("\n");
    expect(text[0]).toBe("");
    expect(text[1]).toBe("Benchmarks (2 reps, medians; 2 CPUs Test CPU, 8 GiB; lab of 1 hosts up in 1.5s)");
    expect(text).toContain(
      "         pyinfra (published, 2024) 1.27 s / 2.24 s / 6.54 s for 1/25/100 hosts. Ours: 1s for 1.",
    );
    expect(text.at(-1)).toContain("(load average at the start: 0.10 0.20 0.30, now 1.00 2.00 3.00)");
    expect(text).not.toContain("Large scale");
    const j = jsonReport(r);
    expect(Object.keys(j)).toEqual([
      "machine",
      "options",
      "command",
      "lab",
      "cases",
      "smoke_components_ms",
      "large",
      "targets",
      "anchors",
    ]);
    expect(j.command).toBe("npm run bench -- --hosts 1");
    expect(j.options).toEqual({ hosts: 1, reps: 2, scale: "small", ansible: null, forks: "default (10)" });
    expect(j.smoke_components_ms).toEqual({ database: { n: 2, median: 500, min: 400, max: 600 } });
    expect((j.machine as Record<string, unknown>).loadavg_at_end).toBe("1.00 2.00 3.00");
  });
});
