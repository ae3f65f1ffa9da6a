import { execa } from "execa";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseBenchArgs, REPO } from "../../src/bench/args.ts";
import { InputError } from "../../src/errors.ts";

// As npm run bench launches it: the CLI's entry point (the bundle).
const bench = (args: string[], env: Record<string, string> = {}) =>
  execa("node", [join(REPO, "bin/cep.mjs"), "bench", ...args], { reject: false, cwd: REPO, env });

const problems = (argv: string[]): string[] => {
  try {
    parseBenchArgs(argv);
  } catch (e) {
    if (e instanceof InputError) return e.problems;
    throw e;
  }
  throw new Error(`no InputError for ${argv.join(" ")}`);
};

describe("parseBenchArgs", () => {
  it("has the defaults bench/README.md documents", () => {
    expect(parseBenchArgs([], { cwd: "/somewhere", repo: "/repo" })).toEqual({
      hosts: 25,
      reps: 5,
      forks: undefined,
      scale: "small",
      rows: 1_000_000,
      json: "/repo/bench/results/latest.json",
      ansible: false,
      mediaSide: false,
      mediaFiles: 100_000,
      argv: [],
    });
  });

  it("takes every option, --json relative to the working directory", () => {
    const argv = [
      "--hosts",
      "3",
      "--reps",
      "2",
      "--forks",
      "7",
      "--scale",
      "large",
      "--rows",
      "5000",
      "--ansible",
      "--json",
      "out.json",
    ];
    expect(parseBenchArgs(argv, { cwd: "/w" })).toEqual({
      hosts: 3,
      reps: 2,
      forks: 7,
      scale: "large",
      rows: 5000,
      json: "/w/out.json",
      ansible: true,
      mediaSide: true,
      mediaFiles: 100_000,
      argv,
    });
    expect(parseBenchArgs(["-h"])).toBe("help");
    // --media-side on its own (without --scale large), with its file count
    expect(parseBenchArgs(["--media-side", "--media-files", "2000"])).toMatchObject({
      scale: "small",
      mediaSide: true,
      mediaFiles: 2000,
    });
  });

  it("says what was expected of a bad value", () => {
    expect(problems(["--hosts", "0"])).toEqual(['arguments: --hosts: expected an integer from 1 to 200, got "0"']);
    expect(problems(["--reps", "2.5"])).toEqual(['arguments: --reps: expected an integer from 1 to 50, got "2.5"']);
    expect(problems(["--forks", "x"])).toEqual(['arguments: --forks: expected an integer from 1 to 500, got "x"']);
    expect(problems(["--media-files", "10"])).toEqual([
      'arguments: --media-files: expected an integer from 100 to 1000000, got "10"',
    ]);
    expect(problems(["--scale", "huge"])).toEqual(['arguments: --scale: expected small or large, got "huge"']);
    expect(problems(["--nope"])[0]).toMatch(/^arguments: Unknown option '--nope'/);
    expect(problems(["extra"])[0]).toMatch(/^arguments: Unexpected argument 'extra'/);
  });
});

describe("npm run bench with bad arguments", () => {
  it("exits 1 with the problem and the usage, before starting anything", async () => {
    const r = await bench(["--hosts", "many"], { NO_COLOR: "1", FORCE_COLOR: "0" });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(
      /^arguments: --hosts: expected an integer from 1 to 200, got "many"\n\nUsage: npm run bench/,
    );
    expect(r.stderr).not.toMatch(/starting a/);
  });

  it("prints the usage on --help and exits 0", async () => {
    const r = await bench(["--help"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^Usage: npm run bench -- \[options\]\n/);
    expect(r.stdout).toContain("--scale S");
  });
});
