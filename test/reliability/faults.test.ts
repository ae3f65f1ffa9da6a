// Faults on the lab: hosts that are down or never speak SSH, sshd killed mid-apply, mid-smoke,
// mid-drill and mid-status, the provisioner interrupted, two provisions of one host at once. After
// each: the other hosts finish, exit code and recap say what happened, no managed file is
// half-written, no scratch space is left (or the next drill removes it and says so), a re-run
// completes. The figures (faults injected and survived) are printed for RELIABILITY.md.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { readFileSync, readdirSync, existsSync, statSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createServer, type Server, type Socket } from "node:net";
import { execa } from "execa";
import { startTestLab, cli, CLI, REPO, type TestLab } from "../helpers/lab.ts";
import { freePort } from "../helpers/ports.ts";
import { labUp } from "../../src/lab/lab.ts";
import type { LabHost } from "../../src/lab/lab.ts";
import { installedScripts } from "../../src/render/files.ts";
import { backupDir, databases, drillLeftovers, runBackups } from "../helpers/backups.ts";

let lab: TestLab;
let inv: string;
const faults: { fault: string; survived: boolean }[] = [];
const conf = (h: LabHost) => `${h.prefix}/etc/cepcomunicacion/backup.conf`;
const scriptsDir = (h: LabHost) => `${h.prefix}/infra/backup/scripts`;

beforeAll(async () => {
  lab = await startTestLab(3);
  inv = lab.state.files.inventory;
});
afterAll(async () => {
  console.log(
    `[reliability] faults: ${faults.length} injected, ${faults.filter((f) => f.survived).length} survived: ${faults.map((f) => f.fault).join("; ")}`,
  );
  await lab?.down();
});

/** PIDs of a process and all its descendants (an sshd listener and the sessions it forked). */
function tree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
    } catch {
      // gone meanwhile
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]!) ?? []));
  return out;
}

/** SIGKILL a lab host's sshd and every session it runs (the host "crashes" from the client's view). */
function killSshd(h: LabHost): void {
  const pid = Number(readFileSync(h.sshdPidFile, "utf8").trim());
  const sshds = tree(pid).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/comm`, "utf8").trim() === "sshd";
    } catch {
      return false;
    }
  });
  for (const p of sshds) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

async function restartLab(): Promise<void> {
  await labUp({ dir: lab.dir, hosts: lab.state.hosts.length });
}

/** Poll for `cond`; fails with the run's output if the run ended first. */
async function until(what: string, cond: () => boolean, run?: Promise<{ stdout: string }>, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  let ended: { stdout: string } | undefined;
  void run?.then((r) => (ended = r));
  while (!cond()) {
    if (ended) throw new Error(`the run ended before ${what}:\n${ended.stdout}`);
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** What a host's managed tree holds that is not a finished file: the apply script's temp files. */
function tempFiles(h: LabHost): string[] {
  const out: string[] = [];
  for (const d of [scriptsDir(h), `${scriptsDir(h)}/lib`, `${h.prefix}/etc/cepcomunicacion`, `${h.prefix}/etc/cron.d`])
    if (existsSync(d))
      out.push(
        ...readdirSync(d)
          .filter((f) => f.includes(".cep-"))
          .map((f) => `${d}/${f}`),
      );
  return out;
}

/** Every installed script present is the repo's, byte for byte (never a prefix of it). */
function scriptsWholeOrAbsent(h: LabHost): { present: number; total: number } {
  const repo = installedScripts();
  let present = 0;
  for (const s of repo) {
    const p = `${scriptsDir(h)}/${s.name}`;
    if (!existsSync(p)) continue;
    present++;
    expect(readFileSync(p, "utf8"), s.name).toBe(s.content);
  }
  return { present, total: repo.length };
}

describe("unreachable hosts", () => {
  let silent: Server;
  const sockets: Socket[] = [];
  afterAll(() => {
    for (const s of sockets) s.destroy();
    silent?.close();
  });

  it("a host with sshd stopped and a port that accepts TCP but never speaks SSH: the third host finishes, exit 4, the recap says so", async () => {
    const [h1, h2, h3] = lab.state.hosts as [LabHost, LabHost, LabHost];
    // A listener that takes the connection and never writes a byte (no SSH banner).
    const port = await freePort();
    silent = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(port, "127.0.0.1", () => r()));
    killSshd(h1);
    try {
      const base = lab.inventory();
      base.hosts[h2.name].ssh.port = port;
      base.hosts[h2.name].ssh.connect_timeout_s = 3;
      const file = lab.writeInventory("down.yml", base);
      const t0 = Date.now();
      const r = await cli("provision", [file, "--skip-smoke"]);
      const took = Date.now() - t0;
      expect(r.code, r.stdout + r.stderr).toBe(4);
      expect(r.report.hosts.map((h: any) => h.status)).toEqual(["unreachable", "unreachable", "changed"]);
      expect(r.report.hosts[0].error).toMatch(/refused|ECONNREFUSED/i);
      expect(r.report.hosts[1].error).toMatch(/timed out|timeout|handshake/i);
      // The recap names each host with its state.
      expect(r.stdout).toMatch(new RegExp(`^${h1.name} : unreachable .*\\n\\s+connection refused`, "m"));
      expect(r.stdout).toMatch(
        new RegExp(`^${h2.name} : unreachable .*\\n\\s+.*did not complete the SSH handshake`, "m"),
      );
      expect(r.stdout).toMatch(new RegExp(`^${h3.name} : changed .*failed=0`, "m"));
      expect(r.stdout).toMatch(/^3 hosts: 0 ok, 1 changed, 0 failed, 2 unreachable/m);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(took).toBeLessThan(30_000);
      scriptsWholeOrAbsent(h3);
      expect(existsSync(scriptsDir(h1))).toBe(false);
      faults.push({ fault: "sshd stopped", survived: true }, { fault: "silent TCP port", survived: true });
    } finally {
      await restartLab();
    }
  });
});

describe("sshd killed", () => {
  it("mid-apply (a fresh host's first provision): no installed file is half-written, the other hosts finish, a re-run completes", async () => {
    const [h1, h2, h3] = lab.state.hosts as [LabHost, LabHost, LabHost];
    const run = cli("provision", [inv, "--skip-smoke"]);
    // The first installed file of h1 appears: the apply script is writing.
    await until("h1's first installed file", () => existsSync(`${scriptsDir(h1)}/backup-lib.sh`), run);
    killSshd(h1);
    const r = await run;
    const got = scriptsWholeOrAbsent(h1);
    console.log(`[reliability] sshd killed mid-apply: ${got.present}/${got.total} scripts in place at the kill`);
    expect([2, 4]).toContain(r.code);
    const statuses = r.report.hosts.map((h: any) => h.status);
    expect(["failed", "unreachable"]).toContain(statuses[0]);
    // h2 (unreachable until now) gets its first install, h3 is up to date.
    expect(statuses.slice(1)).toEqual(["changed", "ok"]);
    expect(r.report.hosts[0].error ?? "").not.toBe("");
    expect(r.stderr).not.toMatch(/\n\s+at /);
    await restartLab();
    const again = await cli("provision", [inv, "--skip-smoke"]);
    expect(again.code, again.stdout).toBe(0);
    expect(tempFiles(h1)).toEqual([]);
    const noop = await cli("provision", [inv, "--skip-smoke"]);
    expect(noop.code).toBe(0);
    for (const h of noop.report.hosts) expect(h.changed, h.name).toBe(0);
    expect(scriptsWholeOrAbsent(h1).present).toBe(got.total);
    for (const h of [h2, h3]) expect(scriptsWholeOrAbsent(h).present).toBe(got.total);
    faults.push({ fault: "sshd killed mid-apply", survived: true });
  });

  it("while the apply waits for the host's lock: the managed file keeps its old content, no temp file, a re-run applies", async () => {
    const h1 = lab.state.hosts[0]!;
    const before = readFileSync(conf(h1), "utf8");
    // Another provision holds the lock on the config directory.
    const holder = holdLock(`${h1.prefix}/etc/cepcomunicacion`);
    await holder.held;
    const run = cli("provision", [inv, "--limit", h1.name, "--skip-smoke", "-e", "retention.daily_days=11"]);
    await until("the apply waiting on the lock", () => psArgs().some((a) => /^flock -w \d+ 8$/.test(a)), run);
    killSshd(h1);
    const r = await run;
    await holder.release();
    expect([2, 4]).toContain(r.code);
    expect(readFileSync(conf(h1), "utf8")).toBe(before);
    expect(tempFiles(h1)).toEqual([]);
    await restartLab();
    const again = await cli("provision", [inv, "--limit", h1.name, "--skip-smoke", "-e", "retention.daily_days=11"]);
    expect(again.code, again.stdout).toBe(0);
    expect(readFileSync(conf(h1), "utf8")).toMatch(/RETENTION_DAILY_DAYS=11/);
    faults.push({ fault: "sshd killed while the apply waits on the lock", survived: true });
  });

  it("mid-smoke: that host fails, a re-run's smoke passes and leaves no scratch database or folder", async () => {
    const h1 = lab.state.hosts[0]!;
    const run = cli("provision", [inv, "--limit", h1.name]);
    await until(
      "the smoke running",
      () => psArgs().some((a) => a.includes(scriptsDir(h1)) && /backup-\w+\.sh/.test(a)),
      run,
    );
    killSshd(h1);
    const r = await run;
    expect([2, 4]).toContain(r.code);
    expect(["failed", "unreachable"]).toContain(r.report.hosts[0].status);
    await restartLab();
    const again = await cli("provision", [inv, "--limit", h1.name]);
    expect(again.code, again.stdout).toBe(0);
    for (const c of Object.values<any>(again.report.hosts[0].smoke)) expect(c.status).toBe("passed");
    const parent = `${h1.prefix}/var/backups`;
    expect(readdirSync(parent).filter((f) => f.includes("smoke"))).toEqual([]);
    faults.push({ fault: "sshd killed mid-smoke", survived: true });
  });
});

/** Hold a host's provision lock (as another provision's apply does) in one process: killing it frees the lock. */
function holdLock(dir: string): { held: Promise<void>; release: () => Promise<void> } {
  const p = execa("bash", ["-c", 'exec 8<"$1" && flock 8 && echo held && exec sleep 120', "bash", dir], {
    reject: false,
  });
  const held = new Promise<void>((resolve) => p.stdout!.on("data", () => resolve()));
  return {
    held,
    release: async () => {
      p.kill("SIGKILL");
      await p;
    },
  };
}

function psArgs(): string[] {
  const out: string[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      out.push(readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0").join(" ").trim());
    } catch {
      // gone
    }
  }
  return out;
}

describe("the provisioner interrupted", () => {
  it("SIGINT while a host applies: the re-run completes, every file whole", async () => {
    const h2 = lab.state.hosts[1]!;
    const holder = holdLock(`${h2.prefix}/etc/cepcomunicacion`);
    await holder.held;
    const p = execa(process.execPath, [CLI, "provision", inv, "--skip-smoke", "-e", "retention.daily_days=12"], {
      cwd: REPO,
      reject: false,
      stdin: "ignore",
    });
    await until(
      "the apply waiting on the lock",
      () => psArgs().some((a) => /^flock -w \d+ 8$/.test(a)),
      p as Promise<any>,
    );
    p.kill("SIGINT");
    const r = await p;
    await holder.release();
    expect(r.exitCode === 0).toBe(false);
    expect(String(r.stderr)).not.toMatch(/\n\s+at /);
    const again = await cli("provision", [inv, "--skip-smoke", "-e", "retention.daily_days=12"]);
    expect(again.code, again.stdout).toBe(0);
    for (const h of lab.state.hosts) {
      expect(readFileSync(conf(h), "utf8")).toMatch(/RETENTION_DAILY_DAYS=12/);
      expect(tempFiles(h)).toEqual([]);
    }
    faults.push({ fault: "provisioner SIGINT mid-apply", survived: true });
  });
});

describe("two provisions of one host at once", () => {
  it("planned from the same facts: one applies, the other waits for its lock then fails naming the file; its re-run applies", async () => {
    const h3 = lab.state.hosts[2]!;
    const holder = holdLock(`${h3.prefix}/etc/cepcomunicacion`);
    await holder.held;
    const waiting = () => psArgs().filter((a) => /^flock -w \d+ 8$/.test(a)).length;
    const base = waiting();
    const a = cli("provision", [inv, "--limit", h3.name, "--skip-smoke", "-e", "retention.daily_days=21"]);
    const b = cli("provision", [inv, "--limit", h3.name, "--skip-smoke", "-e", "retention.daily_days=22"]);
    await until("both applies waiting on the lock", () => waiting() >= base + 2, Promise.race([a, b]));
    await holder.release();
    const [ra, rb] = await Promise.all([a, b]);
    const codes = [ra.code, rb.code].sort();
    expect(codes).toEqual([0, 2]);
    const [won, lost] = ra.code === 0 ? [ra, rb] : [rb, ra];
    const failed = lost.report.hosts[0].tasks.find((t: any) => t.status === "failed");
    expect(failed.message).toContain(`${conf(h3)} changed on the host after this run read it`);
    const winner = won === ra ? 21 : 22;
    expect(readFileSync(conf(h3), "utf8")).toMatch(new RegExp(`RETENTION_DAILY_DAYS=${winner}\\b`));
    expect(tempFiles(h3)).toEqual([]);
    const loser = winner === 21 ? 22 : 21;
    const again = await cli("provision", [
      inv,
      "--limit",
      h3.name,
      "--skip-smoke",
      "-e",
      `retention.daily_days=${loser}`,
    ]);
    expect(again.code).toBe(0);
    expect(readFileSync(conf(h3), "utf8")).toMatch(new RegExp(`RETENTION_DAILY_DAYS=${loser}\\b`));
    expect(statSync(conf(h3)).mode & 0o777).toBe(0o600);
    faults.push({ fault: "two provisions of one host at once", survived: true });
  });
});

/** Wait until nothing holds the lock file `lock` (a job orphaned by a killed session has ended). */
async function lockFree(lock: string, ms = 120_000): Promise<void> {
  const t0 = Date.now();
  while ((await execa("flock", ["-n", lock, "true"], { reject: false })).exitCode !== 0) {
    if (Date.now() - t0 > ms) throw new Error(`${lock} still held after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("sshd killed mid-drill and mid-status (2 hosts)", () => {
  const reports = mkdtempSync(join(tmpdir(), "rel-drills-"));
  afterAll(() => rmSync(reports, { recursive: true, force: true }));
  const two = () => [lab.state.hosts[0]!.name, lab.state.hosts[1]!.name].join(",");
  const scratchDbs = async (h: LabHost) => (await databases(h)).filter((d) => /_drill_[0-9a-f]{8}$/.test(d));

  it("mid-drill (restoring into the scratch database): the other host's drill passes, exit 2 with the lost connection; the next drill removes the leftovers, says so, and passes", async () => {
    const [h1, h2] = lab.state.hosts as [LabHost, LabHost];
    await Promise.all([h1, h2].map((h) => runBackups(h)));
    const args = [inv, "--limit", two(), "--force", "--report-dir", reports];
    const run = cli("drill", args);
    await until(
      "h1's drill restoring into its scratch database",
      () => drillLeftovers(h1).length > 0 && psArgs().some((a) => a.includes(`${scriptsDir(h1)}/restore-database.sh`)),
      run,
    );
    killSshd(h1);
    const r = await run;
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const [a, b] = r.report.hosts;
    expect(a.status).toBe("failed");
    expect(a.error).toMatch(new RegExp(`connection to ${h1.name} .* was lost`));
    expect(b.status, JSON.stringify(b.tasks)).toBe("ok");
    expect(b.drill.verdict).toBe("PASSED");
    expect(r.report.drill.verdict).toBe("FAILED");
    expect(r.stdout).toMatch(new RegExp(`^${h1.name}\\s+-\\s+FAILED\\s.*connection to ${h1.name} .* was lost`, "m"));
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(drillLeftovers(h2)).toEqual([]);
    expect(await scratchDbs(h2)).toEqual([]);
    // The killed session's drill runs on until it next writes to the dead channel; then it ends.
    await lockFree(`${backupDir(h1)}/.locks/drill.lock`);
    const left = drillLeftovers(h1).length + (await scratchDbs(h1)).length;
    console.log(`[reliability] sshd killed mid-drill: ${left} leftover(s) on the killed host`);
    await restartLab();
    const again = await cli("drill", args);
    expect(again.code, again.stdout).toBe(0);
    for (const h of again.report.hosts) expect(h.drill.verdict, h.name).toBe("PASSED");
    expect(again.report.hosts[0].drill.stale_removed).toBe(left);
    if (left)
      expect(readFileSync(again.report.drill.report_files.markdown, "utf8")).toContain(
        `${left} leftover(s) of an earlier drill removed`,
      );
    expect(drillLeftovers(h1)).toEqual([]);
    expect(await scratchDbs(h1)).toEqual([]);
    faults.push({ fault: "sshd killed mid-drill", survived: true });
  });

  it("mid-status (check-backups running): the other host's row is there, exit 2 with the lost connection; nothing half-written; the next status passes", async () => {
    const [h1] = lab.state.hosts as [LabHost, LabHost];
    const statusFile = `${h1.prefix}/var/run/cepcomunicacion-backup-status.json`;
    const args = [inv, "--limit", two(), "--report-dir", reports];
    const run = cli("status", args);
    await until(
      "h1's check-backups running",
      () => psArgs().some((a) => a.includes(`${scriptsDir(h1)}/check-backups.sh`)),
      run,
    );
    killSshd(h1);
    const r = await run;
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const [a, b] = r.report.hosts;
    expect(a.status).toBe("failed");
    expect(a.error).toMatch(new RegExp(`connection to ${h1.name} .* was lost`));
    expect(b.status).toBe("ok");
    expect(["OK", "WARNING"]).toContain(b.backup_status.overall_status);
    expect(r.stdout).toMatch(new RegExp(`^${h1.name}\\s+UNKNOWN\\s.*connection to ${h1.name} .* was lost`, "m"));
    expect(r.stdout).toMatch(new RegExp(`^${b.name}\\s+${b.backup_status.overall_status}\\s`, "m"));
    expect(r.stderr).not.toMatch(/\n\s+at /);
    await lockFree(`${backupDir(h1)}/.locks/check-backups.lock`);
    // The status file is whole (JSON) and no temp file of it is left.
    JSON.parse(readFileSync(statusFile, "utf8"));
    expect(readdirSync(dirname(statusFile)).filter((f) => f.includes(".tmp."))).toEqual([]);
    await restartLab();
    const again = await cli("status", args);
    expect(again.code, again.stdout).toBe(0);
    for (const h of again.report.hosts) {
      expect(h.status, h.name).toBe("ok");
      expect(h.drill_status.verdict, h.name).toBe("PASSED");
    }
    faults.push({ fault: "sshd killed mid-status", survived: true });
  });
});
