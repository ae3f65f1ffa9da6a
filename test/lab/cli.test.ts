// The lab's command line without starting anything: argument parsing, exit codes, what it prints
// when there is no lab. lab.test.ts runs the playbook itself against a running lab.
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LAB_USAGE, LabUsageError, parseLabArgs, runLabCommand, statusTable } from "../../src/lab/cli.ts";
import { DEFAULT_LAB_DIR } from "../../src/lab/lab.ts";

const tmp = mkdtempSync(join(tmpdir(), "cep-lab-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function io() {
  const seen = { out: [] as string[], note: [] as string[], error: [] as string[] };
  return {
    seen,
    io: {
      out: (t: string) => void seen.out.push(t),
      note: (t: string) => void seen.note.push(t),
      error: (t: string) => void seen.error.push(t),
      cwd: tmp,
    },
  };
}

describe("parseLabArgs", () => {
  it("reads up, down, status and help", () => {
    expect(parseLabArgs(["up"])).toEqual({ cmd: "up", dir: DEFAULT_LAB_DIR, hosts: undefined, quiet: false });
    expect(parseLabArgs(["up", "--hosts", "3", "--dir", "/x", "-q"])).toEqual({
      cmd: "up",
      dir: "/x",
      hosts: 3,
      quiet: true,
    });
    expect(parseLabArgs(["down", "--dir", "/x"])).toEqual({ cmd: "down", dir: "/x" });
    expect(parseLabArgs(["status"])).toEqual({ cmd: "status", dir: DEFAULT_LAB_DIR });
    expect(parseLabArgs(["--help"])).toEqual({ cmd: "help" });
  });

  it("refuses bad arguments with a reason", () => {
    for (const [argv, why] of [
      [[], "a command is required"],
      [["up", "down"], "unexpected arguments: down"],
      [["start"], 'unknown command "start"'],
      [["status", "--hosts", "2"], "--hosts only applies to up"],
      [["up", "--hosts", "0"], '--hosts: expected a whole number from 1 to 500, got "0"'],
      [["up", "--hosts", "501"], '--hosts: expected a whole number from 1 to 500, got "501"'],
      [["up", "--hosts", "zero"], '--hosts: expected a whole number from 1 to 500, got "zero"'],
    ] as const) {
      expect(() => parseLabArgs([...argv]), argv.join(" ")).toThrow(new LabUsageError(why));
    }
    expect(() => parseLabArgs(["up", "--colour"])).toThrow(LabUsageError);
  });
});

describe("runLabCommand", () => {
  it("bad arguments: exit 1, the reason and the usage on stderr, nothing on stdout", async () => {
    const { io: x, seen } = io();
    expect(await runLabCommand(["up", "--hosts", "zero"], x)).toBe(1);
    expect(seen).toEqual({
      out: [],
      note: [`\n${LAB_USAGE}`],
      error: ['--hosts: expected a whole number from 1 to 500, got "zero"'],
    });
  });

  it("no lab: status exits 2, down exits 0, both say so", async () => {
    const dir = join(tmp, "none");
    const a = io();
    expect(await runLabCommand(["status", "--dir", dir], a.io)).toBe(2);
    expect(a.seen.out).toEqual(["no lab in none (start one with: npm run lab -- up)"]);
    const b = io();
    expect(await runLabCommand(["down", "--dir", dir], b.io)).toBe(0);
    expect(b.seen.out).toEqual(["no lab in none"]);
  });

  it("help: the usage on stdout, exit 0", async () => {
    const { io: x, seen } = io();
    expect(await runLabCommand(["-h"], x)).toBe(0);
    expect(seen.out).toEqual([LAB_USAGE]);
  });
});

describe("statusTable", () => {
  it("one row per host, DOWN in capitals", () => {
    const row = { sshdPid: 1, pgPid: 2, prefix: "/l/lab1/root" };
    expect(
      statusTable([
        { name: "lab1", sshPort: 22221, pgPort: 25431, sshd: true, postgres: true, ...row },
        { name: "lab2", sshPort: 22222, pgPort: 25432, sshd: false, postgres: true, ...row, prefix: "/l/lab2/root" },
      ]),
    ).toBe(
      [
        "host  ssh              postgres         sshd  pg  prefix",
        "lab1  127.0.0.1:22221  127.0.0.1:25431  up    up  /l/lab1/root",
        "lab2  127.0.0.1:22222  127.0.0.1:25432  DOWN  up  /l/lab2/root",
      ].join("\n"),
    );
  });
});
