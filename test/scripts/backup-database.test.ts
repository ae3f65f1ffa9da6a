// backup-database.sh and backup-database-weekly.sh, installed and run for real against a PostgreSQL
// cluster: naming, checksum format, manifest, lock, retention, PostgreSQL down, full disk.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { readdirSync, readFileSync, statSync, writeFileSync, mkdirSync, existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { startLab, seedDatabase, startReceiver, DB_PASSWORD, type Lab } from "./backup-harness.ts";
import { startCluster, stopCluster } from "../../src/lab/postgres.ts";
import { skewedClockBin } from "../helpers/clock.ts";
import { readCustomToc } from "../helpers/pgtoc.ts";

let lab: Lab;
let counts: Record<string, number>;
let dbDir: string;
const dumps = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith(".dump"))
    .sort();

beforeAll(async () => {
  lab = await startLab("dbbackup");
  counts = await seedDatabase(lab);
  dbDir = join(lab.vars.paths.backup_dir, "database");
});
afterAll(async () => {
  await execa("umount", [dbDir], { reject: false });
  await lab?.teardown();
});

describe("backup-database.sh", () => {
  it("prints usage with --help and rejects unknown arguments with exit 1", async () => {
    const help = await lab.run("backup-database.sh", ["--help"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/^Usage: backup-database\.sh/);
    expect(help.stdout).toMatch(/Summary:/);
    const bad = await lab.run("backup-database.sh", ["--bogus"]);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/unexpected argument: --bogus/);
    expect(bad.stderr).toMatch(/Usage:/);
    // The weekly script is the daily one under its own name: its own usage, the same parser.
    const weekly = await lab.run("backup-database-weekly.sh", ["--help"]);
    expect(weekly.exitCode).toBe(0);
    expect(weekly.stdout).toMatch(/^Usage: backup-database-weekly\.sh/);
    expect(weekly.stdout).toMatch(/Summary: Weekly/);
    const badWeekly = await lab.run("backup-database-weekly.sh", ["--bogus"]);
    expect(badWeekly.exitCode).toBe(1);
    expect(badWeekly.stderr).toMatch(/^backup-database-weekly\.sh: error: unexpected argument: --bogus/);
  });

  it("writes <app>_YYYY-MM-DD_HH-MM-SS.dump, a sha256sum -c file and a manifest with every table's row count", async () => {
    const r = await lab.run("backup-database.sh");
    expect(r.exitCode, r.stderr).toBe(0);
    const files = dumps(dbDir);
    expect(files).toHaveLength(1);
    const name = files[0]!;
    expect(name).toMatch(/^cepcomunicacion_\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}\.dump$/);
    // Nothing partial left, everything private.
    expect(readdirSync(dbDir).filter((f) => f.startsWith("."))).toEqual([]);
    for (const f of [name, `${name}.sha256`, `${name}.manifest.json`])
      expect(statSync(join(dbDir, f)).mode & 0o777).toBe(0o600);
    // sha256sum -c from the directory.
    const sum = readFileSync(join(dbDir, `${name}.sha256`), "utf8");
    expect(sum).toMatch(new RegExp(`^[0-9a-f]{64}  ${name.replace(/\./g, "\\.")}\\n$`));
    const c = await execa("sha256sum", ["-c", `${name}.sha256`], { cwd: dbDir, reject: false });
    expect(c.exitCode).toBe(0);
    expect(c.stdout).toContain(`${name}: OK`);
    // A real custom-format dump.
    const toc = await execa("/usr/lib/postgresql/15/bin/pg_restore", ["-l", join(dbDir, name)]);
    expect(toc.stdout).toContain("TABLE DATA public users");
    // Written with pg_dump -f, not to a pipe: every table's data offset is in the table of contents,
    // so pg_restore -j seeks to each table (and schedules the largest first) instead of scanning.
    const data = readCustomToc(join(dbDir, name)).entries.filter((e) => e.desc === "TABLE DATA");
    expect(data.map((e) => e.tag)).toContain("users");
    expect(data.filter((e) => e.offset !== "set")).toEqual([]);
    // Manifest: all 14 tables with exact counts.
    const m = JSON.parse(readFileSync(join(dbDir, `${name}.manifest.json`), "utf8"));
    expect(m.kind).toBe("database");
    expect(m.file).toBe(name);
    expect(m.database).toBe("cepcomunicacion");
    expect(m.server_version).toMatch(/^15\./);
    expect(m.pg_dump_version).toMatch(/^15\./);
    expect(m.size_bytes).toBe(statSync(join(dbDir, name)).size);
    expect(m.sha256).toBe(sum.slice(0, 64));
    expect(typeof m.duration_ms).toBe("number");
    const got: Record<string, number> = {};
    for (const t of m.tables) got[`${t.schema}.${t.name}`] = t.rows;
    expect(Object.keys(counts)).toHaveLength(14);
    expect(got).toEqual(counts);
    expect(got["payload.Media Files"]).toBe(3);
    expect(got["public.collection_10"]).toBe(30);
    expect(m.table_count).toBe(14);
    // The log has timestamped lines; no secret anywhere in output or log.
    const log = readFileSync(join(lab.vars.paths.log_dir, "backup-database.log"), "utf8");
    expect(log).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4} \[INFO\] \[backup-database\] started/m);
    expect(log + r.stderr + r.stdout).not.toContain(DB_PASSWORD);
  });

  it("weekly: <app>_weekly_YYYY-Www_<stamp>.dump with the ISO week, in database/weekly", async () => {
    const r = await lab.run("backup-database-weekly.sh");
    expect(r.exitCode, r.stderr).toBe(0);
    const wdir = join(dbDir, "weekly");
    const files = dumps(wdir);
    expect(files).toHaveLength(1);
    const isoWeek = (await execa("date", ["+%G-W%V"])).stdout;
    expect(files[0]).toMatch(
      new RegExp(`^cepcomunicacion_weekly_${isoWeek}_\\d{4}-\\d{2}-\\d{2}_\\d{2}-\\d{2}-\\d{2}\\.dump$`),
    );
    expect((await execa("sha256sum", ["-c", `${files[0]}.sha256`], { cwd: wdir, reject: false })).exitCode).toBe(0);
    expect(JSON.parse(readFileSync(join(wdir, `${files[0]}.manifest.json`), "utf8")).type).toBe("weekly");
  });

  it("the checksum taken while writing is recorded at the dump's mtime; a dump changed with its mtime put back is caught by verify-backup-integrity's real hash", async () => {
    const wdir = join(dbDir, "weekly");
    const name = dumps(wdir)[0]!;
    const p = join(wdir, name);
    // The mark retention trusts: the .sha256 carries the dump's mtime (to the nanosecond).
    const mtime = async (f: string) => (await execa("stat", ["-c", "%.9Y", f])).stdout;
    expect(await mtime(`${p}.sha256`)).toBe(await mtime(p));
    const ok = await lab.run("verify-backup-integrity.sh", [p]);
    expect(ok.exitCode, ok.stderr).toBe(0);
    // One byte changed in place, size and mtime as they were.
    await execa("bash", [
      "-c",
      'touch -r "$1" "$1.ref"; printf X | dd of="$1" bs=1 seek=4000 conv=notrunc status=none; touch -r "$1.ref" "$1"; rm -f "$1.ref"',
      "_",
      p,
    ]);
    expect(await mtime(p)).toBe(await mtime(`${p}.sha256`));
    const bad = await lab.run("verify-backup-integrity.sh", [p]);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(new RegExp(`FAIL database/weekly/${name.replace(/\./g, "\\.")}: checksum MISMATCH`));
    // Found out: the mark is gone, so retention re-hashes it (and keeps it as unverified).
    expect(await mtime(`${p}.sha256`)).not.toBe(await mtime(p));
    rmSync(p);
    rmSync(`${p}.sha256`);
    rmSync(`${p}.manifest.json`);
  });

  it("a second run while the lock is held exits at once with 75 and a clear message", async () => {
    const lock = join(lab.vars.paths.backup_dir, ".locks", "backup-database.lock");
    // One process that holds the lock itself, so killing it releases the lock at once.
    const holder = execa("bash", ["-c", 'exec 9>>"$1"; flock 9; exec sleep 30', "_", lock], { reject: false });
    for (let i = 0; i < 100 && (await execa("flock", ["-n", lock, "true"], { reject: false })).exitCode === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    const before = dumps(dbDir);
    const t0 = Date.now();
    const r = await lab.run("backup-database.sh");
    const took = Date.now() - t0;
    holder.kill("SIGTERM");
    await holder;
    expect(r.exitCode).toBe(75);
    expect(r.stderr).toMatch(/another backup-database run is in progress/);
    expect(took).toBeLessThan(5000);
    expect(dumps(dbDir)).toEqual(before);
  });

  it("retention deletes old verified backups only, keeps the newest keep_min verified and never deletes unverified ones", async () => {
    const existing = dumps(dbDir);
    const fake = async (stamp: string, daysOld: number, valid: boolean) => {
      const name = `cepcomunicacion_${stamp}.dump`;
      const p = join(dbDir, name);
      writeFileSync(p, `fake dump ${stamp}`);
      const hash = (await execa("sha256sum", [p])).stdout.slice(0, 64);
      writeFileSync(`${p}.sha256`, `${valid ? hash : "0".repeat(64)}  ${name}\n`);
      for (const f of [p, `${p}.sha256`]) await execa("touch", ["-d", `${daysOld} days ago`, f]);
      return name;
    };
    const old = [];
    // Named and dated alike (retention ages backups by the time in their names): old[0] is the newest.
    for (let i = 0; i < 5; i++) old.push(await fake(`2020-01-0${5 - i}_02-00-00`, 40 + i, true));
    const corrupt = [await fake("2019-12-01_02-00-00", 60, false), await fake("2019-12-02_02-00-00", 59, false)];
    const r = await lab.run("backup-database.sh");
    expect(r.exitCode, r.stderr).toBe(0);
    const after = dumps(dbDir);
    // keep_min 3: the two recent real ones count, plus the newest old verified one (40 days).
    expect(existing).toHaveLength(1);
    expect(after).toContain(existing[0]);
    expect(after).toContain(old[0]);
    for (const gone of old.slice(1)) {
      expect(after).not.toContain(gone);
      expect(existsSync(join(dbDir, `${gone}.sha256`))).toBe(false);
    }
    for (const kept of corrupt) expect(after).toContain(kept);
    expect(r.stderr).toMatch(/keeping unverified backup cepcomunicacion_2019-12-01_02-00-00\.dump/);
    expect(after).toHaveLength(1 + 1 + 1 + 2);
  });

  it("a clock a year ahead deletes nothing by age: retention holds the backups before the gap and says why", async () => {
    // Ten verified dumps of the last ten days (named and dated alike), then the clock jumps a year.
    const before = dumps(dbDir);
    const planted: string[] = [];
    for (let d = 1; d <= 10; d++) {
      const stamp = (await execa("date", ["-d", `${d} days ago`, "+%Y-%m-%d_%H-%M-%S"])).stdout;
      const name = `cepcomunicacion_${stamp}.dump`;
      const p = join(dbDir, name);
      writeFileSync(p, `dump of ${stamp}`);
      const hash = (await execa("sha256sum", [p])).stdout.slice(0, 64);
      writeFileSync(`${p}.sha256`, `${hash}  ${name}\n`);
      await execa("touch", ["-d", `${d} days ago`, p, `${p}.sha256`]);
      planted.push(name);
    }
    const hold = join(dbDir, ".retention-hold");
    try {
      const ahead = skewedClockBin(lab.root, 365 * 86400);
      const r = await lab.run("backup-database.sh", [], { PATH: `${ahead}:${process.env.PATH ?? "/usr/bin:/bin"}` });
      expect(r.exitCode, r.stderr).toBe(0);
      const after = dumps(dbDir);
      for (const n of [...before, ...planted]) expect(after, n).toContain(n);
      expect(after).toHaveLength(before.length + planted.length + 1);
      expect(r.stderr).toMatch(
        /retention: .* days between .* and .*: the clock may have jumped.*nothing before it is deleted by age/,
      );
      expect(existsSync(hold)).toBe(true);
      // The next day (the clock still ahead): the gap is behind the newest two, the hold is not.
      const nextDay = skewedClockBin(lab.root, 366 * 86400);
      const r2 = await lab.run("backup-database.sh", [], { PATH: `${nextDay}:${process.env.PATH ?? "/usr/bin:/bin"}` });
      expect(r2.exitCode, r2.stderr).toBe(0);
      for (const n of [...before, ...planted]) expect(dumps(dbDir), n).toContain(n);
      expect(r2.stderr).toMatch(/retention on hold/);
    } finally {
      // The dumps named a year ahead, the planted ones and the hold go: the tests below see the store as before.
      for (const f of readdirSync(dbDir))
        if (!before.some((b) => f.startsWith(b))) rmSync(join(dbDir, f), { recursive: true, force: true });
    }
  });

  it("PostgreSQL down: exit non-zero, no file left, Slack/Discord alerts and a /fail ping of the job's own healthcheck with the run id", async () => {
    const rx = await startReceiver();
    try {
      lab.install((v) => {
        v.alerts = {
          slack_webhook: `${rx.url}/slack/T000/B000/SLACKSECRET`,
          discord_webhook: `${rx.url}/discord/123/DISCORDSECRET`,
          // One check per job: the database job pings its own, never the check job's.
          healthchecks: { database: `${rx.url}/hc/HCSECRET-uuid`, media: `${rx.url}/hc/media` },
          healthcheck_url: `${rx.url}/hc/check`,
        };
      });
      const before = readdirSync(dbDir).sort();
      await stopCluster(lab.cluster);
      const r = await lab.run("backup-database.sh");
      await startCluster(lab.cluster.dir, lab.cluster.port);
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toMatch(/cannot connect to PostgreSQL at 127\.0\.0\.1:\d+ as cepcomunicacion/);
      expect(readdirSync(dbDir).sort()).toEqual(before);
      const paths = rx.received.map((x) => x.url.replace(/\?.*/, ""));
      expect(paths).toEqual(
        expect.arrayContaining([
          "/hc/HCSECRET-uuid/start",
          "/hc/HCSECRET-uuid/fail",
          "/slack/T000/B000/SLACKSECRET",
          "/discord/123/DISCORDSECRET",
        ]),
      );
      expect(paths).not.toContain("/hc/HCSECRET-uuid");
      expect(paths.filter((p) => p.startsWith("/hc/")).every((p) => p.startsWith("/hc/HCSECRET-uuid"))).toBe(true);
      const rid = (u: string) => new URL(u, "http://x").searchParams.get("rid");
      const start = rx.received.find((x) => x.url.includes("/start"))!;
      const fail = rx.received.find((x) => x.url.includes("/fail"))!;
      expect(rid(start.url)).toMatch(/^[0-9a-f-]{36}$/);
      expect(rid(fail.url)).toBe(rid(start.url));
      expect(fail.body).toMatch(/cannot connect/);
      const slack = JSON.parse(rx.received.find((x) => x.url.startsWith("/slack"))!.body);
      expect(slack.text).toMatch(/BACKUP ALERT: backup-database failed/);
      expect(slack.attachments[0].color).toMatch(/^#[0-9a-f]{6}$/);
      expect(slack.attachments[0].text).toMatch(/cannot connect/);
      const discord = JSON.parse(rx.received.find((x) => x.url.startsWith("/discord"))!.body);
      expect(discord.embeds[0].title).toMatch(/BACKUP ALERT: backup-database failed/);
      expect(discord.embeds[0].description).toMatch(/cannot connect/);
      expect(typeof discord.embeds[0].color).toBe("number");
      // Secrets (webhook URLs, password) never in output or the log.
      const log = readFileSync(join(lab.vars.paths.log_dir, "backup-database.log"), "utf8");
      for (const secret of ["SLACKSECRET", "DISCORDSECRET", "HCSECRET", DB_PASSWORD])
        expect(log + r.stderr + r.stdout).not.toContain(secret);

      // The next successful run pings start + success and sends one "recovered" message per
      // channel (it had failed); the one after that pings only, with one run id, and no alert.
      rx.received.length = 0;
      const ok = await lab.run("backup-database.sh");
      expect(ok.exitCode, ok.stderr).toBe(0);
      expect(rx.received.map((x) => x.url.replace(/\?.*/, ""))).toEqual([
        "/hc/HCSECRET-uuid/start",
        "/hc/HCSECRET-uuid",
        "/slack/T000/B000/SLACKSECRET",
        "/discord/123/DISCORDSECRET",
      ]);
      expect(JSON.parse(rx.received[2]!.body).text).toMatch(/BACKUP OK: backup-database recovered/);
      rx.received.length = 0;
      const again = await lab.run("backup-database.sh");
      expect(again.exitCode, again.stderr).toBe(0);
      expect(rx.received.map((x) => x.url.replace(/\?.*/, ""))).toEqual([
        "/hc/HCSECRET-uuid/start",
        "/hc/HCSECRET-uuid",
      ]);
      expect(rid(rx.received[1]!.url)).toBe(rid(rx.received[0]!.url));
    } finally {
      lab.install((v) => (v.alerts = {}));
      await rx.close();
    }
  });

  it("a table the backup role cannot read: the job fails naming that table (not pg_dump's 'invalid snapshot identifier'), no file left", async () => {
    // Owned by the superuser, no grant: the role's count(*) is refused, which used to end the
    // snapshot session and leave pg_dump with a snapshot that no longer exists.
    await lab.sql(`CREATE TABLE public.locked_away AS SELECT 1 AS id; REVOKE ALL ON public.locked_away FROM PUBLIC;`);
    const before = readdirSync(dbDir).sort();
    try {
      const r = await lab.run("backup-database.sh");
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toMatch(/cannot read table\(s\) public\.locked_away/);
      expect(r.stderr).not.toMatch(/invalid snapshot identifier/);
      expect(readdirSync(dbDir).sort()).toEqual(before);
    } finally {
      await lab.sql(`DROP TABLE IF EXISTS public.locked_away;`);
    }
  });

  it("full disk during the dump: non-zero exit, no partial file, the previous backup intact", async () => {
    // A 64 KiB tmpfs as the database backup dir: a first small backup fits, the next one cannot.
    mkdirSync(dbDir, { recursive: true });
    await execa("mount", ["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", dbDir]);
    try {
      const first = await lab.run("backup-database.sh");
      expect(first.exitCode, first.stderr).toBe(0);
      const prev = readdirSync(dbDir).sort();
      const prevDump = dumps(dbDir)[0]!;
      await lab.sql(
        `SET ROLE "${lab.vars.database.user}"; CREATE TABLE public.bulk AS SELECT g AS id, md5(random()::text) || md5(random()::text) AS v FROM generate_series(1, 20000) g;`,
      );
      const r = await lab.run("backup-database.sh");
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toMatch(/pg_dump failed|No space left/i);
      expect(readdirSync(dbDir).sort()).toEqual(prev);
      expect((await execa("sha256sum", ["-c", `${prevDump}.sha256`], { cwd: dbDir, reject: false })).exitCode).toBe(0);
    } finally {
      await lab.sql(`DROP TABLE IF EXISTS public.bulk;`);
      await execa("umount", [dbDir], { reject: false });
    }
  });
});
