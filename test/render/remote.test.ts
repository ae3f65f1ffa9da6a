// The remote scripts are plain files sent with a generated header: every value reaches them byte
// for byte whatever it holds, the parts are put together in order, and the whole passes shellcheck.
import { describe, it, expect } from "vitest";
import { execa } from "execa";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { shellAssignments } from "../../src/render/quote.ts";
import { remoteScript, jobScript } from "../../src/render/remote.ts";
import { templateFile } from "../../src/render/files.ts";
import { statusScript } from "../../src/status/script.ts";
import { drillScript } from "../../src/drill/script.ts";
import { applyScript } from "../../src/operations/apply.ts";
import { filesCommand } from "../../src/facts/files.ts";
import { packagesCommand } from "../../src/facts/packages.ts";
import { gatherScript } from "../../src/facts/gather.ts";
import { testVars } from "../helpers/vars.ts";
import type { Host } from "../../src/inventory/types.ts";

const hostile = [
  "",
  "it's",
  `"dq" and 'sq'`,
  "$(touch /tmp/cep-pwned)",
  "`id`",
  "${HOME}",
  "line one\nline two\n",
  "\\back\\slash\\",
  "-n",
  "ñandú * ?",
  "tab\there;rm -rf /",
];

/** Bash reads the header back; every value printed NUL-terminated, so any byte shows. */
async function readBack(header: string, names: string[]): Promise<string[]> {
  const print = names.map((n) => `printf '%s\\0' "\${${n}[@]}"`).join("\n");
  const r = await execa("bash", ["-c", `${header}\n${print}`], { stripFinalNewline: false });
  return r.stdout.split("\0").slice(0, -1);
}

describe("the generated header", () => {
  it("passes words and lists to bash byte for byte: quotes, $(...), backticks, newlines", async () => {
    const values: Record<string, string> = {};
    hostile.forEach((v, i) => (values[`V${i}`] = v));
    const header = shellAssignments({ ...values, LIST: hostile });
    expect(await readBack(header, [...Object.keys(values), "LIST"])).toEqual([...hostile, ...hostile]);
  });

  it("numbers and booleans are words; a name bash or shellcheck would misread is refused", async () => {
    expect(shellAssignments({ N: 5432, B: true, EMPTY: [] })).toBe("N=5432\nB=true\nEMPTY=()\n");
    expect(() => shellAssignments({ lower: "x" })).toThrow(/A-Z/);
    expect(() => shellAssignments({ "A;B": "x" })).toThrow(/A-Z/);
  });

  it("a fact command gets hostile list items through to the plain file unchanged", async () => {
    const names = hostile.filter((v) => v !== "" && !v.includes("\n"));
    const out = await execa("bash", ["-c", remoteScript("facts/users.sh", { CEP_USERS: names })]);
    expect(out.stdout.split("\n")).toEqual(names.map((n) => `USER|${n}|no`));
  });
});

describe("job scripts", () => {
  const vars = testVars({ prefix: "/tmp/a b'c/$(x)", db: { port: 5433, password: "p'w" } });
  const host = { name: "h", groups: [], ssh: {} as Host["ssh"], vars } as Host;

  it("are the values, the shared helpers and the script, in that order, each once", () => {
    const s = jobScript("status.sh", vars);
    const common = templateFile("remote/common.sh");
    const newest = templateFile("scripts/lib/newest.sh");
    const status = templateFile("remote/status.sh");
    expect(s.startsWith("#!/bin/bash\n")).toBe(true);
    expect(s.match(/^#!/gm)).toHaveLength(1);
    const at = (part: string) => s.indexOf(part);
    expect(at("\nBACKUP_DIR=")).toBeGreaterThan(0);
    expect(at(common)).toBeGreaterThan(at("\nPGPASSFILE="));
    expect(at(newest)).toBeGreaterThan(at(common));
    expect(s.endsWith(status.slice(status.indexOf("\n") + 1))).toBe(true);
    expect(s.split(common)).toHaveLength(2);
    expect(s).not.toContain("p'w");
  });

  it("read the host's values back byte for byte", async () => {
    const s = jobScript("status.sh", vars);
    const header = s.slice(0, s.indexOf(templateFile("remote/common.sh")));
    expect(await readBack(header, ["BACKUP_DIR", "SCRIPTS", "DB_PORT"])).toEqual([
      vars.paths.backup_dir,
      vars.paths.scripts_dir,
      "5433",
    ]);
  });

  it("status, drill, apply and the facts command pass shellcheck as sent", async () => {
    const d = mkdtempSync(join(tmpdir(), "remote-"));
    const sent = {
      "status.sh": statusScript(host),
      "drill.sh": drillScript(host, "abcd1234"),
      "drill-live.sh": drillScript(host, "abcd1234", "local", "live"),
      "apply.sh": applyScript([]),
      // A fragment has no header of its own: the literal `$` of the prefix is SC2016 here.
      "facts.sh": `# shellcheck shell=bash disable=SC2016\n${gatherScript([
        { name: "packages", command: packagesCommand(["rsync"]) },
        { name: "files", command: filesCommand([vars.paths.backup_dir]) },
        { name: "diff", command: filesCommand([vars.paths.backup_dir], { withContent: true, wantSha: ["x"] }) },
      ])}`,
    };
    for (const [f, s] of Object.entries(sent)) writeFileSync(join(d, f), s);
    const r = await execa("shellcheck", ["-S", "style", ...Object.keys(sent)], { cwd: d, reject: false });
    expect(r.stdout).toBe("");
    expect(r.exitCode).toBe(0);
    for (const f of Object.keys(sent))
      expect((await execa("bash", ["-n", join(d, f)], { reject: false })).exitCode).toBe(0);
  });
});
