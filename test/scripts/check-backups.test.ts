// check-backups.sh and verify-backup-integrity.sh against real backups made by the installed jobs.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import {
  readdirSync,
  readFileSync,
  writeFileSync,
  mkdirSync,
  symlinkSync,
  appendFileSync,
  copyFileSync,
} from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { startLab, seedDatabase, startReceiver, type Lab } from "./backup-harness.ts";

let lab: Lab;
let rx: Awaited<ReturnType<typeof startReceiver>>;
let dbDir: string;
const status = () => JSON.parse(readFileSync(lab.vars.paths.status_file, "utf8"));
/** Every issue's message in the status file, one per line. */
const issueText = () =>
  status()
    .issues.map((i: any) => i.message)
    .join("\n");
const newestDump = () =>
  readdirSync(dbDir)
    .filter((f) => f.endsWith(".dump"))
    .sort()
    .at(-1)!;
const paths = () => rx.received.map((x) => x.url.replace(/\?.*/, ""));

beforeAll(async () => {
  rx = await startReceiver();
  lab = await startLab("check", {
    patch: (v) => {
      v.alerts = {
        slack_webhook: `${rx.url}/slack/hook`,
        discord_webhook: `${rx.url}/discord/hook`,
        healthcheck_url: `${rx.url}/hc/check`,
      };
      // Deterministic disk thresholds whatever the test machine's disk looks like.
      v.check = { ...v.check, disk_warning_percent: 100, disk_critical_percent: 101 };
    },
  });
  dbDir = join(lab.vars.paths.backup_dir, "database");
  await seedDatabase(lab);
  writeFileSync(join(lab.vars.paths.app_dir, ".env"), "SECRET=1\n".repeat(30));
  writeFileSync(join(lab.vars.paths.app_dir, "docker-compose.yml"), "services: {}\n".repeat(20));
  for (const s of ["backup-database.sh", "backup-config.sh"]) {
    const r = await lab.run(s);
    expect(r.exitCode, r.stderr).toBe(0);
  }
  // A media snapshot as backup-media lays it out: media/<stamp>/, <stamp>.manifest.json, latest.
  const media = join(lab.vars.paths.backup_dir, "media");
  // Named now: check-backups ages a snapshot by the time in its name.
  const stamp = (await execa("date", ["+%Y-%m-%d_%H-%M-%S"])).stdout;
  mkdirSync(join(media, stamp, "2025"), { recursive: true });
  writeFileSync(join(media, stamp, "a.jpg"), "jpeg");
  writeFileSync(join(media, stamp, "2025", "b.png"), "png");
  writeFileSync(join(media, `${stamp}.manifest.json`), JSON.stringify({ kind: "media", files: 2, bytes: 7 }));
  symlinkSync(stamp, join(media, "latest"));
  rx.received.length = 0;
});
afterAll(async () => {
  await lab?.teardown();
  await rx?.close();
});

describe("check-backups.sh", () => {
  it("--help and argument errors", async () => {
    expect((await lab.run("check-backups.sh", ["--help"])).stdout).toMatch(/^Usage: check-backups\.sh/);
    const bad = await lab.run("check-backups.sh", ["--nope"]);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/unexpected argument: --nope/);
  });

  it("is OK right after the daily jobs (a weekly backup not yet due is no warning): status JSON, healthcheck ping, no alert", async () => {
    const r = await lab.run("check-backups.sh");
    expect(r.exitCode, r.stderr).toBe(0);
    const s = status();
    expect(s).toMatchObject({
      overall_status: "OK",
      critical_issues: 0,
      warnings: 0,
      checks: { database: "OK", media: "OK", config: "OK", disk_space: "OK", database_weekly: "OK" },
    });
    expect(s.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(paths()).toEqual(["/hc/check/start", "/hc/check"]);
    // Written atomically: no temp file left next to it.
    expect(readdirSync(join(lab.vars.paths.status_file, "..")).filter((f) => f.includes(".tmp"))).toEqual([]);
    expect(readFileSync(join(lab.vars.paths.log_dir, "backup-check.log"), "utf8")).toMatch(/status OK/);
  });

  it("warns (exit 1, alert labelled WARNING, no /fail) when a weekly backup is due but missing", async () => {
    rx.received.length = 0;
    const f = join(dbDir, newestDump());
    // Daily backups for 10 days (the oldest named 10 days ago, as backups are aged by their names)
    // and no weekly one; the newest daily keeps the daily freshness check satisfied.
    const stamp = (await execa("date", ["-d", "10 days ago", "+%Y-%m-%d_%H-%M-%S"])).stdout;
    const fresh = f.replace(/_\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}\./, `_${stamp}.`);
    try {
      copyFileSync(f, fresh);
      writeFileSync(
        `${fresh}.sha256`,
        readFileSync(`${f}.sha256`, "utf8").replace(/\s\S+\n$/, ` ${fresh.split("/").pop()}\n`),
      );
      copyFileSync(`${f}.manifest.json`, `${fresh}.manifest.json`);
      const r = await lab.run("check-backups.sh");
      expect(r.exitCode, r.stderr).toBe(1);
      expect(status()).toMatchObject({
        overall_status: "WARNING",
        warnings: 1,
        critical_issues: 0,
        checks: { database_weekly: "WARNING", database: "OK" },
      });
      const slack = JSON.parse(rx.received.find((x) => x.url.startsWith("/slack"))!.body);
      expect(slack.text).toMatch(/BACKUP WARNING: Warnings/);
      expect(slack.text).not.toMatch(/ALERT/);
      const discord = JSON.parse(rx.received.find((x) => x.url.startsWith("/discord"))!.body);
      expect(discord.embeds[0].title).toMatch(/BACKUP WARNING/);
      expect(discord.embeds[0].description).toMatch(/no weekly database backup/);
      expect(paths()).not.toContain("/hc/check/fail");
    } finally {
      await execa("rm", ["-f", fresh, `${fresh}.sha256`, `${fresh}.manifest.json`]);
    }
  });

  it("warns when the disk is over the warning threshold", async () => {
    lab.install((v) => (v.check = { ...v.check, disk_warning_percent: 0, disk_critical_percent: 101 }));
    try {
      const r = await lab.run("check-backups.sh", ["--no-alert"]);
      expect(r.exitCode).toBe(1);
      expect(status().checks.disk_space).toBe("WARNING");
    } finally {
      lab.install((v) => (v.check = { ...v.check, disk_warning_percent: 100, disk_critical_percent: 101 }));
    }
  });

  it("media snapshot whose file count differs from its manifest is critical", async () => {
    const snap = join(lab.vars.paths.backup_dir, "media", "latest", "extra.jpg");
    writeFileSync(snap, "x");
    try {
      const r = await lab.run("check-backups.sh", ["--no-alert"]);
      expect(r.exitCode).toBe(2);
      expect(status().checks.media).toBe("CRITICAL");
    } finally {
      await execa("rm", ["-f", snap]);
    }
  });
});

describe("check-backups.sh ages backups by the time in their names", () => {
  /** Move the real dumps aside, plant one named `stamp` (a copy of the newest) with mtime `touched`. */
  async function onlyDump(stamp: string, touched: string, check: () => Promise<void>) {
    const real = newestDump();
    const aside = join(lab.root, "aside");
    mkdirSync(aside, { recursive: true });
    const moved = readdirSync(dbDir).filter((f) => f.startsWith(real));
    for (const f of moved) await execa("mv", [join(dbDir, f), join(aside, f)]);
    const name = `cepcomunicacion_${stamp}.dump`;
    copyFileSync(join(aside, real), join(dbDir, name));
    copyFileSync(join(aside, `${real}.manifest.json`), join(dbDir, `${name}.manifest.json`));
    const hash = (await execa("sha256sum", [join(dbDir, name)])).stdout.slice(0, 64);
    writeFileSync(join(dbDir, `${name}.sha256`), `${hash}  ${name}\n`);
    await execa("touch", ["-d", touched, join(dbDir, name)]);
    try {
      await check();
    } finally {
      for (const f of readdirSync(dbDir)) if (f.startsWith(name)) await execa("rm", ["-f", join(dbDir, f)]);
      for (const f of moved) await execa("mv", [join(aside, f), join(dbDir, f)]);
    }
  }

  it("a 10-day-old dump whose file was touched (or written with the clock ahead) is not fresh: CRITICAL", async () => {
    const stamp = (await execa("date", ["-d", "10 days ago", "+%Y-%m-%d_%H-%M-%S"])).stdout;
    await onlyDump(stamp, "1 year", async () => {
      const r = await lab.run("check-backups.sh", ["--no-alert"]);
      expect(r.exitCode).toBe(2);
      expect(status().checks.database).toBe("CRITICAL");
      expect(issueText()).toMatch(/is 240 hours old/);
    });
  });

  it("a dump dated in the future is a WARNING (clock skew), not fresh", async () => {
    const stamp = (await execa("date", ["-d", "2 days", "+%Y-%m-%d_%H-%M-%S"])).stdout;
    await onlyDump(stamp, "now", async () => {
      const r = await lab.run("check-backups.sh", ["--no-alert"]);
      expect(r.exitCode).toBe(1);
      expect(status().checks.database).toBe("WARNING");
      expect(issueText()).toMatch(
        /dated 4[78] hours in the future: the clock was ahead when it was made, or is behind now/,
      );
    });
  });
});

describe("check-backups.sh and a retention hold", () => {
  it("reports a hold left by retention after a gap (a clock that jumped): WARNING naming the file", async () => {
    const hold = join(dbDir, ".retention-hold");
    writeFileSync(hold, "1700000000 1731536000\n");
    try {
      const r = await lab.run("check-backups.sh", ["--no-alert"]);
      expect(r.exitCode).toBe(1);
      expect(status().checks.database).toBe("WARNING");
      expect(issueText()).toContain(`then remove ${hold}`);
    } finally {
      await execa("rm", ["-f", hold]);
    }
  });
});

describe("verify-backup-integrity.sh and check-backups.sh on a corrupted dump", () => {
  it("verifies every backup when all are intact", async () => {
    const r = await lab.run("verify-backup-integrity.sh");
    expect(r.exitCode, r.stderr).toBe(0);
    // The daily dump, its monthly hard link (read once), the config archive, the media snapshot.
    expect(r.stderr).toMatch(/4 checked, 0 failed/);
    expect(r.stderr).toMatch(
      /OK {3}database\/monthly\/cepcomunicacion_[\d_-]+\.dump \(the same file as database\/cepcomunicacion_/,
    );
  });

  it("a corrupted newest dump: verify exits non-zero naming it, check is CRITICAL (exit 2) with an alert and /fail", async () => {
    const name = newestDump();
    appendFileSync(join(dbDir, name), "garbage");
    rx.received.length = 0;
    const v = await lab.run("verify-backup-integrity.sh");
    expect(v.exitCode).toBe(1);
    expect(v.stderr).toMatch(new RegExp(`FAIL database/${name.replace(/\./g, "\\.")}: checksum MISMATCH`));
    // Its monthly hard link is the same (corrupted) bytes.
    expect(v.stderr).toMatch(/FAIL database\/monthly\/.*: the same file as database\/.*, which failed/);
    expect(v.stderr).toMatch(/4 checked, 2 failed/);
    const one = await lab.run("verify-backup-integrity.sh", [join(dbDir, name)]);
    expect(one.exitCode).toBe(1);

    rx.received.length = 0;
    const c = await lab.run("check-backups.sh");
    expect(c.exitCode).toBe(2);
    const s = status();
    // The monthly dump is a hard link of that dump: corrupted with it (its size no longer matches).
    expect(s).toMatchObject({
      overall_status: "CRITICAL",
      critical_issues: 2,
      checks: { database: "CRITICAL", database_monthly: "CRITICAL", config: "OK", media: "OK" },
    });
    expect(s.issues[0].message).toMatch(/checksum MISMATCH/);
    const slack = JSON.parse(rx.received.find((x) => x.url.startsWith("/slack"))!.body);
    expect(slack.text).toMatch(/BACKUP ALERT: Critical Issues/);
    expect(paths()).toContain("/hc/check/fail");
    expect(paths()).not.toContain("/hc/check");
  });

  it("a dump that pg_restore cannot read is reported even when its checksum matches", async () => {
    const bogus = join(dbDir, "cepcomunicacion_2001-01-01_00-00-00.dump");
    writeFileSync(bogus, "not a dump at all");
    const hash = (await execa("sha256sum", [bogus])).stdout.slice(0, 64);
    writeFileSync(`${bogus}.sha256`, `${hash}  cepcomunicacion_2001-01-01_00-00-00.dump\n`);
    const v = await lab.run("verify-backup-integrity.sh", [bogus]);
    expect(v.exitCode).toBe(1);
    expect(v.stderr).toMatch(/pg_restore -l cannot read it/);
  });
});
