// restore-database.sh, installed and run for real against a PostgreSQL 15 cluster: refusals (no
// terminal, bad checksum, bad arguments, lock held) leave the database untouched; a full round trip
// (backup-database.sh → change data → restore into a scratch database and into the original)
// gives identical row counts, with a verified pre-restore dump that itself restores.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { readdirSync, readFileSync, writeFileSync, copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join, basename } from "node:path";
import { execa } from "execa";
import { startLab, seedDatabase, DB_PASSWORD, type Lab } from "./backup-harness.ts";
import { psqlSuper } from "../../src/lab/postgres.ts";

const COUNTS_SQL = `SELECT n.nspname || '.' || c.relname, (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::bigint
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' ORDER BY 1;`;

let lab: Lab;
let seeded: Record<string, number>;
let dump: string;

const dbDir = () => join(lab.vars.paths.backup_dir, "database");
const preDir = () => join(dbDir(), "pre-restore");
const logFile = () => join(lab.vars.paths.log_dir, "restore-database.log");

async function countsOf(db: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const line of (await psqlSuper(lab.cluster, COUNTS_SQL, db)).split("\n")) {
    if (!line) continue;
    const [k, v] = line.split("|");
    out[k!] = Number(v);
  }
  return out;
}

async function dbExists(db: string): Promise<boolean> {
  return (await psqlSuper(lab.cluster, `SELECT count(*) FROM pg_database WHERE datname = '${db}';`)).trim() === "1";
}

/** Changes after the backup, made as the app user (so its pg_dump can read them). */
async function changeData(): Promise<void> {
  await lab.sql(`SET ROLE "${lab.vars.database.user}";
    INSERT INTO public.users (email) VALUES ('late@example.com'), ('later@example.com');
    DELETE FROM public.collection_3 WHERE id <= 2;
    CREATE TABLE IF NOT EXISTS public.added_later (id int);
    INSERT INTO public.added_later VALUES (1);`);
}

function preRestoreDumps(): string[] {
  return existsSync(preDir())
    ? readdirSync(preDir())
        .filter((f) => f.endsWith(".dump"))
        .sort()
    : [];
}

beforeAll(async () => {
  lab = await startLab("restore-db");
  seeded = await seedDatabase(lab);
  const r = await lab.run("backup-database.sh");
  expect(r.exitCode, r.stderr).toBe(0);
  const dumps = readdirSync(dbDir()).filter((f) => /^cepcomunicacion_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d\.dump$/.test(f));
  expect(dumps).toHaveLength(1);
  dump = join(dbDir(), dumps[0]!);
  expect(existsSync(`${dump}.manifest.json`)).toBe(true);
  await changeData();
});

afterAll(async () => {
  await lab?.teardown();
});

describe("restore-database.sh", () => {
  it("prints its usage on --help and rejects bad arguments with exit 1", async () => {
    const help = await lab.run("restore-database.sh", ["--help"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/^Usage: restore-database\.sh <dump> \[--force\] \[--target-db NAME\]/);

    const none = await lab.run("restore-database.sh");
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toContain("which dump?");
    expect(none.stderr).toContain("Usage:");

    for (const bad of ["x; DROP DATABASE postgres", "Bad-Name", "1abc", 'a"b', "postgres"]) {
      const r = await lab.run("restore-database.sh", [dump, "--force", "--target-db", bad]);
      expect(r.exitCode, bad).toBe(1);
      expect(r.stderr).toContain("--target-db");
    }
    const unknown = await lab.run("restore-database.sh", [dump, "--frobnicate"]);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toContain("unknown option: --frobnicate");
  });

  it("refuses without a terminal and without --force, and touches nothing", async () => {
    const before = await countsOf("cepcomunicacion");
    const r = await lab.run("restore-database.sh", [dump]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain("no terminal to confirm on and no --force");
    expect(await countsOf("cepcomunicacion")).toEqual(before);
    expect(before["public.users"]).toBe(seeded["public.users"]! + 2);
    expect(preRestoreDumps()).toEqual([]);
  });

  it("at a terminal: cancels unless the answer is yes, goes ahead on yes", async () => {
    const before = await countsOf("cepcomunicacion");
    const script = join(lab.vars.paths.scripts_dir, "restore-database.sh");
    // `script` gives the restore a pseudo-terminal; "no" is typed at the prompt.
    const r = await execa("script", ["-qec", `${script} ${dump}`, "/dev/null"], {
      input: "no\n",
      reject: false,
      env: { LC_ALL: "C.UTF-8" },
    });
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout).toContain('Type "yes" to continue');
    expect(r.stdout).toContain("restore cancelled");
    expect(await countsOf("cepcomunicacion")).toEqual(before);
    expect(preRestoreDumps()).toEqual([]);

    // "yes" at the terminal goes ahead (into a scratch database).
    const yes = await execa("script", ["-qec", `${script} ${dump} --target-db scratch_tty`, "/dev/null"], {
      input: "yes\n",
      reject: false,
      env: { LC_ALL: "C.UTF-8" },
    });
    expect(yes.exitCode, String(yes.stdout)).toBe(0);
    expect(yes.stdout).toContain("Status: SUCCESS");
    expect(await countsOf("scratch_tty")).toEqual(seeded);
  });

  it("refuses a corrupted dump or one without a checksum before dropping anything", async () => {
    const before = await countsOf("cepcomunicacion");
    // A copy with flipped bytes in the middle, and a checksum file naming it with the original hash.
    const bad = join(dbDir(), "cepcomunicacion_2000-01-01_00-00-00.dump");
    copyFileSync(dump, bad);
    const buf = readFileSync(bad);
    const mid = Math.floor(buf.length / 2);
    for (let i = mid; i < mid + 8; i++) buf[i] = buf[i]! ^ 0xff;
    writeFileSync(bad, buf);
    const hash = readFileSync(`${dump}.sha256`, "utf8").split(/\s+/)[0];
    writeFileSync(`${bad}.sha256`, `${hash}  ${basename(bad)}\n`);
    copyFileSync(`${dump}.manifest.json`, `${bad}.manifest.json`);

    const r = await lab.run("restore-database.sh", [bad, "--force", "--target-db", "cepcomunicacion"]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain("checksum MISMATCH");
    expect(r.stdout).not.toContain("Status: SUCCESS");

    // The same dump bytes, but no checksum file.
    const unsummed = join(dbDir(), "cepcomunicacion_2000-01-02_00-00-00.dump");
    copyFileSync(dump, unsummed);
    const r2 = await lab.run("restore-database.sh", [unsummed, "--force"]);
    expect(r2.exitCode).not.toBe(0);
    expect(r2.stderr).toContain("no valid checksum file");

    expect(await dbExists("cepcomunicacion")).toBe(true);
    expect(await countsOf("cepcomunicacion")).toEqual(before);
    expect(preRestoreDumps()).toEqual([]);
    for (const f of [bad, `${bad}.sha256`, `${bad}.manifest.json`, unsummed]) await execa("rm", ["-f", f]);
  });

  it("waits for no one: exits 75 while a database backup holds the lock", async () => {
    const lock = join(lab.vars.paths.backup_dir, ".locks", "backup-database.lock");
    // The holder process itself keeps the lock's fd, so killing it releases the lock at once.
    const holder = execa("bash", ["-c", 'exec 9>>"$1"; flock 9; exec sleep 20', "holder", lock], { reject: false });
    // Until the holder has the lock (a fixed pause was too short on a loaded machine).
    for (let i = 0; i < 200 && (await execa("flock", ["-n", lock, "true"], { reject: false })).exitCode === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    try {
      const r = await lab.run("restore-database.sh", [dump, "--force", "--target-db", "locked_out"]);
      expect(r.exitCode).toBe(75);
      expect(r.stderr).toContain("is in progress");
      expect(await dbExists("locked_out")).toBe(false);
    } finally {
      holder.kill("SIGTERM");
      await holder;
    }
  });

  it("refuses, before anything is changed, a role that may not create databases or a target it does not own", async () => {
    const user = lab.vars.database.user;
    await psqlSuper(lab.cluster, `ALTER ROLE "${user}" NOCREATEDB;`);
    try {
      const r = await lab.run("restore-database.sh", [dump, "--force", "--target-db", "scratch_nocreate"]);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`${user} may not create databases (needs CREATEDB); nothing was changed`);
      expect(await dbExists("scratch_nocreate")).toBe(false);
    } finally {
      await psqlSuper(lab.cluster, `ALTER ROLE "${user}" CREATEDB;`);
    }
    await psqlSuper(lab.cluster, `CREATE DATABASE scratch_foreign OWNER postgres;`);
    try {
      await psqlSuper(lab.cluster, `CREATE TABLE keep_me (id int); INSERT INTO keep_me VALUES (7);`, "scratch_foreign");
      const r = await lab.run("restore-database.sh", [dump, "--force", "--target-db", "scratch_foreign"]);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(
        `${user} does not own database scratch_foreign and cannot drop it; nothing was changed`,
      );
      expect((await psqlSuper(lab.cluster, "SELECT id FROM keep_me;", "scratch_foreign")).trim()).toBe("7");
    } finally {
      await psqlSuper(lab.cluster, `DROP DATABASE IF EXISTS scratch_foreign;`);
    }
  });

  it("restores into a scratch database with the backup's row counts, reports, logs, prints no secret", async () => {
    const r = await lab.run("restore-database.sh", [dump, "--force", "--target-db", "scratch_restore"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await countsOf("scratch_restore")).toEqual(seeded);
    expect(r.stdout).toContain("DATABASE RESTORE REPORT");
    expect(r.stdout).toContain("Database: scratch_restore");
    expect(r.stdout).toContain("Status: SUCCESS");
    expect(r.stdout).toContain(`Restored From: ${basename(dump)}`);
    expect(r.stdout).toContain("Pre-Restore Backup: none (database scratch_restore did not exist)");
    expect(r.stdout).toMatch(
      new RegExp(`Verified: ${Object.keys(seeded).length} tables and \\d+ rows match the manifest`),
    );
    const owner = await psqlSuper(
      lab.cluster,
      "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'scratch_restore';",
    );
    expect(owner.trim()).toBe(lab.vars.database.user);
    const log = readFileSync(logFile(), "utf8");
    expect(log).toContain("checksum OK");
    expect(log).toContain("Status: SUCCESS");
    for (const text of [r.stdout, r.stderr, log]) expect(text).not.toContain(DB_PASSWORD);
    // The live database was not touched.
    expect((await countsOf("cepcomunicacion"))["public.added_later"]).toBe(1);
  });

  it("restores over the live database: pre-restore dump first, open sessions ended, identical counts", async () => {
    const changed = await countsOf("cepcomunicacion");
    // An application session that stays connected: the restore must end it.
    const session = execa(
      "psql",
      [
        "-X",
        "-h",
        "127.0.0.1",
        "-p",
        String(lab.cluster.port),
        "-U",
        lab.vars.database.user,
        "-d",
        "cepcomunicacion",
        "-c",
        "SELECT pg_sleep(60)",
      ],
      { env: { PGPASSFILE: lab.vars.paths.pgpass_file }, reject: false },
    );
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    const r = await lab.run("restore-database.sh", [dump, "--force"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const s = await session;
    expect(s.exitCode).not.toBe(0);
    expect(Date.now() - t0).toBeLessThan(30_000);

    expect(await countsOf("cepcomunicacion")).toEqual(seeded);
    const pre = preRestoreDumps();
    expect(pre).toHaveLength(1);
    expect(pre[0]).toMatch(/^pre-restore_cepcomunicacion_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d\.dump$/);
    expect(r.stdout).toContain(`Pre-Restore Backup: ${join(preDir(), pre[0]!)}`);
    // The pre-restore dump verifies (sha256sum -c from its directory) and its manifest holds the changed counts.
    const check = await execa("sha256sum", ["-c", `${pre[0]}.sha256`], { cwd: preDir(), reject: false });
    expect(check.exitCode, check.stdout).toBe(0);
    const manifest = JSON.parse(readFileSync(join(preDir(), `${pre[0]}.manifest.json`), "utf8")) as {
      tables: { schema: string; name: string; rows: number }[];
    };
    const fromManifest = Object.fromEntries(manifest.tables.map((t) => [`${t.schema}.${t.name}`, Number(t.rows)]));
    expect(fromManifest).toEqual(changed);

    // Rollback with the pre-restore dump brings the changed data back.
    const back = await lab.run("restore-database.sh", [join(preDir(), pre[0]!), "--force"]);
    expect(back.exitCode, back.stderr).toBe(0);
    expect(await countsOf("cepcomunicacion")).toEqual(changed);
  });

  it("fails when the restored tables or row counts differ from the manifest", async () => {
    // A manifest that claims one more user than the dump holds (its sha256 still names the dump).
    const copy = join(dbDir(), "cepcomunicacion_2000-01-03_00-00-00.dump");
    copyFileSync(dump, copy);
    writeFileSync(`${copy}.sha256`, readFileSync(`${dump}.sha256`, "utf8").replace(basename(dump), basename(copy)));
    const m = JSON.parse(readFileSync(`${dump}.manifest.json`, "utf8")) as {
      tables: { schema: string; name: string; rows: number }[];
    };
    const users = m.tables.find((t) => t.name === "users")!;
    users.rows = Number(users.rows) + 1;
    writeFileSync(`${copy}.manifest.json`, JSON.stringify(m));

    const r = await lab.run("restore-database.sh", [copy, "--force", "--target-db", "scratch_mismatch"]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain("does not match the manifest");
    expect(r.stderr).toMatch(/manifest: public\|users\|26/);
    expect(r.stderr).toMatch(/restored: public\|users\|25/);
    expect(r.stdout).toContain("Status: FAILED");

    // The same failure over the live database: the original is put back under its name, with the
    // data it had (none of the dump's), and nothing is left set aside.
    await changeData();
    const live = await countsOf("cepcomunicacion");
    const r2 = await lab.run("restore-database.sh", [copy, "--force"]);
    expect(r2.exitCode).not.toBe(0);
    expect(r2.stdout).toContain("Rollback: none needed: the original database was put back as cepcomunicacion");
    expect(await countsOf("cepcomunicacion")).toEqual(live);
    const aside = await psqlSuper(lab.cluster, "SELECT datname FROM pg_database WHERE datname LIKE '%pre_restore%'");
    expect(aside.trim()).toBe("");
    for (const f of [copy, `${copy}.sha256`, `${copy}.manifest.json`]) await execa("rm", ["-f", f]);
  });

  it("a pre-restore dump that cannot be written (read-only disk) puts the live database back untouched", async () => {
    const live = await countsOf("cepcomunicacion");
    mkdirSync(preDir(), { recursive: true });
    await execa("mount", ["-t", "tmpfs", "-o", "ro,size=1m,mode=0700", "tmpfs", preDir()]);
    try {
      const r = await lab.run("restore-database.sh", [dump, "--force"]);
      expect(r.exitCode).not.toBe(0);
      expect(r.stdout).toContain("Rollback: none needed: the original database was put back as cepcomunicacion");
    } finally {
      await execa("umount", [preDir()]);
    }
    expect(await countsOf("cepcomunicacion")).toEqual(live);
    const aside = await psqlSuper(lab.cluster, "SELECT datname FROM pg_database WHERE datname LIKE '%pre_restore%'");
    expect(aside.trim()).toBe("");
  });

  it("sets the live database aside before its pre-restore dump and drops it once the restore is verified", async () => {
    const r = await lab.run("restore-database.sh", [dump, "--force"]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const log = readFileSync(logFile(), "utf8");
    expect(log).toMatch(/set it aside as cepcomunicacion_pre_restore_\d{14}/);
    expect(log).toMatch(/dropped cepcomunicacion_pre_restore_\d{14}/);
    // Where the time went, one line: every step of main with its seconds, and the total.
    expect(log).toMatch(
      /steps \(s\): start \d+\.\d{3}, checksum \d+\.\d{3}, decrypt \d+\.\d{3}, preflight \d+\.\d{3}, toc \d+\.\d{3}, manifest \d+\.\d{3}, confirm \d+\.\d{3}, set_aside \d+\.\d{3}, pre_restore_dump \d+\.\d{3}, create \d+\.\d{3}, pg_restore \d+\.\d{3}, analyze_count \d+\.\d{3}, compare \d+\.\d{3}, drop_aside \d+\.\d{3}, prune \d+\.\d{3}; total \d+\.\d{3}/,
    );
    const aside = await psqlSuper(lab.cluster, "SELECT datname FROM pg_database WHERE datname LIKE '%pre_restore%'");
    expect(aside.trim()).toBe("");
  });

  describe("an interrupt while the rename-aside waits on a lock", () => {
    // A superuser session holding a lock on the database's catalog row (an open GRANT): the
    // restore's ALTER DATABASE ... RENAME waits for it, as it would behind a long DDL. Rolled back
    // (not committed), so that the RENAME then goes through.
    async function blocker() {
      const p = execa(
        "/usr/lib/postgresql/15/bin/psql",
        ["-X", "-q", "-h", lab.cluster.socketDir, "-p", String(lab.cluster.port), "-U", "postgres", "-d", "postgres"],
        { stdin: "pipe", reject: false },
      );
      p.stdin!.write("BEGIN; GRANT CONNECT ON DATABASE cepcomunicacion TO public; SELECT 'held';\n");
      return {
        release: async () => {
          p.stdin!.write("ROLLBACK;\n");
          p.stdin!.end();
          await p;
        },
      };
    }
    const waitingRename = async () =>
      (
        await psqlSuper(
          lab.cluster,
          "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'ALTER DATABASE%RENAME%'",
        )
      ).trim() === "1";

    for (const [how, group] of [
      ["SIGTERM to the script (its psql keeps waiting)", false],
      ["SIGTERM to its process group (psql dies, the server keeps waiting)", true],
    ] as const) {
      it(`${how}: the original is left (or put back) under its name, and the log says so`, async () => {
        const hold = await blocker();
        let released = false;
        try {
          // Until the grant holds its lock.
          for (
            let i = 0;
            i < 100 &&
            !(
              await psqlSuper(
                lab.cluster,
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.query LIKE 'BEGIN; GRANT%'",
              )
            )
              .trim()
              .startsWith("0") === false;
            i++
          )
            await new Promise((r) => setTimeout(r, 50));
          const run = execa(join(lab.vars.paths.scripts_dir, "restore-database.sh"), [dump, "--force"], {
            reject: false,
            stdin: "ignore",
            detached: true,
            extendEnv: false,
            env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C.UTF-8" },
          });
          for (let i = 0; i < 200 && !(await waitingRename()); i++) await new Promise((r) => setTimeout(r, 50));
          expect(await waitingRename()).toBe(true);
          if (group) process.kill(-run.pid!, "SIGTERM");
          else process.kill(run.pid!, "SIGTERM");
          // The script must not need the lock to be released to stop; give it a few seconds.
          const done = await Promise.race([run, new Promise((r) => setTimeout(() => r(undefined), 5000))]);
          await hold.release();
          released = true;
          const r = (done ?? (await run)) as Awaited<typeof run>;
          expect(r.exitCode).toBe(143);
          // Whatever the server did with the RENAME once the lock was free, nothing is left aside.
          await new Promise((res) => setTimeout(res, 500));
          expect(await dbExists("cepcomunicacion")).toBe(true);
          const aside = await psqlSuper(
            lab.cluster,
            "SELECT datname FROM pg_database WHERE datname LIKE '%pre_restore%'",
          );
          expect(aside.trim()).toBe("");
          // The log says what happened and where the database is (stderr may miss a line a trap
          // printed while a command's 2>/dev/null was still in place).
          const all = readFileSync(logFile(), "utf8");
          const log = all.slice(all.lastIndexOf("restore requested by"));
          expect(log).toMatch(/interrupted by SIGTERM/);
          expect(log).toMatch(
            /(the rename was stopped before it happened|put back as cepcomunicacion): cepcomunicacion is in place/,
          );
          expect(String(r.stdout)).toContain("Status: FAILED");
        } finally {
          if (!released) await hold.release();
          // Whatever happened, the next case starts from the live database under its name.
          const left = (
            await psqlSuper(
              lab.cluster,
              "SELECT datname FROM pg_database WHERE datname LIKE 'cepcomunicacion_pre_restore_%'",
            )
          ).trim();
          if (left && !(await dbExists("cepcomunicacion")))
            await psqlSuper(lab.cluster, `ALTER DATABASE "${left.split("\n")[0]}" RENAME TO cepcomunicacion`);
        }
      });
    }
  });
});

describe("database.dump_jobs 2: the parallel dump", () => {
  it("is one checksummed .dump (a tar of pg_dump -Fd -j 2, toc.dat first) that verifies, restores with pg_restore -j into a scratch database with the same row counts, and refuses when altered", async () => {
    lab.install((v) => (v.database.dump_jobs = 2));
    try {
      const live = await countsOf("cepcomunicacion");
      const before = new Set(readdirSync(dbDir()));
      const b = await lab.run("backup-database.sh");
      expect(b.exitCode, b.stderr).toBe(0);
      expect(b.stderr).toMatch(/parallel dump: pg_dump -Fd -j 2/);
      const name = readdirSync(dbDir()).find((f) => !before.has(f) && f.endsWith(".dump"))!;
      const p = join(dbDir(), name);
      // No partial directory or file left; the sidecars as for any dump.
      expect(readdirSync(dbDir()).filter((f) => f.startsWith(".") && f.includes(name))).toEqual([]);
      expect((await execa("sha256sum", ["-c", `${name}.sha256`], { cwd: dbDir() })).stdout).toContain(`${name}: OK`);
      const members = (await execa("tar", ["-tf", p])).stdout.split("\n");
      expect(members[0]).toBe("toc.dat");
      expect(members.some((m) => /^\d+\.dat\.gz$/.test(m))).toBe(true);
      const m = JSON.parse(readFileSync(`${p}.manifest.json`, "utf8"));
      expect(m).toMatchObject({ format_flag: "directory-tar", dump_jobs: 2 });
      expect(m.sha256).toBe(readFileSync(`${p}.sha256`, "utf8").slice(0, 64));
      expect(m.tables.find((t: any) => t.name === "users").rows).toBe(live["public.users"]);

      const v = await lab.run("verify-backup-integrity.sh", [p]);
      expect(v.exitCode, v.stderr).toBe(0);
      expect(v.stderr).toMatch(/parallel dump/);

      const r = await lab.run("restore-database.sh", [p, "--force", "--target-db", "parallel_restore", "--jobs", "2"]);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/Verified: \d+ tables and \d+ rows match the manifest/);
      expect(r.stdout).toContain("pg_restore, 2 job(s)");
      expect(await countsOf("parallel_restore")).toEqual(live);
      // The unpacked directory is gone.
      expect(readdirSync(dbDir()).filter((f) => f.startsWith(".restore-"))).toEqual([]);
      await psqlSuper(lab.cluster, `DROP DATABASE parallel_restore;`);

      // One byte changed in place (mtime put back): the restore's own hash refuses, nothing created.
      await execa("bash", [
        "-c",
        'touch -r "$1" "$1.ref"; printf X | dd of="$1" bs=1 seek=3000 conv=notrunc status=none; touch -r "$1.ref" "$1"; rm -f "$1.ref"',
        "_",
        p,
      ]);
      const bad = await lab.run("restore-database.sh", [p, "--force", "--target-db", "parallel_restore"]);
      expect(bad.exitCode).toBe(1);
      expect(bad.stderr).toMatch(/checksum MISMATCH/);
      expect(await dbExists("parallel_restore")).toBe(false);
      const vb = await lab.run("verify-backup-integrity.sh", [p]);
      expect(vb.exitCode).toBe(1);
    } finally {
      lab.install((v) => (v.database.dump_jobs = 1));
    }
  });
});
