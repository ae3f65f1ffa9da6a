// The drill's verdict on recorded outputs, the pyinfra way: one JSON file per case under cases/ (the
// drill script's stdout, exit code and stderr, recorded on a lab host or derived from a recording by
// the edit its `source` names) and the components, cleanup and verdict expected from it.
import { describe, it, expect } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { verifyDrill } from "../../src/drill/verify.ts";

interface DrillCase {
  about: string;
  source: string;
  code: number;
  stderr: string;
  stdout: string[];
  expect: Record<string, unknown> & { verdict: "PASSED" | "FAILED"; failed_tasks: string[] };
}

const dir = join(import.meta.dirname, "cases");
const cases = readdirSync(dir).filter((f) => f.endsWith(".json"));

describe("drill verification on recorded outputs", () => {
  it("has passing and failing cases", () => {
    const verdicts = cases.map((f) => (JSON.parse(readFileSync(join(dir, f), "utf8")) as DrillCase).expect.verdict);
    expect(verdicts).toContain("PASSED");
    expect(verdicts.filter((v) => v === "FAILED").length).toBeGreaterThanOrEqual(10);
  });

  for (const file of cases) {
    const c = JSON.parse(readFileSync(join(dir, file), "utf8")) as DrillCase;
    it(`${file}: ${c.about}`, () => {
      // The fallback clock must not matter: the script prints its own (0 would show if it were used).
      const { drill, tasks } = verifyDrill({ code: c.code, stderr: c.stderr, stdout: c.stdout.join("\n") + "\n" }, 0);
      const { failed_tasks, ...want } = c.expect;
      expect(drill).toMatchObject(want);
      expect(tasks.filter((t) => t.status === "failed").map((t) => t.name)).toEqual(failed_tasks);
      // One task per component and one for the cleanup (or one for a drill that never started).
      expect(tasks.map((t) => t.name)).toEqual(
        drill.error ? ["drill"] : ["drill database", "drill media", "drill config", "drill cleanup"],
      );
      for (const [name, comp] of Object.entries(drill.components))
        expect(tasks.find((t) => t.name === `drill ${name}`)!.message).toBe(`${comp.status}: ${comp.details}`);
      expect(drill.verdict).toBe(failed_tasks.length ? "FAILED" : "PASSED");
    });
  }
});
