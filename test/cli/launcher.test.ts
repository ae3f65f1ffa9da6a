// The CLI launcher (bin/cep.mjs, what every npm script and the tests run) never runs stale code:
// on a copy of the project, an edited source is in the very next run, even when the edit keeps the
// file's size and puts its mtime back; a source that no longer builds is refused, not replaced by the
// old bundle; and an unchanged tree reuses its build. Plus: the templates precompiled into the bundle
// render exactly what compiling them does.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cpSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { createHash } from "node:crypto";
import { REPO } from "../helpers/lab.ts";
import { testVars } from "../helpers/vars.ts";
import { COMPILE_OPTIONS, createRenderer } from "../../src/render/render.ts";
import { PRECOMPILED, type Precompiled } from "../../src/render/precompiled.ts";
import { templateContext } from "../../src/backup/context.ts";

let copy: string;
const help = () =>
  execa(process.execPath, [join(copy, "bin", "cep.mjs"), "provision", "--help"], {
    cwd: copy,
    reject: false,
    stdin: "ignore",
  });
const current = () => readlinkSync(join(copy, ".build", "current"));

/** Replace `from` by `to` in a file of the copy. `keep`: same length, and the mtime put back to the nanosecond. */
async function edit(file: string, from: string, to: string, keep = false): Promise<void> {
  const path = join(copy, file);
  const ref = `${path}.times`;
  await execa("cp", ["-p", "--", path, ref]);
  const text = readFileSync(path, "utf8");
  expect(text).toContain(from);
  writeFileSync(path, text.replace(from, to));
  if (keep) {
    expect(to).toHaveLength(from.length);
    await execa("touch", ["-r", ref, "--", path]);
    const [a, b] = [statSync(path, { bigint: true }), statSync(ref, { bigint: true })];
    expect(a.size).toBe(b.size);
    expect(a.mtimeNs).toBe(b.mtimeNs);
  }
  rmSync(ref);
}

beforeAll(() => {
  copy = mkdtempSync(join(tmpdir(), "cep-launcher-"));
  for (const d of ["bin", "playbooks", "src", "templates", "package.json", "tsconfig.json"])
    cpSync(join(REPO, d), join(copy, d), { recursive: true });
  symlinkSync(realpathSync(join(REPO, "node_modules")), join(copy, "node_modules"));
});

afterAll(() => {
  if (copy) rmSync(copy, { recursive: true, force: true });
});

describe("bin/cep.mjs", () => {
  it("builds on the first run, then reuses the build while nothing changed", async () => {
    const first = await help();
    expect(first.stderr).toContain("Installs or upgrades the backup system on every host");
    const build = current();
    const again = await help();
    expect(again.stderr).toBe(first.stderr);
    expect(current()).toBe(build);
  });

  it("runs an edited source on the next run, even with its size and mtime unchanged", async () => {
    const before = current();
    await edit("src/cli/commands.ts", "Installs or upgrades", "Installz or upgradez", true);
    const r = await help();
    expect(r.stderr).toContain("Installz or upgradez the backup system on every host");
    expect(current()).not.toBe(before);
  });

  it("refuses to run when an edited source no longer builds, instead of running the old bundle", async () => {
    // A quote that ends the string early: "Installz" or upgradez the backup system..." is no TypeScript.
    await edit("src/cli/commands.ts", "Installz or upgradez", 'Installz" or upgradez');
    const r = await help();
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("the CLI bundle did not build");
    expect(r.stderr).toContain("src/cli/commands.ts");
    expect(r.stderr).not.toContain("Installz or upgradez the backup system");
    await edit("src/cli/commands.ts", 'Installz" or upgradez', "Installs or upgrades");
    const fixed = await help();
    expect(fixed.stderr).toContain("Installs or upgrades the backup system on every host");
  });

  it("a new playbook is a new command", async () => {
    expect((await execa(process.execPath, [join(copy, "bin", "cep.mjs"), "hello"], { reject: false })).exitCode).toBe(
      1,
    );
    writeFileSync(join(copy, "playbooks", "hello.ts"), 'process.stdout.write("hello from a new playbook\\n");\n');
    const r = await execa(process.execPath, [join(copy, "bin", "cep.mjs"), "hello"], { reject: false });
    expect(r.stdout).toBe("hello from a new playbook");
  });
});

describe("the templates precompiled into the bundle", () => {
  it("are made with the renderer's options, used for exactly their text, and render what compiling renders", async () => {
    const { precompiledModule, PRECOMPILE_OPTIONS } = await import("../../bin/build.mjs");
    expect(PRECOMPILE_OPTIONS).toEqual(COMPILE_OPTIONS);
    const mod = await import(`data:text/javascript,${encodeURIComponent(precompiledModule(REPO))}`);
    const generated = mod.PRECOMPILED as Precompiled;
    const ctx = templateContext(testVars({ prefix: "/p", db: { port: 5432, password: "pw'$x%" } }));
    const names = ["backup.conf.hbs", "pgpass.hbs", "cron.hbs", "logrotate.hbs"];
    const hash = (n: string) =>
      createHash("sha256")
        .update(readFileSync(join(REPO, "templates", n), "utf8"))
        .digest("hex");
    for (const n of names) expect(Object.keys(generated.templates), n).toContain(hash(n));
    // The sources' module is empty: the renderer compiles.
    expect(PRECOMPILED.templates).toEqual({});
    const compiled = createRenderer();
    const want = names.map((n) => compiled.render(n, ctx));
    try {
      Object.assign(PRECOMPILED, generated);
      const pre = createRenderer();
      expect(names.map((n) => pre.render(n, ctx))).toEqual(want);
      // The spec is what renders: put pgpass's spec under backup.conf's text and backup.conf renders as pgpass.
      PRECOMPILED.templates = {
        ...generated.templates,
        [hash("backup.conf.hbs")]: generated.templates[hash("pgpass.hbs")],
      };
      expect(createRenderer().render("backup.conf.hbs", ctx)).toBe(want[1]);
      // Made with other options: not used.
      Object.assign(PRECOMPILED, { options: { ...COMPILE_OPTIONS, strict: false } });
      expect(createRenderer().render("backup.conf.hbs", ctx)).toBe(want[0]);
    } finally {
      Object.assign(PRECOMPILED, { options: {}, templates: {} });
    }
  });
});
