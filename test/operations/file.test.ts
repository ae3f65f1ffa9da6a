// Data-driven, as pyinfra's tests: one JSON case per behaviour (desired file, recorded fact,
// expected plan), run by one generic test.
import { describe, it, expect } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadDiffer, planFile } from "../../src/operations/file.ts";

const dir = join(import.meta.dirname, "cases", "file");
const differ = await loadDiffer();

describe("planFile", () => {
  for (const name of readdirSync(dir)) {
    it(name.replace(/\.json$/, ""), () => {
      const c = JSON.parse(readFileSync(join(dir, name), "utf8"));
      const p = planFile(c.desired, c.fact, { diff: c.diff ? differ : undefined, secrets: c.secrets });
      expect(p.changed).toBe(c.expect.changed);
      if (c.expect.reasonIncludes) expect(p.reason).toContain(c.expect.reasonIncludes);
      for (const s of c.expect.scriptIncludes ?? []) expect(p.script).toContain(s);
      for (const s of c.expect.scriptExcludes ?? []) expect(p.script).not.toContain(s);
      for (const s of c.expect.diffIncludes ?? []) expect(p.diff).toContain(s);
      if (c.expect.errorIncludes) expect(p.error).toContain(c.expect.errorIncludes);
      else expect(p.error).toBeUndefined();
      if (!c.expect.changed) expect(p.script).toBe("");
    });
  }

  it("masks secret values in diffs and whole secret files", () => {
    const base = { path: "/x", mode: 0o600, owner: "root", group: "root", tags: ["config" as const], template: "t" };
    const d = planFile(
      { ...base, content: "PW=s3cr:t\n" },
      { exists: true, type: "file", mode: 0o600, owner: "root", group: "root", sha256: "0", content: "PW=old\n" },
      { diff: differ, secrets: ["s3cr:t"] },
    );
    expect(d.diff).toContain("+PW=********");
    expect(d.diff).not.toContain("s3cr:t");
    const s = planFile(
      { ...base, content: "h:1:*:u:pw\n", secret: true },
      { exists: true, type: "file", mode: 0o600, owner: "root", group: "root", sha256: "0", content: "h:1:*:u:old\n" },
      { diff: differ },
    );
    expect(s.diff).toContain("diff masked");
    expect(s.diff).not.toContain("old");
    expect(s.script).toContain(" 0 <<'CEP_PAYLOAD_END'"); // no copy of the old secret file is kept
  });

  it("masks the values of secret keys on both sides, so a rotated webhook never shows", () => {
    const base = {
      path: "/b.conf",
      mode: 0o600,
      owner: "root",
      group: "root",
      tags: ["config" as const],
      template: "t",
      secretKeys: ["SLACK_WEBHOOK"],
    };
    const d = planFile(
      { ...base, content: "SLACK_WEBHOOK='https://hooks/NEW'\nRETENTION=9\n" },
      {
        exists: true,
        type: "file",
        mode: 0o600,
        owner: "root",
        group: "root",
        sha256: "0",
        content: "SLACK_WEBHOOK='https://hooks/OLD'\nRETENTION=7\n",
      },
      { diff: differ, secrets: ["https://hooks/NEW"] },
    );
    expect(d.diff).not.toMatch(/OLD|NEW/);
    expect(d.diff).toMatch(/^-SLACK_WEBHOOK=\*{8}\(sha256:[0-9a-f]{8}\)$/m);
    expect(d.diff).toMatch(/^\+RETENTION=9$/m);
  });
});
