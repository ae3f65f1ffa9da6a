import { describe, it, expect } from "vitest";
import { execa } from "execa";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { shellQuote, pgpassField } from "../../src/render/quote.ts";
import { createRenderer } from "../../src/render/render.ts";
import { installedScripts, MANAGED_BY } from "../../src/render/files.ts";

const nasty = [
  "",
  "plain",
  "a b",
  "it's",
  `"dq"`,
  "$HOME",
  "`id`",
  "a\\b",
  "!bang",
  "ñandú año",
  "tab\there",
  "*",
  "-n",
  "x;rm -rf /",
  "p:\\'\"$!x",
];

describe("shellQuote", () => {
  it("round-trips every value through a real bash", async () => {
    for (const v of nasty) {
      const { stdout } = await execa("bash", ["-c", `printf '%s' ${shellQuote(v)}`]);
      expect(stdout).toBe(v);
    }
  });
});

describe("pgpassField", () => {
  it("escapes : and \\ and refuses newlines", () => {
    expect(pgpassField("a:b\\c'd")).toBe("a\\:b\\\\c'd");
    expect(() => pgpassField("a\nb")).toThrow();
  });
});

describe("renderer (config templates only)", () => {
  const dir = mkdtempSync(join(tmpdir(), "tpl-"));
  writeFileSync(join(dir, "t.hbs"), "# {{managed_by}}\necho {{q name}}\nX=<{{name}}>\n{{cronq path}}\n");
  writeFileSync(join(dir, "missing.hbs"), "{{nope}}");
  writeFileSync(join(dir, "plain.sh"), "echo {{x}}\n");
  const r = createRenderer(dir);
  it("does not HTML-escape, quotes with q, escapes % for cron, and renders identically twice", () => {
    const a = r.render("t.hbs", { name: "<a & 'b'>", path: "/x/100%" });
    expect(a).toBe(
      `# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.\necho '<a & '\\''b'\\''>'\nX=<<a & 'b'>>\n/x/100\\%\n`,
    );
    expect(r.render("t.hbs", { name: "<a & 'b'>", path: "/x/100%" })).toBe(a);
  });
  it("is strict: a missing variable is an error, not an empty string", () => {
    expect(() => r.render("missing.hbs", {})).toThrow(/nope/);
  });
  it("renders only .hbs files: scripts are plain files", () => {
    expect(() => r.render("plain.sh", { x: 1 })).toThrow(/only templates\/\*\.hbs/);
  });
});

describe("installed scripts", () => {
  it("are every .sh under scripts/, lib/ included, sorted, byte for byte", () => {
    const dir = mkdtempSync(join(tmpdir(), "tpl-"));
    mkdirSync(join(dir, "scripts", "lib"), { recursive: true });
    writeFileSync(join(dir, "scripts", "b.sh"), "echo b {{not a template}}\n");
    writeFileSync(join(dir, "scripts", "a.sh"), "echo 'ñ' \"$x\"\n");
    writeFileSync(join(dir, "scripts", "lib", "core.sh"), "x() { :; }\n");
    writeFileSync(join(dir, "scripts", "README"), "not a script\n");
    expect(installedScripts(dir)).toEqual([
      { name: "a.sh", content: "echo 'ñ' \"$x\"\n" },
      { name: "b.sh", content: "echo b {{not a template}}\n" },
      { name: "lib/core.sh", content: "x() { :; }\n" },
    ]);
  });
  it("in the repo carry the managed-by header and no handlebars", () => {
    const scripts = installedScripts();
    expect(scripts.map((s) => s.name)).toEqual(
      expect.arrayContaining(["backup-lib.sh", "lib/core.sh", "backup-database-weekly.sh"]),
    );
    for (const s of scripts) {
      expect(s.content.split("\n").slice(0, 3), s.name).toContain(`# ${MANAGED_BY}`);
      expect(s.content, s.name).not.toMatch(/\{\{/);
    }
  });
});
