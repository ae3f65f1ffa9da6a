// A host's backup status from recorded status-script outputs, the pyinfra way: one JSON file per
// case under cases/ (stdout, exit code, stderr, recorded on a lab host or derived from a recording
// by the edit its `source` names), the status expected and whether it fails the host.
import { describe, it, expect } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { failsHost, statusResult, type BackupIssue } from "../../src/status/parse.ts";

interface StatusCase {
  about: string;
  source: string;
  code: number;
  stderr: string;
  stdout: string[];
  fails_host: boolean;
  expect: Record<string, unknown> & {
    issues: (BackupIssue | { level: string; check: string; message_match: string })[];
  };
}

const dir = join(import.meta.dirname, "cases");
const cases = readdirSync(dir).filter((f) => f.endsWith(".json"));

describe("status parsing on recorded outputs", () => {
  it("covers every overall status", () => {
    const seen = cases.map((f) => (JSON.parse(readFileSync(join(dir, f), "utf8")) as StatusCase).expect.overall_status);
    for (const s of ["OK", "WARNING", "CRITICAL", "UNKNOWN"]) expect(seen).toContain(s);
  });

  for (const file of cases) {
    const c = JSON.parse(readFileSync(join(dir, file), "utf8")) as StatusCase;
    it(`${file}: ${c.about}`, () => {
      const s = statusResult({ code: c.code, stderr: c.stderr, stdout: c.stdout.join("\n") + "\n" });
      const issues = c.expect.issues.map((i) =>
        "message_match" in i ? { level: i.level, check: i.check, message: expect.stringMatching(i.message_match) } : i,
      );
      expect(s).toMatchObject({ ...c.expect, issues });
      expect(s.issues).toHaveLength(issues.length);
      expect(failsHost(s)).toBe(c.fails_host);
    });
  }
});
