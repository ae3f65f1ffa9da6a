import { describe, it, expect } from "vitest";
import { execa } from "execa";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { shellQuote, pgpassField } from "../../src/render/quote.ts";
import { createRenderer } from "../../src/render/render.ts";

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

describe("renderer", () => {
  const dir = mkdtempSync(join(tmpdir(), "tpl-"));
  mkdirSync(join(dir, "partials"));
  mkdirSync(join(dir, "scripts"));
  writeFileSync(join(dir, "partials", "hello.sh.hbs"), "echo {{q name}}\n"); // partials end with a newline: a standalone {{> x}} line is replaced whole
  writeFileSync(join(dir, "scripts", "t.sh.hbs"), "# {{managed_by}}\n{{> hello}}\nX=<{{name}}>\n{{cronq path}}\n");
  writeFileSync(join(dir, "missing.hbs"), "{{nope}}");
  const r = createRenderer(dir);
  it("does not HTML-escape, quotes with q, escapes % for cron, and renders identically twice", () => {
    const a = r.render("scripts/t.sh.hbs", { name: "<a & 'b'>", path: "/x/100%" });
    expect(a).toBe(
      `# Managed by cep-backup-provisioner: local changes are overwritten on the next provision.\necho '<a & '\\''b'\\''>'\nX=<<a & 'b'>>\n/x/100\\%\n`,
    );
    expect(r.render("scripts/t.sh.hbs", { name: "<a & 'b'>", path: "/x/100%" })).toBe(a);
    expect(r.scriptNames()).toEqual(["t.sh"]);
  });
  it("is strict: a missing variable is an error, not an empty string", () => {
    expect(() => r.render("missing.hbs", {})).toThrow(/nope/);
  });
});
