// The smoke script is rendered per host; it must be shellcheck-clean and quote every value.
import { describe, it, expect } from "vitest";
import { execa } from "execa";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { smokeScript, parseSmoke } from "../../src/run/smoke.ts";
import { testVars } from "../helpers/vars.ts";
import type { Host } from "../../src/inventory/types.ts";

const host = (prefix: string): Host =>
  ({
    name: "h",
    groups: [],
    ssh: {} as Host["ssh"],
    vars: testVars({ prefix, db: { port: 5433, password: "p'w" } }),
  }) as Host;

describe("smoke script", () => {
  it("passes shellcheck for an awkward prefix and never carries the password", async () => {
    const script = smokeScript(host("/tmp/a b'c/ñ"), { scratchSuffix: "abcd" });
    const f = join(mkdtempSync(join(tmpdir(), "smoke-")), "smoke.sh");
    writeFileSync(f, script);
    const r = await execa("shellcheck", ["-S", "style", f], { reject: false });
    expect(r.stdout).toBe("");
    expect(r.exitCode).toBe(0);
    expect(script).not.toContain("p'w");
    // <db>_smoke_<host tag>_<suffix>: another host's cleanup never matches this host's scratch database.
    expect(script).toMatch(/^SCRATCH_DB=cepcomunicacion_smoke_[0-9a-f]{6}_abcd$/m);
    expect(script).toMatch(/^SCRATCH_RE='\^cepcomunicacion_smoke_[0-9a-f]{6}_\[0-9a-f\]\{8\}\$'$/m);
    const other = smokeScript({ ...host("/x"), name: "other" } as Host, { scratchSuffix: "abcd" });
    expect(other.match(/^SCRATCH_DB=.*$/m)![0]).not.toBe(script.match(/^SCRATCH_DB=.*$/m)![0]);
    expect(script).toContain(`BACKUP_DIR='/tmp/a b'\\''c/ñ/var/backups/cepcomunicacion'`);
  });

  it("selects components", () => {
    const s = smokeScript(host(""), { components: ["media"] });
    expect(s).toContain("RUN_DB=0");
    expect(s).toContain("RUN_MEDIA=1");
  });

  it("parses result lines, details may contain |", () => {
    expect(parseSmoke("noise\nSMOKE|database|passed|120|ok\nSMOKE|media|failed|5|exit 1: a|b\n")).toEqual({
      database: { status: "passed", duration_ms: 120, details: "ok" },
      media: { status: "failed", duration_ms: 5, details: "exit 1: a|b" },
    });
  });
});
