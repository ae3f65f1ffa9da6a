// Provision end to end on the lab: real sshd and PostgreSQL hosts, the real CLI, exit codes and
// JSON reports, the files and modes left on the hosts.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { statSync, readFileSync, existsSync, writeFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { startTestLab, cli, type TestLab } from "../helpers/lab.ts";
import { freePort, connectionCounter } from "../helpers/ports.ts";
import { ensureKeyPair } from "../../src/lab/sshd.ts";
import { installedScripts } from "../../src/render/files.ts";
import { hostLib } from "../../src/backup/desired.ts";

let lab: TestLab;
const mode = (p: string) => statSync(p).mode & 0o7777;

beforeAll(async () => {
  lab = await startTestLab(2);
});
afterAll(async () => {
  await lab?.down();
});

describe("provision on 2 lab hosts", () => {
  it("installs the tree, modes and files of the contract, then a re-run changes nothing in 1 command per host", async () => {
    const inv = lab.state.files.inventory;
    const first = await cli("provision", [inv, "--skip-smoke"]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.report.hosts.map((h: any) => h.status)).toEqual(["changed", "changed"]);

    for (const h of lab.state.hosts) {
      const p = h.prefix;
      const b = `${p}/var/backups/cepcomunicacion`;
      expect(mode(b)).toBe(0o700);
      for (const d of [
        "database",
        "database/weekly",
        "database/pre-restore",
        "media",
        "media/pre-restore",
        "config",
        "config/pre-restore",
      ]) {
        expect(statSync(`${b}/${d}`).isDirectory()).toBe(true);
      }
      expect(mode(`${p}/var/log/cepcomunicacion`)).toBe(0o755);
      expect(mode(`${p}/etc/cepcomunicacion/backup.conf`)).toBe(0o600);
      expect(mode(`${p}/etc/cepcomunicacion/backup.pgpass`)).toBe(0o600);
      expect(mode(`${p}/etc/cron.d/cepcomunicacion-backup`)).toBe(0o644);
      expect(mode(`${p}/etc/logrotate.d/cepcomunicacion-backup`)).toBe(0o644);
      const scripts = readdirSync(`${p}/infra/backup/scripts`).sort();
      expect(scripts).toContain("backup-lib.sh");
      for (const s of scripts.filter((x) => x !== "backup-lib.sh"))
        expect(mode(`${p}/infra/backup/scripts/${s}`)).toBe(0o755);
      // The installed system is the repo's files byte for byte; only lib/host.sh is written for the host.
      const repo = installedScripts();
      expect(repo.length).toBeGreaterThan(10);
      for (const s of repo) {
        expect(readFileSync(`${p}/infra/backup/scripts/${s.name}`, "utf8"), s.name).toBe(s.content);
        expect(mode(`${p}/infra/backup/scripts/${s.name}`), s.name).toBe(
          s.name === "backup-lib.sh" || s.name.startsWith("lib/") ? 0o644 : 0o755,
        );
      }
      expect(readdirSync(`${p}/infra/backup/scripts/lib`).sort()).toEqual(
        [...repo.filter((s) => s.name.startsWith("lib/")).map((s) => s.name.slice(4)), "host.sh"].sort(),
      );
      expect(readFileSync(`${p}/infra/backup/scripts/lib/host.sh`, "utf8")).toBe(
        hostLib(`${p}/etc/cepcomunicacion/backup.conf`),
      );
      // No plaintext password outside the pgpass file; the pgpass file escapes : and \.
      const password = (await import("../../src/lab/lab.ts")).labDbPassword;
      const pw = await password(lab.dir);
      expect(readFileSync(`${p}/etc/cepcomunicacion/backup.conf`, "utf8")).not.toContain(pw);
      expect(readFileSync(`${p}/etc/cepcomunicacion/backup.pgpass`, "utf8")).toContain(
        pw.replace(/[\\:]/g, (c) => `\\${c}`),
      );
      const cron = readFileSync(`${p}/etc/cron.d/cepcomunicacion-backup`, "utf8");
      expect(cron).toMatch(/^0 2 \* \* \* root .*backup-database\.sh/m);
    }
    expect(first.stdout + JSON.stringify(first.report)).not.toContain(
      await (await import("../../src/lab/lab.ts")).labDbPassword(lab.dir),
    );

    const second = await cli("provision", [inv, "--skip-smoke"]);
    expect(second.code).toBe(0);
    for (const h of second.report.hosts) {
      expect(h.status).toBe("ok");
      expect(h.changed).toBe(0);
      expect(h.commands).toBeLessThanOrEqual(3);
      expect(h.bytes_uploaded).toBe(0);
    }
  });

  it("--check reports a changed var and alters nothing; --diff shows the lines with secrets masked", async () => {
    const inv = lab.state.files.inventory;
    const conf = `${lab.state.hosts[0]!.prefix}/etc/cepcomunicacion/backup.conf`;
    const before = readFileSync(conf, "utf8");
    const r = await cli("provision", [
      inv,
      "--check",
      "--diff",
      "-e",
      "retention.daily_days=7",
      "-e",
      "database.port=6543",
    ]);
    expect(r.code).toBe(0);
    expect(readFileSync(conf, "utf8")).toBe(before);
    expect(r.report.check).toBe(true);
    const h = r.report.hosts[0];
    expect(h.status).toBe("changed");
    expect(h.tasks.find((t: any) => t.name === `file ${conf}`).message).toMatch(/^would change/);
    expect(r.stdout).toMatch(/^\+.*7/m);
    expect(r.stdout).toContain("(secret file: content changed, diff masked)");
    expect(r.stdout).not.toContain(await (await import("../../src/lab/lab.ts")).labDbPassword(lab.dir));
  });

  it("a host whose vars set paths with non-ASCII characters and its own prefix works, with no-op re-runs", async () => {
    const base = lab.inventory();
    const h1 = Object.keys(base.hosts)[0]!;
    const prefix = `${lab.dir}/otra raíz ñ`;
    base.hosts[h1].vars = {
      ...base.hosts[h1].vars,
      prefix,
      paths: { backup_dir: `${prefix}/copias de seguridad/año` },
    };
    const inv = lab.writeInventory("nonascii.yml", base);
    const r = await cli("provision", [inv, "--limit", h1, "--skip-smoke"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(mode(`${prefix}/copias de seguridad/año`)).toBe(0o700);
    expect(existsSync(`${prefix}/etc/cepcomunicacion/backup.conf`)).toBe(true);
    const again = await cli("provision", [inv, "--limit", h1, "--skip-smoke"]);
    expect(again.report.hosts[0].changed).toBe(0);
  });

  it("drift: a hand-edited managed file shows in --check and is put back (old copy kept)", async () => {
    const inv = lab.state.files.inventory;
    const h = lab.state.hosts[1]!;
    const script = `${h.prefix}/infra/backup/scripts/backup-database.sh`;
    const good = readFileSync(script, "utf8");
    writeFileSync(script, good + "\n# hand edit\n");
    const check = await cli("provision", [inv, "--check", "--limit", h.name, "--skip-smoke"]);
    expect(check.report.hosts[0].tasks.find((t: any) => t.name === `file ${script}`).status).toBe("changed");
    expect(readFileSync(script, "utf8")).toContain("# hand edit");
    const fix = await cli("provision", [inv, "--limit", h.name, "--skip-smoke"]);
    expect(fix.code).toBe(0);
    expect(readFileSync(script, "utf8")).toBe(good);
    const kept = readdirSync(`${h.prefix}/infra/backup/scripts`).filter(
      (f) => f.startsWith("backup-database.sh.") && f.endsWith("~"),
    );
    expect(kept.length).toBeGreaterThanOrEqual(1);
  });
});

describe("failures", () => {
  it("an unknown host key leaves the host unreached (exit 4) unless --accept-new-host-keys, which records it", async () => {
    const base = lab.inventory();
    const kh = join(lab.dir, "empty_known_hosts");
    writeFileSync(kh, "");
    base.known_hosts = kh;
    const inv = lab.writeInventory("unknown-key.yml", base);
    const r = await cli("provision", [inv, "--skip-smoke"]);
    // Not reached, as Ansible counts it (issue 11: it exited 2, as if the host had failed).
    expect(r.code).toBe(4);
    expect(r.report.hosts.every((h: any) => h.status === "unreachable" && /not in|unknown/i.test(h.error))).toBe(true);
    const ok = await cli("provision", [inv, "--skip-smoke", "--accept-new-host-keys"]);
    expect(ok.code).toBe(0);
    expect(readFileSync(kh, "utf8").trim().split("\n")).toHaveLength(2);
    expect((await cli("provision", [inv, "--skip-smoke"])).code).toBe(0);
  });

  it("a changed host key always fails, even with --accept-new-host-keys", async () => {
    const base = lab.inventory();
    const kh = join(lab.dir, "changed_known_hosts");
    const other = (await ensureKeyPair(join(lab.dir, "impostor_key"))).split(" ").slice(0, 2).join(" ");
    writeFileSync(kh, lab.state.hosts.map((h) => `[127.0.0.1]:${h.sshPort} ${other}\n`).join(""));
    base.known_hosts = kh;
    const inv = lab.writeInventory("changed-key.yml", base);
    const r = await cli("provision", [inv, "--skip-smoke", "--accept-new-host-keys"]);
    expect(r.code).toBe(2);
    for (const h of r.report.hosts) expect(h.error).toMatch(/changed/i);
  });

  it("an unreachable host does not stop the others: exit 4", async () => {
    const base = lab.inventory();
    const names = Object.keys(base.hosts);
    base.hosts[names[0]!].ssh.port = await freePort();
    const inv = lab.writeInventory("unreachable.yml", base);
    const r = await cli("provision", [inv, "--skip-smoke", "--accept-new-host-keys"]);
    expect(r.code).toBe(4);
    expect(r.report.hosts.map((h: any) => h.status)).toEqual(["unreachable", "ok"]);
  });

  it("a failing step on one host: exit 2, the other host still succeeds", async () => {
    const base = lab.inventory();
    const names = Object.keys(base.hosts);
    // A file where a directory must be: the plan fails for that host only.
    const blocker = join(lab.dir, "blocker");
    writeFileSync(blocker, "x");
    base.hosts[names[0]!].vars.paths = { log_dir: blocker };
    const inv = lab.writeInventory("failing.yml", base);
    const r = await cli("provision", [inv, "--skip-smoke"]);
    expect(r.code).toBe(2);
    expect(r.report.hosts[0].status).toBe("failed");
    expect(
      r.report.hosts[0].tasks.some((t: any) => t.status === "failed" && t.message.includes("not a directory")),
    ).toBe(true);
    expect(r.report.hosts[1].status).toBe("ok");
  });

  it("a bad inventory exits 1 listing every problem, and no host is contacted", async () => {
    const counter = await connectionCounter();
    const port = counter.port;
    try {
      const base = lab.inventory();
      const names = Object.keys(base.hosts);
      base.hosts[names[0]!].ssh.port = port;
      base.vars.retention = { daily_days: "thirty" };
      base.vars.schedule = { database: "61 2 * * *" };
      base.hosts[names[1]!].vars.database = { ...base.hosts[names[1]!].vars.database, name: "Bad Name;" };
      const inv = lab.writeInventory("bad.yml", base);
      const r = await cli("provision", [inv]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/bad\.yml: vars\.retention\.daily_days: /);
      expect(r.stderr).toMatch(/bad\.yml: vars\.schedule\.database: /);
      expect(r.stderr).toMatch(/database\.name: /);
      expect(counter.count()).toBe(0);
    } finally {
      counter.close();
    }
  });

  it("a missing secret exits 1 naming the variable", async () => {
    const base = lab.inventory();
    base.vars.database.password = { env: "CEP_TEST_NOT_SET_PASSWORD" };
    const inv = lab.writeInventory("missing-secret.yml", base);
    const r = await cli("provision", [inv]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("CEP_TEST_NOT_SET_PASSWORD");
  });
});

describe("become", () => {
  const user = `cepdeploy${process.pid % 100000}`;
  const sudoers = `/etc/sudoers.d/cep-e2e-${user}`;
  afterAll(async () => {
    const { execa } = await import("execa");
    const { rmSync } = await import("node:fs");
    rmSync(sudoers, { force: true });
    await execa("userdel", ["-r", user], { reject: false });
  });

  it("a non-root login with NOPASSWD sudo provisions as root, and a re-run is a no-op", async () => {
    const { execa } = await import("execa");
    const h = lab.state.hosts[0]!;
    await execa("useradd", ["--create-home", "--shell", "/bin/bash", user]);
    // sshd without PAM refuses a locked password ("!"); "*" is "no password".
    await execa("usermod", ["-p", "*", user]);
    writeFileSync(
      join(h.sshdDir, "authorized_keys", user),
      `${readFileSync(`${lab.state.files.privateKey}.pub`, "utf8").trim()}\n`,
      { mode: 0o644 },
    );
    writeFileSync(`${sudoers}.tmp`, `${user} ALL=(ALL:ALL) NOPASSWD: ALL\n`, { mode: 0o440 });
    await execa("visudo", ["-cf", `${sudoers}.tmp`]);
    await execa("mv", [`${sudoers}.tmp`, sudoers]);

    const base = lab.inventory();
    const name = Object.keys(base.hosts)[0]!;
    base.hosts[name].ssh = { ...base.hosts[name].ssh, user, become: true };
    base.hosts[name].vars.paths = { scripts_dir: `${h.prefix}/opt/become-scripts` };
    const inv = lab.writeInventory("become.yml", base);
    const r = await cli("provision", [inv, "--limit", name, "--skip-smoke"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.report.hosts[0].status).toBe("changed");
    const st = statSync(`${h.prefix}/opt/become-scripts/backup-database.sh`);
    expect([st.uid, st.mode & 0o7777]).toEqual([0, 0o755]);
    const again = await cli("provision", [inv, "--limit", name, "--skip-smoke"]);
    expect(again.report.hosts[0]).toMatchObject({ status: "ok", changed: 0, commands: 1 });
  });
});
