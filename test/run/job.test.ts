// The job frame against a real sshd: options a job does not take are refused before anything is
// read, prepare's problems stop the run before any connection, then every selected host runs over
// one connection each, with the recap, the job's section and output, and the masked --json report.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { runFleetJob, type FleetJob } from "../../src/run/job.ts";
import { addTask, type HostReport } from "../../src/run/report.ts";
import { parseCommonArgs } from "../../src/cli/options.ts";
import { InputError } from "../../src/errors.ts";
import { connectionCounter, freePort } from "../helpers/ports.ts";
import { startTestSshd, type TestSshd } from "../connection/setup.ts";
import { ensureKeyPair } from "../../src/lab/sshd.ts";

const SECRET = "s3cr3t-'pw\"$";
let sshd: TestSshd;
let dir: string;
let inventory: string;
let closedPort: number;

beforeAll(async () => {
  sshd = await startTestSshd("job");
  dir = mkdtempSync(join(tmpdir(), "cep-job-"));
  closedPort = await freePort();
  const ssh = sshd.ssh();
  const host = (port: number) => ({ ssh: { ...ssh, port, connect_timeout_s: 5 } });
  inventory = join(dir, "staging.yml");
  writeFileSync(
    inventory,
    YAML.stringify({
      environment: "staging",
      known_hosts: sshd.knownHosts,
      vars: { database: { password: { env: "JOB_TEST_PW" } } },
      groups: { web: { hosts: ["web1", "web2", "web3"] } },
      hosts: { web1: host(ssh.port), web2: host(ssh.port), web3: host(ssh.port), gone: host(closedPort) },
    }),
  );
});
afterAll(async () => {
  await sshd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface EchoReport extends HostReport {
  echoed?: string;
}

/** A toy job: one remote command per host; a host named in `fail` gets a failed task. */
function echoJob(fail: string[] = []): FleetJob<EchoReport, { prepared: string[] }, { echoes: number }> {
  return {
    name: "echo",
    supports: ["serial", "maxFailPercent"],
    refuses: "it only echoes",
    prepare: ({ hosts }) => ({ prepared: hosts.map((h) => h.name) }),
    async perHost(conn, host, report, run) {
      const r = await conn.exec(`printf '%s' ${JSON.stringify(`${host.name} ${SECRET}`)}`);
      report.echoed = r.stdout;
      run.log(host.name, `said ${r.stdout}`);
      addTask(report, {
        name: "echo",
        status: fail.includes(host.name) ? "failed" : "ok",
        message: `${run.state.prepared.length} prepared; ${r.stdout}`,
      });
    },
    section: (report) => ({ echoes: report.hosts.filter((h) => h.echoed).length }),
  };
}

async function run<S, X extends object>(job: FleetJob<EchoReport, S, X>, args: string[]) {
  const lines: string[] = [];
  const json = join(dir, `report-${Math.random().toString(36).slice(2)}.json`);
  const opts = parseCommonArgs([inventory, "--json", json, ...args], "usage");
  const report = await runFleetJob(job, opts, { cwd: dir, env: { JOB_TEST_PW: SECRET }, out: (l) => lines.push(l) });
  return { report, out: lines.join("\n"), json: readFileSync(json, "utf8") };
}

const problems = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    if (e instanceof InputError) return e.problems;
    throw e;
  }
  throw new Error("expected an InputError");
};

describe("runFleetJob", () => {
  it("runs the selected hosts over one connection each: report, section, recap, masked JSON", async () => {
    const { report, out, json } = await run(echoJob(), ["--limit", "web"]);
    expect(report.playbook).toBe("echo");
    expect(report.environment).toBe("staging");
    expect(report.hosts.map((h) => [h.name, h.status, h.commands, h.ok])).toEqual([
      ["web1", "ok", 1, 1],
      ["web2", "ok", 1, 1],
      ["web3", "ok", 1, 1],
    ]);
    expect(report.hosts[0]!.tasks[0]!.message).toBe(`3 prepared; web1 ${SECRET}`);
    expect(report.echoes).toBe(3);
    expect(report.summary).toMatchObject({ hosts: 3, ok: 3, exit_code: 0 });
    // Without a terminal: one plain line per host, then the recap; the secret masked everywhere.
    expect(out).toMatch(/^\[web\d\] said web\d \*{8}$/m);
    expect(out).toMatch(/^\[web1\] ok$/m);
    expect(out).toMatch(/^RECAP \(echo\) \*+\nweb1 : ok\s+ok=1 changed=0 failed=0 commands=1 /m);
    expect(out).toMatch(/\n3 hosts: 3 ok, 0 changed, 0 failed, 0 unreachable, 0 skipped in \d+\.\d\ds$/);
    expect(out).not.toContain(SECRET);
    expect(json).not.toContain(SECRET);
    expect(JSON.parse(json)).toMatchObject({ playbook: "echo", echoes: 3, summary: { hosts: 3 } });
  });

  it("an unreachable host is reported, not thrown: exit 4; a failed task wins: exit 2", async () => {
    const a = await run(echoJob(), ["--limit", "web1,gone"]);
    expect(a.report.hosts.map((h) => h.status)).toEqual(["ok", "unreachable"]);
    expect(a.report.summary.exit_code).toBe(4);
    const b = await run(echoJob(["web1"]), ["--limit", "web1,gone"]);
    expect(b.report.summary.exit_code).toBe(2);
    expect(b.out).toMatch(/^web1 : failed .*\n\s+echo: 2 prepared; web1 \*{8}$/m);
  });

  it("an unknown host key is unreachable (exit 4); a changed key fails the host (exit 2), counted in the recap", async () => {
    const inv = YAML.parse(readFileSync(inventory, "utf8"));
    const empty = join(dir, "empty_known_hosts");
    writeFileSync(empty, "");
    const unknown = join(dir, "unknown-key.yml");
    writeFileSync(unknown, YAML.stringify({ ...inv, known_hosts: empty }));
    const u = await runFleetJob(echoJob(), parseCommonArgs([unknown, "--limit", "web1"], "u"), {
      cwd: dir,
      env: { JOB_TEST_PW: SECRET },
      out: () => undefined,
    });
    expect(u.hosts.map((h) => [h.status, h.failed])).toEqual([["unreachable", 0]]);
    expect(u.hosts[0]!.error).toMatch(/is not in .*; run with --accept-new-host-keys to record it/);
    expect(u.summary.exit_code).toBe(4);

    const other = join(dir, "changed_known_hosts");
    writeFileSync(other, `[127.0.0.1]:${sshd.sshd.port} ${await ensureKeyPair(join(dir, "impostor"))}\n`);
    const changed = join(dir, "changed-key.yml");
    writeFileSync(changed, YAML.stringify({ ...inv, known_hosts: other }));
    const lines: string[] = [];
    const c = await runFleetJob(echoJob(), parseCommonArgs([changed, "--limit", "web1"], "u"), {
      cwd: dir,
      env: { JOB_TEST_PW: SECRET },
      out: (l) => lines.push(l),
    });
    expect(c.hosts.map((h) => [h.status, h.failed])).toEqual([["failed", 1]]);
    expect(c.summary.exit_code).toBe(2);
    const recap = lines.join("\n").slice(lines.join("\n").indexOf("RECAP"));
    expect(recap).toMatch(/^web1 : failed\s+ok=0 changed=0 failed=1 /m);
    // The reason once, not once as the error and again as the failed task.
    expect(recap.match(/CHANGED/g)).toHaveLength(1);
  });

  it("a host whose work throws shows its failure in the recap: failed=1, not failed=0", async () => {
    const job: ReturnType<typeof echoJob> = {
      ...echoJob(),
      async perHost() {
        throw new Error("the facts command died");
      },
    };
    const lines: string[] = [];
    const r = await runFleetJob(job, parseCommonArgs([inventory, "--limit", "web1"], "u"), {
      cwd: dir,
      env: { JOB_TEST_PW: SECRET },
      out: (l) => lines.push(l),
    });
    expect(r.hosts.map((h) => [h.status, h.failed])).toEqual([["failed", 1]]);
    expect(lines.join("\n")).toMatch(/^web1 : failed\s+ok=0 changed=0 failed=1 .*\n\s+the facts command died$/m);
  });

  it("a private key that cannot be read is bad input: exit 1 before any host is contacted", async () => {
    const counter = await connectionCounter();
    try {
      const inv = YAML.parse(readFileSync(inventory, "utf8"));
      for (const h of Object.values<any>(inv.hosts)) h.ssh.port = counter.port;
      inv.hosts.web2.ssh.private_key = join(dir, "no-such-key");
      const file = join(dir, "missing-key.yml");
      writeFileSync(file, YAML.stringify(inv));
      const opts = parseCommonArgs([file, "--limit", "web1,web2"], "u");
      expect(await problems(runFleetJob(echoJob(), opts, { cwd: dir, env: { JOB_TEST_PW: SECRET } }))).toEqual([
        `missing-key.yml: hosts.web2.ssh.private_key: cannot read ${join(dir, "no-such-key")}: no such file`,
      ]);
      expect(counter.count()).toBe(0);
    } finally {
      counter.close();
    }
  });

  it("--serial with --max-fail-percent 0 stops after the failing batch; the rest are skipped", async () => {
    const { report } = await run(echoJob(["web1"]), ["--limit", "web", "--serial", "1", "--max-fail-percent", "0"]);
    expect(report.hosts.map((h) => h.status)).toEqual(["failed", "skipped", "skipped"]);
    expect(report.hosts[1]!.commands).toBe(0);
  });

  it("refuses every option the job does not take, before the inventory is read", async () => {
    const opts = parseCommonArgs([join(dir, "does-not-exist.yml"), "--check", "--tags", "config", "--force"], "u");
    expect(await problems(runFleetJob(echoJob(), opts, { cwd: dir }))).toEqual([
      "arguments: --check: not supported by echo (it only echoes)",
      "arguments: --tags: not supported by echo (it only echoes)",
      "arguments: --force: not supported by echo (it only echoes)",
    ]);
  });

  it("a problem found by prepare is bad input: no host is contacted", async () => {
    const counter = await connectionCounter();
    try {
      const inv = YAML.parse(readFileSync(inventory, "utf8"));
      for (const h of Object.values<any>(inv.hosts)) h.ssh.port = counter.port;
      const file = join(dir, "counted.yml");
      writeFileSync(file, YAML.stringify(inv));
      const job: ReturnType<typeof echoJob> = {
        ...echoJob(),
        prepare: ({ hosts }) => {
          throw new InputError(hosts.map((h) => `${h.name}: not today`));
        },
      };
      const opts = parseCommonArgs([file, "--limit", "web1,web2"], "u");
      expect(await problems(runFleetJob(job, opts, { cwd: dir, env: { JOB_TEST_PW: SECRET } }))).toEqual([
        "web1: not today",
        "web2: not today",
      ]);
      expect(counter.count()).toBe(0);
    } finally {
      counter.close();
    }
  });
});
