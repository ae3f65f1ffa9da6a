// Every rendered script in templates/scripts (every engineer's) passes Debian's shellcheck with no
// finding at all (severity style), following the library with -x.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { createRenderer } from "../../src/render/render.ts";
import { templateContext } from "../../src/backup/context.ts";
import { testVars } from "../helpers/vars.ts";

const renderer = createRenderer();
const scripts = renderer.scriptNames();
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cep-shellcheck-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("shellcheck", () => {
  it("finds the library and the scripts", () => {
    expect(scripts).toContain("backup-lib.sh");
    expect(scripts.length).toBeGreaterThanOrEqual(6);
  });

  // Values with spaces and quotes, so quoting mistakes in templates show up as findings.
  const ctx = templateContext(
    testVars({
      prefix: "/tmp/odd prefix/it's",
      db: { port: 5432, password: "p'w\"$x" },
      overrides: { alerts: { slack_webhook: "https://hooks.example/a b" } },
    }),
  );
  it.each(scripts)("%s has no findings", async (script) => {
    for (const s of scripts) writeFileSync(join(dir, s), renderer.render(`scripts/${s}.hbs`, ctx));
    const r = await execa("/usr/bin/shellcheck", ["-x", "-S", "style", "-s", "bash", "-P", "SCRIPTDIR", script], {
      cwd: dir,
      reject: false,
    });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
  });

  it("backup.conf (sourced by the library) has no findings and holds no password", async () => {
    const conf = renderer.render("backup.conf.hbs", ctx);
    writeFileSync(join(dir, "backup.conf"), conf);
    const r = await execa("/usr/bin/shellcheck", ["-S", "style", "-s", "bash", "backup.conf"], {
      cwd: dir,
      reject: false,
    });
    expect(r.stdout).toBe("");
    expect(conf).not.toContain("p'w");
    expect((await execa("bash", ["-n", join(dir, "backup.conf")], { reject: false })).exitCode).toBe(0);
  });
});
