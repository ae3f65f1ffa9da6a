// The restore plan from recorded plan-script outputs, the pyinfra way: one JSON file per case under
// cases/ (the output, recorded on a lab host or derived from a recording as `source` says, the
// operator's --backup/--at, and the plan or the refusal expected).
import { describe, it, expect } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { buildPlan, parsePlanFacts, planText, restoreTarget } from "../../src/restore/plan.ts";
import { parseAt } from "../../src/restore/select.ts";
import type { Component } from "../../src/cli/options.ts";

interface PlanCase {
  about: string;
  source: string;
  component: Component;
  pick: { backup?: string; at?: string; from?: "local" | "offsite" };
  target_db?: string;
  now_ms?: number;
  stdout: string[];
  expect?: Record<string, unknown>;
  /** Lines the plan's text must hold (where the backup is read from). */
  expect_text?: string[];
  expect_problem?: string;
}

const BD = "/tmp/cep-lab-uU7oz1/hosts/lab1/root/var/backups/cepcomunicacion";
const APPD = "/tmp/cep-lab-uU7oz1/hosts/lab1/root/var/www/cepcomunicacion";
const vars = {
  database: { name: "cepcomunicacion" },
  paths: { media_dir: `${APPD}/uploads`, app_dir: APPD },
} as unknown as Parameters<typeof restoreTarget>[1];

const dir = join(import.meta.dirname, "cases");
const cases = readdirSync(dir).filter((f) => f.endsWith(".json"));

describe("restore plans from recorded outputs", () => {
  it("has cases for every component, --at, --backup and refusals", () => {
    const all = cases.map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as PlanCase);
    for (const c of ["database", "media", "config"]) expect(all.some((x) => x.component === c)).toBe(true);
    expect(all.some((x) => x.pick.at)).toBe(true);
    expect(all.some((x) => x.pick.backup)).toBe(true);
    expect(all.filter((x) => x.expect_problem).length).toBeGreaterThanOrEqual(3);
    expect(all.some((x) => x.pick.from === "offsite" && x.expect)).toBe(true);
    expect(all.some((x) => (x.expect?.source as { fallback?: boolean } | undefined)?.fallback === true)).toBe(true);
  });
  for (const file of cases) {
    const c = JSON.parse(readFileSync(join(dir, file), "utf8")) as PlanCase;
    it(`${file}: ${c.about}`, () => {
      const facts = parsePlanFacts(c.stdout.join("\n") + "\n");
      let atEpoch: number | undefined;
      if (c.pick.at) {
        const a = parseAt(c.pick.at, c.now_ms ?? Date.now());
        if ("problem" in a) throw new Error(a.problem);
        atEpoch = a.epoch;
      }
      const target = restoreTarget(c.component, vars, { targetDb: c.target_db });
      const r = buildPlan(
        facts,
        { host: "lab1", environment: "lab", component: c.component, backupDir: BD, target },
        { backup: c.pick.backup, atEpoch, from: c.pick.from },
      );
      if (c.expect_problem) {
        expect(r).toEqual({ problem: c.expect_problem });
        return;
      }
      if ("problem" in r) throw new Error(r.problem);
      expect(r.plan).toMatchObject(c.expect!);
      // The text names the backup, what it replaces and where the pre-restore backup goes.
      const text = planText(r.plan);
      expect(text).toContain(r.plan.backup.name);
      expect(text).toContain(r.plan.replaces);
      expect(text).toContain(r.plan.pre_restore);
      for (const t of c.expect_text ?? []) expect(text).toContain(t);
    });
  }
});

describe("--at", () => {
  const now = Date.parse("2026-12-01T14:00:00Z");
  it("takes ISO times with a zone, dates (UTC midnight) and ages", () => {
    expect(parseAt("2026-11-30T02:00Z", now)).toEqual({ epoch: Date.parse("2026-11-30T02:00:00Z") / 1000 });
    expect(parseAt("2026-11-30T03:00:00+01:00", now)).toEqual({ epoch: Date.parse("2026-11-30T02:00:00Z") / 1000 });
    expect(parseAt("2026-11-30", now)).toEqual({ epoch: Date.parse("2026-11-30T00:00:00Z") / 1000 });
    expect(parseAt("2d", now)).toEqual({ epoch: now / 1000 - 2 * 86400 });
    expect(parseAt("6h", now)).toEqual({ epoch: now / 1000 - 6 * 3600 });
    expect(parseAt("30m", now)).toEqual({ epoch: now / 1000 - 1800 });
    expect(parseAt("1w", now)).toEqual({ epoch: now / 1000 - 7 * 86400 });
  });
  it("refuses a time without a zone and anything else, saying what it takes", () => {
    expect(parseAt("2026-11-30T02:00", now)).toEqual({ problem: expect.stringContaining("has no time zone") });
    for (const bad of ["yesterday", "2d3h", "-2d", "2026-13-45T00:00Z", "2026/11/30"])
      expect(parseAt(bad, now), bad).toEqual({ problem: expect.stringContaining("is neither an ISO 8601 time") });
  });
});
