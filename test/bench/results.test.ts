import { describe, expect, it } from "vitest";
import { med, noopSets, record, type Cases } from "../../src/bench/results.ts";

describe("record", () => {
  it("keeps every sample, the statistics current, and what each no-op run changed", () => {
    const c: Cases = {};
    record(c, "noop_1", "no-op", { wall_ms: 300, cpu_ms: 10 });
    record(c, "noop_1", "no-op", { wall_ms: 100, cpu_ms: 30 }, ["lab1: changed: backup.conf"]);
    record(c, "noop_1", "no-op", { wall_ms: 200, cpu_ms: 20 }, ["lab1: changed: cron"]);
    expect(c.noop_1!.samples).toHaveLength(3);
    expect(c.noop_1!.wall_ms).toEqual({ n: 3, median: 200, min: 100, max: 300 });
    expect(c.noop_1!.cpu_ms.median).toBe(20);
    expect(c.noop_1!.host_cpu_ms.median).toBeNaN();
    expect(c.noop_1!.extra).toEqual({ not_noop: ["lab1: changed: backup.conf", "lab1: changed: cron"] });
    record(c, "ssh_true", "ssh", { wall_ms: 5 });
    expect(c.ssh_true!.extra).toBeUndefined();
  });

  it("med is the median of one figure, NaN for a case not measured", () => {
    const c: Cases = {};
    record(c, "k", "k", { wall_ms: 1, run_ms: 4 });
    record(c, "k", "k", { wall_ms: 3, run_ms: 8 });
    expect(med(c, "k")).toBe(2);
    expect(med(c, "k", "run_ms")).toBe(6);
    expect(med(c, "absent")).toBeNaN();
  });
});

describe("noopSets", () => {
  it("is 1, 10 and N, those the lab has", () => {
    expect(noopSets(1)).toEqual([1]);
    expect(noopSets(2)).toEqual([1, 2]);
    expect(noopSets(10)).toEqual([1, 10]);
    expect(noopSets(25)).toEqual([1, 10, 25]);
  });
});
