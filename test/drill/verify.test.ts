// The drill's verdict on recorded outputs, the pyinfra way: one JSON file per case under cases/ (the
// drill script's stdout, exit code and stderr, recorded on a lab host or derived from a recording by
// the edit its `source` names) and the components, cleanup and verdict expected from it.
import { describe, it, expect } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { verifyDrill, type DrillTargets } from "../../src/drill/verify.ts";

interface DrillCase {
  about: string;
  source: string;
  code: number;
  stderr: string;
  stdout: string[];
  /** drill.rto_minutes / drill.rpo_hours for this case (default: the inventory defaults, 60 / 26). */
  targets?: DrillTargets;
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
      const { drill, tasks } = verifyDrill(
        { code: c.code, stderr: c.stderr, stdout: c.stdout.join("\n") + "\n" },
        0,
        c.targets,
      );
      const { failed_tasks, ...want } = c.expect;
      expect(drill).toMatchObject(want);
      expect(tasks.filter((t) => t.status === "failed").map((t) => t.name)).toEqual(failed_tasks);
      // One task per component and one for the cleanup (or one for a drill that never started).
      expect(tasks.map((t) => t.name)).toEqual(
        drill.error
          ? ["drill"]
          : [
              "drill database",
              "drill media",
              "drill config",
              "drill weekly",
              "drill monthly",
              // --live: drill.verify_command on the restored host.
              ...(drill.mode === "live" ? ["drill verify_command"] : []),
              "drill cleanup",
              "drill targets",
            ],
      );
      for (const [name, comp] of Object.entries(drill.components))
        expect(tasks.find((t) => t.name === `drill ${name}`)!.message).toBe(`${comp.status}: ${comp.details}`);
      expect(drill.verdict).toBe(failed_tasks.length ? "FAILED" : "PASSED");
    });
  }
});

describe("drill targets", () => {
  const load = (name: string) => JSON.parse(readFileSync(join(dir, `${name}.json`), "utf8")) as DrillCase;
  const run = (c: DrillCase) =>
    verifyDrill({ code: c.code, stderr: c.stderr, stdout: c.stdout.join("\n") + "\n" }, 0, c.targets);

  it("a missed target says which one and by how much; a met one says it is within", () => {
    const rto = run(load("rto-target-missed")).tasks.find((t) => t.name === "drill targets")!;
    expect(rto.message).toBe(
      "RTO target missed: the recovery took 1.11s, target 0 min, missed by 1.11s; RPO 1s within the target of 26 h",
    );
    const rpo = run(load("rpo-target-missed")).tasks.find((t) => t.name === "drill targets")!;
    expect(rpo.message).toBe(
      "RTO 1.11s within the target of 60 min; RPO target missed: the oldest backup restored was 30h 00m old, target 26 h, missed by 4h 00m",
    );
    const ok = run(load("pass")).tasks.find((t) => t.name === "drill targets")!;
    expect(ok.status).toBe("ok");
  });

  it("the weekly and monthly dumps are outside the recovery's RPO: an old monthly one misses nothing", () => {
    const c = load("pass");
    const monthly = c.stdout
      .filter((l) => l.startsWith("DRILL|database|"))
      .map((l) => l.replace("DRILL|database|", "DRILL|monthly|"))
      .map((l) =>
        l.startsWith("DRILL|monthly|backup_epoch|") ? `DRILL|monthly|backup_epoch|${1796120058 - 40 * 86400}` : l,
      )
      .map((l) => (l === "DRILL|monthly|kind|daily" ? "DRILL|monthly|kind|monthly" : l));
    c.stdout = c.stdout.filter((l) => !l.startsWith("DRILL|monthly|none|"));
    c.stdout.splice(
      c.stdout.findIndex((l) => l.startsWith("DRILL|cleanup|")),
      0,
      ...monthly,
    );
    const { drill, tasks } = run(c);
    expect(drill.components.monthly).toMatchObject({ status: "passed", kind: "monthly", rpo_seconds: 40 * 86400 + 1 });
    expect(drill.rpo_seconds_max).toBe(1);
    expect(drill.verdict).toBe("PASSED");
    expect(tasks.filter((t) => t.status === "failed")).toEqual([]);
  });

  it("no time for a recovery that failed: the targets are skipped (the failed restore fails the host)", () => {
    const { drill, tasks } = run(load("killed-during-media"));
    expect(drill.phases).toBeNull();
    expect(tasks.find((t) => t.name === "drill targets")!.status).toBe("skipped");
  });
});
