import { describe, it, expect } from "vitest";
import { batches, runHosts } from "../../src/run/runner.ts";
import { newHostReport } from "../../src/run/report.ts";
import type { Host } from "../../src/inventory/types.ts";

describe("batches", () => {
  it("splits by count and by percent (at least one host a batch)", () => {
    const xs = [1, 2, 3, 4, 5, 6, 7];
    expect(batches(xs, undefined)).toEqual([xs]);
    expect(batches(xs, { count: 3 })).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
    expect(batches(xs, { percent: 25 })).toEqual([[1], [2], [3], [4], [5], [6], [7]]);
    expect(batches([1, 2, 3, 4], { percent: 50 })).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });
});

describe("runHosts", () => {
  const hosts = ["a", "b", "c", "d"].map((name) => ({ name }) as Host);
  it("stops after a batch over --max-fail-percent and reports the rest as skipped", async () => {
    const seen: string[] = [];
    const r = await runHosts(hosts, { forks: 10, serial: { count: 2 }, maxFailPercent: 0 }, async (h) => {
      seen.push(h.name);
      return { ...newHostReport(h.name), status: h.name === "b" ? "failed" : "ok" };
    });
    expect(seen.sort()).toEqual(["a", "b"]);
    expect(r.map((x) => x.status)).toEqual(["ok", "failed", "skipped", "skipped"]);
  });
  it("without --max-fail-percent a failure never stops the others; a throw becomes a failed host", async () => {
    const r = await runHosts(hosts, { forks: 2, serial: { count: 1 } }, async (h) => {
      if (h.name === "a") throw new Error("boom");
      return newHostReport(h.name);
    });
    expect(r.map((x) => x.status)).toEqual(["failed", "ok", "ok", "ok"]);
    expect(r[0]!.error).toBe("boom");
  });
});
