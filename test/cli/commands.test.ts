// Usage texts and arguments of the fleet commands: the help offers only what a job takes, and an
// option it does not take is bad input before anything else happens (also through the real CLI).
import { describe, it, expect } from "vitest";
import { execa } from "execa";
import { parseJobArgs, usage } from "../../src/cli/commands.ts";
import { InputError } from "../../src/errors.ts";
import { provisionJob, configJob } from "../../src/run/provision.ts";
import { statusJob } from "../../src/status/job.ts";
import { drillJob } from "../../src/drill/job.ts";
import { CLI, REPO } from "../helpers/lab.ts";

const problems = (f: () => unknown): string[] => {
  try {
    f();
  } catch (e) {
    if (e instanceof InputError) return e.problems;
    throw e;
  }
  throw new Error("expected an InputError");
};

describe("usage", () => {
  it("lists the common options and only the ones the job supports", () => {
    const status = usage("status", statusJob.supports);
    expect(status).toMatch(/^Usage: npm run status -- <inventory> \[options\]\n/);
    for (const o of ["--limit", "--forks", "--json", "-e key=value", "--accept-new-host-keys"])
      expect(status).toContain(o);
    for (const o of ["--check", "--diff", "--tags", "--serial", "--force", "--skip-smoke", "--verbose"])
      expect(status).not.toContain(o);
    const drill = usage("drill", drillJob.supports);
    for (const o of ["--force", "--serial", "--max-fail-percent"]) expect(drill).toContain(o);
    expect(drill).not.toContain("--check");
    const provision = usage("provision", provisionJob.supports);
    for (const o of ["--check", "--diff", "--tags", "--skip-tags", "--skip-smoke", "--verbose"])
      expect(provision).toContain(o);
    expect(provision).not.toContain("--force");
    expect(usage("config", configJob.supports)).toContain("(provision --tags config --skip-smoke)");
  });
});

describe("parseJobArgs", () => {
  it("refuses an option the job does not take, each one named", () => {
    expect(problems(() => parseJobArgs(["prod", "--check", "--diff"], statusJob))).toEqual([
      "arguments: --check: not supported by status (it only reads each host's backup status)",
      "arguments: --diff: not supported by status (it only reads each host's backup status)",
    ]);
    expect(problems(() => parseJobArgs(["staging", "--tags", "config", "--skip-smoke"], drillJob))).toEqual([
      "arguments: --tags: not supported by drill (it changes no managed file; it restores the newest backups and reports)",
      "arguments: --skip-smoke: not supported by drill (it changes no managed file; it restores the newest backups and reports)",
    ]);
    expect(problems(() => parseJobArgs(["prod", "--force"], provisionJob))[0]).toBe(
      "arguments: --force: not supported by provision",
    );
    expect(parseJobArgs(["staging", "--force", "--serial", "1"], drillJob)).toMatchObject({
      force: true,
      serial: { count: 1 },
    });
  });

  it("--from local|offsite: the drill's, checked; refused by the others", () => {
    expect(parseJobArgs(["staging", "--from", "offsite"], drillJob).from).toBe("offsite");
    expect(parseJobArgs(["staging"], drillJob).from).toBeUndefined();
    expect(problems(() => parseJobArgs(["staging", "--from", "s3"], drillJob))).toEqual([
      'arguments: --from: expected one of local, offsite, got "s3"',
    ]);
    expect(problems(() => parseJobArgs(["prod", "--from", "offsite"], statusJob))).toEqual([
      "arguments: --from: not supported by status (it only reads each host's backup status)",
    ]);
    expect(usage("drill", drillJob.supports)).toContain("--from local|offsite");
    expect(usage("provision", provisionJob.supports)).not.toContain("--from");
  });

  it("refuses words after the inventory and answers --help with the usage", () => {
    expect(problems(() => parseJobArgs(["prod", "web1"], statusJob))[0]).toBe(
      'arguments: unexpected "web1" after the inventory',
    );
    expect(problems(() => parseJobArgs(["--help"], statusJob))).toEqual([usage("status", statusJob.supports)]);
  });
});

describe("the real CLI", () => {
  it("status --check: exit 1 with the reason, before the inventory is even looked for", async () => {
    const r = await execa(process.execPath, [CLI, "status", "no-such-inventory", "--check"], {
      cwd: REPO,
      reject: false,
      stdin: "ignore",
    });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("arguments: --check: not supported by status (it only reads each host's backup status)");
  });
});
