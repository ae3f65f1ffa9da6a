// The fixed remote command line, the script wrapper and the sudo failure classifier, run locally
// through the same bash the hosts have (no SSH needed for these properties).
import { describe, it, expect } from "vitest";
import { execa } from "execa";
import { remoteCommandLine, sudoFailure, wrapScript } from "../../src/connection/ssh.ts";

describe("remote command line", () => {
  it("is fixed text: no script, no data", () => {
    expect(remoteCommandLine({ sudo: false, timeoutMs: 600_000 })).toBe(
      `env LC_ALL=C timeout -k 2 600.000 bash -c 's=$(cat) && exec </dev/null && eval "$s"'`,
    );
    expect(remoteCommandLine({ sudo: true, timeoutMs: 1500 })).toBe(
      `sudo -n -H -- env LC_ALL=C timeout -k 2 1.500 bash -c 's=$(cat) && exec </dev/null && eval "$s"'`,
    );
    expect(remoteCommandLine({ sudo: false, timeoutMs: Infinity })).toBe(
      `env LC_ALL=C bash -c 's=$(cat) && exec </dev/null && eval "$s"'`,
    );
  });

  it("runs a wrapped script from stdin with its exit code, output and heredocs intact", async () => {
    const script = `set -euo pipefail\ncat <<'EOF'\nline with 'quotes' and $dollar\nEOF\necho err >&2\nexit 4`;
    const r = await execa("sh", ["-c", remoteCommandLine({ sudo: false, timeoutMs: 10_000 })], {
      input: wrapScript(script),
      reject: false,
    });
    expect(r.exitCode).toBe(4);
    expect(r.stdout).toBe("line with 'quotes' and $dollar");
    expect(r.stderr).toBe("err");
  });

  it("a script cut short in transit runs not at all", async () => {
    const full = wrapScript("echo first\necho second");
    const r = await execa("sh", ["-c", remoteCommandLine({ sudo: false, timeoutMs: 10_000 })], {
      input: full.slice(0, full.indexOf("second")),
      reject: false,
    });
    expect(r.stdout).toBe("");
    expect(r.exitCode).not.toBe(0);
  });

  it("the remote timeout kills the whole process group", async () => {
    const t0 = Date.now();
    const r = await execa("sh", ["-c", remoteCommandLine({ sudo: false, timeoutMs: 300 })], {
      input: wrapScript("sleep 20 & sleep 20; wait"),
      reject: false,
    });
    expect(r.exitCode).toBe(124);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});

describe("sudoFailure", () => {
  it("recognises sudo's own refusals and nothing else", () => {
    const pw = sudoFailure(1, "sudo: a password is required\n", "deploy", "web1");
    expect(pw?.message).toBe(
      "sudo requires a password for user deploy on host web1; configure NOPASSWD for the provisioner or connect as root",
    );
    expect(
      sudoFailure(1, "sudo: a terminal is required to read the password; either use the -S option\n", "deploy", "web1")
        ?.message,
    ).toMatch(/^sudo requires a password for user deploy on host web1/);
    expect(
      sudoFailure(1, "deploy is not in the sudoers file.  This incident will be reported.\n", "deploy", "web1")
        ?.message,
    ).toMatch(/^user deploy may not run commands through sudo on host web1/);
    expect(sudoFailure(127, "bash: line 1: sudo: command not found\n", "deploy", "web1")?.message).toMatch(
      /sudo is not installed on host web1/,
    );
    expect(sudoFailure(1, "grep: nothing\n", "deploy", "web1")).toBeUndefined();
    expect(sudoFailure(0, "sudo: a password is required\n", "deploy", "web1")).toBeUndefined();
  });
});
