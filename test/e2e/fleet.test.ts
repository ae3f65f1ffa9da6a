// Provision proves itself on a 3-host lab: smoke backup and test restore on every host, a host
// broken on purpose, and the fleet-wide config update flow (check/diff, rolling batches, bad input).
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { readFileSync, readdirSync, statSync, mkdirSync, rmSync, existsSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { startTestLab, cli, type TestLab } from "../helpers/lab.ts";
import { psqlSuper } from "../../src/lab/postgres.ts";
import { cluster, liveRowCounts } from "../helpers/backups.ts";
import type { LabHost } from "../../src/lab/lab.ts";
import { freePort } from "../helpers/ports.ts";

let lab: TestLab;
let inv: string;

const confPath = (h: LabHost) => `${h.prefix}/etc/cepcomunicacion/backup.conf`;
const cronPath = (h: LabHost) => `${h.prefix}/etc/cron.d/cepcomunicacion-backup`;

beforeAll(async () => {
  lab = await startTestLab(3);
  inv = lab.state.files.inventory;
});
afterAll(async () => {
  await lab?.down();
});

describe("smoke backup and test restore", () => {
  it("passes every component on 3 hosts, leaves no scratch database or temp folder, live data unchanged", async () => {
    const before = await Promise.all(lab.state.hosts.map(liveRowCounts));
    expect(before[0]!["public.users"]).toBeGreaterThan(0);
    const r = await cli("provision", [inv]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    for (const h of r.report.hosts) {
      expect(h.status).toBe("changed");
      expect(Object.keys(h.smoke).sort()).toEqual(["check", "config", "database", "media"]);
      for (const [name, c] of Object.entries<any>(h.smoke)) {
        expect(c.status, `${h.name} ${name}: ${c.details}`).toBe("passed");
        expect(c.duration_ms).toBeGreaterThan(0);
      }
      expect(h.smoke.database.details).toMatch(/row counts match/);
      expect(h.commands).toBeLessThanOrEqual(3);
    }
    const after = await Promise.all(lab.state.hosts.map(liveRowCounts));
    expect(after).toEqual(before);
    for (const h of lab.state.hosts) {
      const dbs = await psqlSuper(cluster(h), "SELECT datname FROM pg_database");
      expect(dbs).not.toMatch(/_smoke_/);
      const parent = dirname(`${h.prefix}/var/backups/cepcomunicacion`);
      expect(readdirSync(parent).filter((f) => f.includes("smoke"))).toEqual([]);
      // The smoke really produced backups, through the installed jobs.
      expect(
        readdirSync(`${h.prefix}/var/backups/cepcomunicacion/database`).some((f) =>
          /^cepcomunicacion_.*\.dump$/.test(f),
        ),
      ).toBe(true);
      expect(existsSync(`${h.prefix}/var/run/cepcomunicacion-backup-status.json`)).toBe(true);
    }
  });

  it("a host whose cron PATH is broken fails its smoke with the reason (exit 2); the others pass", async () => {
    const base = lab.inventory();
    const names = Object.keys(base.hosts);
    base.hosts[names[1]!].vars.cron_path = "/usr/local/bin:/nonexistent";
    const broken = lab.writeInventory("broken-path.yml", base);
    const r = await cli("provision", [broken]);
    expect(r.code).toBe(2);
    const [a, b, c] = r.report.hosts;
    expect(a.status).toBe("ok");
    expect(c.status).toBe("ok");
    expect(b.status).toBe("failed");
    expect(b.smoke.database.status).toBe("failed");
    expect(b.smoke.database.details).toMatch(/No such file|not found/);
    expect(r.stdout).toMatch(/smoke database: failed/);
    // Put it back for the tests below.
    expect((await cli("provision", [inv, "--skip-smoke"])).code).toBe(0);
  });
});

describe("a backup directory the backup user cannot write", () => {
  it("fails that host's smoke with the reason (exit 2); the others pass", async () => {
    const { execa } = await import("execa");
    const h = lab.state.hosts[0]!;
    const dbDir = `${h.prefix}/var/backups/cepcomunicacion/database`;
    // A read-only filesystem mounted over the database backups (mode as provision wants it).
    await execa("mount", ["-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", dbDir]);
    for (const sub of ["weekly", "monthly", "pre-restore"]) await execa("mkdir", ["-m", "0700", `${dbDir}/${sub}`]);
    await execa("mount", ["-o", "remount,ro", dbDir]);
    try {
      const r = await cli("provision", [inv]);
      expect(r.code).toBe(2);
      const [a, b, c] = r.report.hosts;
      expect(a.status).toBe("failed");
      expect(a.smoke?.database.status, JSON.stringify(a.tasks.filter((t: any) => t.status !== "ok"))).toBe("failed");
      expect(a.smoke.database.details).toMatch(/Read-only file system/);
      expect(b.status).toBe("ok");
      expect(c.status).toBe("ok");
    } finally {
      await execa("umount", [dbDir]);
    }
  });
});

describe("fleet-wide config updates", () => {
  it("--tags config --check --diff shows per host what would change, secrets masked, and changes nothing", async () => {
    const before = lab.state.hosts.map((h) => readFileSync(confPath(h), "utf8"));
    const r = await cli("config", [
      inv,
      "--check",
      "--diff",
      "-e",
      "retention.daily_days=9",
      "-e",
      "alerts.slack_webhook=https://hooks.example.com/T0/B0/abc",
    ]);
    expect(r.code).toBe(0);
    expect(lab.state.hosts.map((h) => readFileSync(confPath(h), "utf8"))).toEqual(before);
    for (const h of lab.state.hosts) expect(r.stdout).toContain(`--- ${confPath(h)}`);
    expect(r.stdout).toMatch(/^\+.*9/m);
    // Webhook URLs carry tokens: their values are masked in the diff, a hash shows the change.
    expect(r.stdout).not.toContain("hooks.example.com");
    expect(r.stdout).toMatch(/^\+SLACK_WEBHOOK=\*{8}\(sha256:[0-9a-f]{8}\)$/m);
    for (const h of r.report.hosts) {
      const changed = h.tasks.filter((t: any) => t.status === "changed").map((t: any) => t.name);
      expect(changed).toEqual([`file ${confPath(lab.state.hosts.find((x) => x.name === h.name)!)}`]);
      expect(h.commands).toBe(1);
    }
  });

  it("a rolling update stops after the batch with a failure and reports untouched hosts as skipped", async () => {
    const [h1, h2, h3] = lab.state.hosts as [LabHost, LabHost, LabHost];
    // A directory where h2's cron file must go: that host's plan fails.
    const cron2 = readFileSync(cronPath(h2), "utf8");
    rmSync(cronPath(h2));
    mkdirSync(cronPath(h2));
    const conf3 = readFileSync(confPath(h3), "utf8");
    try {
      const r = await cli("config", [
        inv,
        "--serial",
        "1",
        "--max-fail-percent",
        "0",
        "-e",
        "retention.daily_days=9",
        "-e",
        "schedule.database=15 1 * * *",
      ]);
      expect(r.code).toBe(2);
      expect(r.report.hosts.map((h: any) => h.status)).toEqual(["changed", "failed", "skipped"]);
      expect(readFileSync(confPath(h1), "utf8")).toMatch(/RETENTION_DAILY_DAYS=9/);
      expect(readFileSync(cronPath(h1), "utf8")).toMatch(/^15 1 \* \* \* root /m);
      expect(readFileSync(confPath(h3), "utf8")).toBe(conf3);
      // The replaced files were kept beside the new ones.
      const etc = readdirSync(dirname(confPath(h1)));
      expect(etc.some((f) => /^backup\.conf\.\d{14}~$/.test(f))).toBe(true);
      expect(readdirSync(dirname(cronPath(h1))).some((f) => /^cepcomunicacion-backup\.\d{14}~$/.test(f))).toBe(true);
    } finally {
      rmSync(cronPath(h2), { recursive: true });
      writeFileSync(cronPath(h2), cron2);
    }
    // Only content or mode differences are written: the rest of the fleet converges, h1 is a no-op.
    const rest = await cli("config", [inv, "-e", "retention.daily_days=9", "-e", "schedule.database=15 1 * * *"]);
    expect(rest.code).toBe(0);
    expect(rest.report.hosts.map((h: any) => h.changed)).toEqual([0, 2, 2]);
  });

  it("an invalid cron expression or logrotate file is bad input: exit 1, nothing written anywhere", async () => {
    const mtimes = lab.state.hosts.map((h) => statSync(cronPath(h)).mtimeMs);
    const r = await cli("config", [inv, "-e", "schedule.database=61 * * * *"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/schedule\.database/);
    // A log dir logrotate cannot parse is caught locally too, for every host at once.
    const lr = await cli("config", [inv, "-e", `paths.log_dir=${lab.dir}/log"s`]);
    expect(lr.code).toBe(1);
    for (const h of lab.state.hosts)
      expect(lr.stderr).toContain(`${h.name}: ${h.prefix}/etc/logrotate.d/cepcomunicacion-backup:`);
    expect(lab.state.hosts.map((h) => statSync(cronPath(h)).mtimeMs)).toEqual(mtimes);
  });
});

describe("a config rollout with wrong database credentials", () => {
  it("is refused on the host by logging in with the new pgpass before the rename: the old file stays, backups still run", async () => {
    const { execa } = await import("execa");
    const h = lab.state.hosts[0]!;
    // Installed as the lab inventory wants it (a no-op when the tests above ran).
    expect((await cli("provision", [inv, "--limit", h.name, "--skip-smoke"])).code).toBe(0);
    const pgpass = `${h.prefix}/etc/cepcomunicacion/backup.pgpass`;
    const etc = dirname(pgpass);
    const before = { pgpass: readFileSync(pgpass, "utf8"), conf: readFileSync(confPath(h), "utf8") };
    const mtime = statSync(pgpass).mtimeMs;
    const base = lab.inventory();
    base.vars.database.password = { env: "CEP_E2E_WRONG_PASSWORD" };
    const wrong = lab.writeInventory("wrong-password.yml", base);
    const r = await cli("config", [wrong, "--limit", h.name], { env: { CEP_E2E_WRONG_PASSWORD: "not-the-password" } });
    expect(r.code).toBe(2);
    const host = r.report.hosts[0];
    expect(host.status).toBe("failed");
    const failed = host.tasks.filter((t: any) => t.status === "failed");
    expect(failed.map((t: any) => t.name)).toEqual([`file ${pgpass}`]);
    expect(failed[0].message).toMatch(/validation of .*backup\.pgpass failed: .*password authentication failed/);
    expect(r.stdout).not.toContain("not-the-password");
    expect(readFileSync(pgpass, "utf8")).toBe(before.pgpass);
    expect(statSync(pgpass).mtimeMs).toBe(mtime);
    expect(readFileSync(confPath(h), "utf8")).toBe(before.conf);
    expect(readdirSync(etc).filter((f) => f.includes(".cep-"))).toEqual([]);

    // backup.conf's connection values too: a wrong port changes backup.conf and the pgpass file (its
    // lines carry host and port); neither is replaced.
    const port = String(await freePort());
    const moved = await cli("config", [inv, "--limit", h.name, "-e", `database.port=${port}`]);
    expect(moved.code).toBe(2);
    expect(moved.report.hosts[0].tasks.find((t: any) => t.status === "failed").message).toMatch(
      /validation of .* failed: .*(refused|could not connect)/i,
    );
    expect(readFileSync(pgpass, "utf8")).toBe(before.pgpass);
    expect(readFileSync(confPath(h), "utf8")).toBe(before.conf);

    // The old, working pair still backs up.
    const job = await execa(`${h.prefix}/infra/backup/scripts/backup-database.sh`, [], {
      reject: false,
      stdin: "ignore",
    });
    expect(job.exitCode, job.stderr).toBe(0);
    // A rollout of the right values passes its own login check.
    expect((await cli("config", [inv, "--limit", h.name])).code).toBe(0);
  });
});

describe("a dedicated backup user", () => {
  const user = `cepbk${process.pid % 100000}`;
  afterAll(async () => {
    const { execa } = await import("execa");
    await execa("userdel", [user], { reject: false });
  });

  it("is created, owns the backup tree, runs the jobs; config files it cannot read fail the smoke until granted", async () => {
    const { execa } = await import("execa");
    const h = lab.state.hosts[2]!;
    const base = lab.inventory();
    base.hosts[h.name].vars.backup_user = user;
    const dedicated = lab.writeInventory("dedicated.yml", base);

    // The lab's .env files are 0600 root: the smoke catches what would break at 2:30 AM.
    const first = await cli("provision", [dedicated, "--limit", h.name]);
    expect(first.code).toBe(2);
    const host = first.report.hosts[0];
    expect(host.smoke.database.status).toBe("passed");
    expect(host.smoke.media.status).toBe("passed");
    expect(host.smoke.config.status).toBe("failed");
    expect(host.smoke.config.details).toMatch(/permission denied: cepbk\d+ cannot read .env .env.production/);

    // The operator grants read access through the backup user's group.
    for (const f of [".env", ".env.production"]) {
      await execa("chgrp", [user, `${h.appDir}/${f}`]);
      await execa("chmod", ["0640", `${h.appDir}/${f}`]);
    }
    const second = await cli("provision", [dedicated, "--limit", h.name]);
    expect(second.code).toBe(0);
    for (const c of Object.values<any>(second.report.hosts[0].smoke)) expect(c.status).toBe("passed");
    const owner = async (p: string) => (await execa("stat", ["-c", "%U", p])).stdout;
    const b = `${h.prefix}/var/backups/cepcomunicacion`;
    expect(await owner(b)).toBe(user);
    expect(await owner(`${h.prefix}/etc/cepcomunicacion/backup.pgpass`)).toBe(user);
    const dumps = readdirSync(`${b}/database`).filter((f) => f.endsWith(".dump"));
    for (const d of dumps.slice(-1)) expect(await owner(`${b}/database/${d}`)).toBe(user);
    expect(existsSync(`${h.prefix}/var/lib/cepcomunicacion-backup/backup-status.json`)).toBe(true);
    expect(readFileSync(cronPath(h), "utf8")).toMatch(new RegExp(`^0 2 \\* \\* \\* ${user} `, "m"));
    expect(await owner(`${h.prefix}/etc/cepcomunicacion/backup.conf`)).toBe("root");

    // An operator runs a job by hand as root: it re-runs itself as the backup user, so the next
    // cron run (as that user) still owns every lock, log and backup.
    const byHand = await execa(`${h.prefix}/infra/backup/scripts/backup-database.sh`, [], {
      cwd: "/root",
      reject: false,
    });
    expect(byHand.exitCode, byHand.stderr).toBe(0);
    for (const f of readdirSync(`${b}/database`)) expect(await owner(`${b}/database/${f}`), f).toBe(user);
    for (const f of readdirSync(`${b}/.locks`)) expect(await owner(`${b}/.locks/${f}`), f).toBe(user);
    for (const f of readdirSync(`${h.prefix}/var/log/cepcomunicacion`))
      expect(await owner(`${h.prefix}/var/log/cepcomunicacion/${f}`), f).toBe(user);
    const third = await cli("provision", [dedicated, "--limit", h.name]);
    expect(third.code).toBe(0);

    // Restores of the live media and config run as root (they write the app's directories); what
    // they write into the backup tree (pre-restore copies) is written by the backup user itself.
    const scripts = `${h.prefix}/infra/backup/scripts`;
    const media = await execa(`${scripts}/restore-media.sh`, ["latest", "--force"], { cwd: "/root", reject: false });
    expect(media.exitCode, media.stderr).toBe(0);
    const preMedia = readdirSync(`${b}/media/pre-restore`);
    expect(preMedia.length).toBeGreaterThan(0);
    for (const f of preMedia) expect(await owner(`${b}/media/pre-restore/${f}`), f).toBe(user);
    const archive = readdirSync(`${b}/config`)
      .filter((f) => f.endsWith(".tar.gz"))
      .sort()
      .at(-1)!;
    const config = await execa(`${scripts}/restore-config.sh`, [`${b}/config/${archive}`, "--force"], {
      cwd: "/root",
      reject: false,
    });
    expect(config.exitCode, config.stderr).toBe(0);
    const preConfig = readdirSync(`${b}/config/pre-restore`);
    expect(preConfig.some((f) => f.endsWith(".tar.gz"))).toBe(true);
    for (const f of preConfig) expect(await owner(`${b}/config/pre-restore/${f}`), f).toBe(user);
    // Nothing root-owned was left in the backup user's logs either.
    for (const f of readdirSync(`${h.prefix}/var/log/cepcomunicacion`))
      expect(await owner(`${h.prefix}/var/log/cepcomunicacion/${f}`), f).toBe(user);
  }, 300_000); // three provisions with smoke tests and two restores: minutes on a loaded machine
});
