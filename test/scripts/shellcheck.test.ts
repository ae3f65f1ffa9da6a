// Debian's shellcheck finds nothing at all (severity style) in the scripts as they are in the repo,
// run the way a maintainer would run it in each folder: the installed scripts with -x following the
// library into lib/, and the remote scripts. The generated parts (lib/host.sh, backup.conf) are
// checked as rendered for an awkward host; the composed remote scripts in test/render/remote.test.ts.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { createRenderer } from "../../src/render/render.ts";
import { installedScripts, TEMPLATES_DIR } from "../../src/render/files.ts";
import { templateContext } from "../../src/backup/context.ts";
import { hostLib } from "../../src/backup/desired.ts";
import { testVars } from "../helpers/vars.ts";

const renderer = createRenderer();
const scripts = installedScripts().map((s) => s.name);
let dir: string;

const shellcheck = (args: string[], cwd: string) =>
  execa("bash", ["-c", `shopt -s nullglob; exec /usr/bin/shellcheck -S style ${args.join(" ")}`], {
    cwd,
    reject: false,
  });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cep-shellcheck-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("shellcheck", () => {
  it("finds the library, its parts and the scripts", () => {
    expect(scripts).toContain("backup-lib.sh");
    expect(scripts).toEqual(
      expect.arrayContaining(["lib/core.sh", "lib/checksums.sh", "lib/postgres.sh", "lib/restore.sh"]),
    );
    expect(scripts.filter((s) => !s.startsWith("lib/")).length).toBeGreaterThanOrEqual(6);
  });

  // What `cd templates/scripts && shellcheck -x *.sh lib/*.sh` runs, one file per test (each
  // follows the library, which makes the whole run too long for one test on a busy machine).
  it.each(scripts)("templates/scripts: `shellcheck -x %s` has no findings", async (script) => {
    const r = await shellcheck(["-x", script], join(TEMPLATES_DIR, "scripts"));
    expect(r.stdout + r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
  });

  it("also from another directory: source-path=SCRIPTDIR follows weekly → daily → library → lib/", async () => {
    const r = await shellcheck(["-x", "scripts/backup-database-weekly.sh"], TEMPLATES_DIR);
    expect(r.stdout + r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
  });

  it("templates/remote: `shellcheck -x *.sh facts/*.sh` has no findings", async () => {
    const r = await shellcheck(["-x", "*.sh", "facts/*.sh"], join(TEMPLATES_DIR, "remote"));
    expect(r.stdout + r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
  });

  // Values with spaces and quotes, so quoting mistakes in what is generated show up as findings.
  const vars = testVars({
    prefix: "/tmp/odd prefix/it's",
    db: { port: 5432, password: "p'w\"$x" },
    overrides: { alerts: { slack_webhook: "https://hooks.example/a b" } },
  });
  const ctx = templateContext(vars);

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

  it("lib/host.sh (generated) has no findings and gives the library the config path byte for byte", async () => {
    writeFileSync(join(dir, "host.sh"), hostLib(vars.paths.config_file));
    const r = await execa("/usr/bin/shellcheck", ["-S", "style", "host.sh"], { cwd: dir, reject: false });
    expect(r.stdout).toBe("");
    const back = await execa("bash", ["-c", `source "$1"; printf '%s' "$LIB_DEFAULT_CONF"`, "x", join(dir, "host.sh")]);
    expect(back.stdout).toBe(vars.paths.config_file);
  });
});
