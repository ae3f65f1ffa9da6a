// Restore points from recorded backups-script outputs, the pyinfra way: one JSON file per case
// under cases/ (the output, recorded on a lab host or derived from a recording as `source` says,
// and what parsePoints makes of it). Points are compared in order, each with the fields it lists.
import { describe, it, expect } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { countByKind, parsePoints } from "../../src/backups/parse.ts";

interface PointsCase {
  about: string;
  source: string;
  stdout: string[];
  expect: Record<string, unknown> & { points: Record<string, unknown>[]; counts: Record<string, number> };
}

const dir = join(import.meta.dirname, "cases");
const cases = readdirSync(dir).filter((f) => f.endsWith(".json"));

describe("restore points parsed from recorded outputs", () => {
  it("has cases", () => expect(cases.length).toBeGreaterThanOrEqual(3));
  for (const file of cases) {
    const c = JSON.parse(readFileSync(join(dir, file), "utf8")) as PointsCase;
    it(`${file}: ${c.about}`, () => {
      const l = parsePoints(c.stdout.join("\n") + "\n", 0);
      const { points, counts, ...rest } = c.expect;
      expect(l).toMatchObject(rest);
      expect(l.points).toHaveLength(points.length);
      points.forEach((p, i) => expect(l.points[i]).toMatchObject(p));
      expect(countByKind(l.points)).toEqual(counts);
    });
  }
});
