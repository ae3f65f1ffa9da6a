// Faults under the installed backup jobs, run for real on a PostgreSQL cluster: the disk filling
// up during each backup kind, PostgreSQL stopped during a backup and during a restore, and kill -9
// of each job at seeded random points. After each: the job failed (and alerted), nothing that looks
// complete is partial, the next run succeeds, and every backup that was good still verifies.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { readdirSync, writeFileSync, mkdirSync, existsSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { startLab, seedDatabase, startReceiver, type Lab } from "../scripts/backup-harness.ts";
import { startCluster, stopCluster, psqlSuper, PG_BIN } from "../../src/lab/postgres.ts";
import { randomBytes } from "node:crypto";

let lab: Lab;
let rx: Awaited<ReturnType<typeof startReceiver>>;
let b: string;
const KINDS = ["database", "media", "config"] as const;
type Kind = (typeof KINDS)[number];
const JOB: Record<Kind, string> = {
  database: "backup-database.sh",
  media: "backup-media.sh",
  config: "backup-config.sh",
};
const figures = { injected: 0, survived: 0, killPoints: [] as string[] };

beforeAll(async () => {
  rx = await startReceiver();
  lab = await startLab("relfaults", {
    patch: (v) => {
      v.alerts = { slack_webhook: `${rx.url}/slack/T0/B0/TOKEN` };
    },
  });
  await seedDatabase(lab);
  const media = lab.vars.paths.media_dir;
  mkdirSync(join(media, "2025"), { recursive: true });
  for (let i = 0; i < 40; i++) writeFileSync(join(media, "2025", `f${i}.jpg`), `image ${i}\n`.repeat(50 + i));
  const app = lab.vars.paths.app_dir;
  writeFileSync(join(app, ".env"), "PAYLOAD_SECRET=x\n");
  writeFileSync(join(app, ".env.production"), "NODE_ENV=production\n");
  b = lab.vars.paths.backup_dir;
  // One good backup of each kind before any fault.
  for (const k of KINDS) {
    const r = await lab.run(JOB[k]);
    expect(r.exitCode, `${k}: ${r.stderr}`).toBe(0);
  }
});
afterAll(async () => {
  console.log(
    `[reliability] backup faults: ${figures.injected} injected, ${figures.survived} survived; kill -9 points (ms): ${figures.killPoints.join(" ")}`,
  );
  for (const k of KINDS) await execa("umount", [join(b, k)], { reject: false });
  await rx?.close();
  await lab?.teardown();
});

/** Every backup of a kind that carries a final name, and whether it verifies on its own. */
async function finals(kind: Kind): Promise<{ name: string; ok: boolean }[]> {
  const dir = join(b, kind);
  const out: { name: string; ok: boolean }[] = [];
  const sumOk = async (cwd: string, sum: string) =>
    existsSync(join(cwd, sum)) &&
    (await execa("sha256sum", ["--quiet", "-c", sum], { cwd, reject: false })).exitCode === 0;
  if (kind === "media") {
    for (const s of readdirSync(dir).filter((f) => /^\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}$/.test(f)))
      out.push({ name: s, ok: await sumOk(join(dir, s), join("..", `${s}.sha256`)) });
  } else {
    const ext = kind === "database" ? ".dump" : ".tar.gz";
    for (const f of readdirSync(dir).filter((x) => x.endsWith(ext) && !x.startsWith(".")))
      out.push({ name: f, ok: await sumOk(dir, `${f}.sha256`) });
  }
  return out;
}

/** What a kind's directory holds that is neither a final backup nor its sidecar. */
function partials(kind: Kind): string[] {
  return readdirSync(join(b, kind)).filter((f) => f.startsWith(".") && f !== ".filler");
}

/** The slack messages received since `from` (the alert channel). */
const alertsSince = (from: number) => rx.received.slice(from).filter((x) => x.url.startsWith("/slack/"));

/** A tmpfs over a kind's backup dir holding copies of what was there, then filled to `free` bytes. */
async function smallDisk(kind: Kind, free: number): Promise<void> {
  const dir = join(b, kind);
  const keep = join(lab.root, `keep-${kind}`);
  await execa("cp", ["-a", dir, keep]);
  await execa("mount", ["-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", dir]);
  await execa("cp", ["-a", `${keep}/.`, dir]);
  await execa("rm", ["-rf", keep]);
  const avail = Number((await execa("df", ["--output=avail", "-B1", dir])).stdout.split("\n")[1]);
  await execa("fallocate", ["-l", String(Math.max(0, avail - free)), join(dir, ".filler")]);
}

async function bigDisk(kind: Kind): Promise<void> {
  const dir = join(b, kind);
  const keep = join(lab.root, `keep-${kind}`);
  await execa("rm", ["-f", join(dir, ".filler")]);
  await execa("cp", ["-a", dir, keep]);
  await execa("umount", [dir]);
  await execa("cp", ["-a", `${keep}/.`, dir]);
  await execa("rm", ["-rf", keep]);
}

describe("disk full during a backup", () => {
  for (const kind of KINDS) {
    it(`${kind}: the job fails and alerts, nothing partial looks complete, older backups kept, the next run succeeds`, async () => {
      // Enough room to start writing, not to finish: more data than the free space.
      if (kind === "database")
        await lab.sql(
          `SET ROLE "${lab.vars.database.user}"; CREATE TABLE public.bulk AS SELECT g AS id, md5(random()::text) || md5(random()::text) AS v FROM generate_series(1, 20000) g;`,
        );
      if (kind === "media") writeFileSync(join(lab.vars.paths.media_dir, "big.bin"), Buffer.alloc(96 * 1024, 7));
      if (kind === "config")
        writeFileSync(join(lab.vars.paths.app_dir, ".env"), `PAYLOAD_SECRET=${randomBytes(100_000).toString("hex")}\n`);
      const good = (await finals(kind)).filter((f) => f.ok).map((f) => f.name);
      expect(good.length).toBeGreaterThan(0);
      await smallDisk(kind, 8 * 1024);
      const from = rx.received.length;
      try {
        figures.injected++;
        const r = await lab.run(JOB[kind]);
        expect(r.exitCode, r.stdout).not.toBe(0);
        expect(r.stderr).toMatch(/No space left|space/i);
        expect(alertsSince(from).length, "an alert was posted").toBeGreaterThan(0);
        expect(partials(kind)).toEqual([]);
        const now = await finals(kind);
        expect(now.filter((f) => !f.ok)).toEqual([]);
        expect(now.map((f) => f.name).sort()).toEqual(good.sort());
        if (kind === "media") expect(good).toContain(readlinkSync(join(b, "media", "latest")));
      } finally {
        await bigDisk(kind);
      }
      if (kind === "database") await lab.sql("DROP TABLE public.bulk");
      if (kind === "config") writeFileSync(join(lab.vars.paths.app_dir, ".env"), "PAYLOAD_SECRET=x\n");
      const next = await lab.run(JOB[kind]);
      expect(next.exitCode, next.stderr).toBe(0);
      const after = await finals(kind);
      expect(after.filter((f) => !f.ok)).toEqual([]);
      for (const g of good) expect(after.map((f) => f.name)).toContain(g);
      figures.survived++;
    });
  }
});

describe("PostgreSQL stopped", () => {
  it("during a backup (pg_dump waiting on a lock): the job fails and alerts, no dump written; after a restart the next run succeeds", async () => {
    const before = (await finals("database")).map((f) => f.name).sort();
    // A session holds a table lock, so pg_dump is in the middle of its work when the server stops.
    const holder = execa(
      "runuser",
      [
        "-u",
        "postgres",
        "--",
        `${PG_BIN}/psql`,
        "-X",
        "-h",
        lab.cluster.socketDir,
        "-p",
        String(lab.cluster.port),
      ].concat(["-d", lab.vars.database.name]),
      { input: "BEGIN; LOCK TABLE public.users IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);", reject: false },
    );
    const from = rx.received.length;
    figures.injected++;
    const job = lab.run("backup-database.sh");
    // The job's sessions (row counts, then pg_dump) wait on the lock: the backup is under way.
    let waited = false;
    for (let i = 0; i < 300 && !waited; i++) {
      const w = await lab.sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'");
      waited = w.trim() !== "0";
      if (!waited) await new Promise((r) => setTimeout(r, 30));
    }
    expect(waited).toBe(true);
    await stopCluster(lab.cluster);
    const r = await job;
    await holder;
    await startCluster(lab.cluster.dir, lab.cluster.port);
    expect(r.exitCode).not.toBe(0);
    expect(alertsSince(from).length).toBeGreaterThan(0);
    expect(partials("database")).toEqual([]);
    expect((await finals("database")).map((f) => f.name).sort()).toEqual(before);
    const next = await lab.run("backup-database.sh");
    expect(next.exitCode, next.stderr).toBe(0);
    figures.survived++;
  });
});

/** A seeded PRNG (mulberry32): the same kill points on every run, printed for RELIABILITY.md. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const SEED = 20261201;

/** Row counts of every table of a database (the app's by default). */
async function rowCounts(db = lab.vars.database.name): Promise<string> {
  return psqlSuper(
    lab.cluster,
    `SELECT string_agg(n.nspname || '.' || c.relname || '=' || (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text, ',' ORDER BY 1) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog','information_schema')`,
    db,
  );
}

describe("PostgreSQL stopped during a restore", () => {
  const restore = (env: Record<string, string> = {}) =>
    lab.run("restore-database.sh", [join(b, "database", newestDump), "--force"], env);
  let newestDump = "";

  it("restarted at seeded points: afterwards the database is the original (restore failed, put back) or the restored one (exit 0), never missing", async () => {
    const rand = prng(SEED);
    newestDump = (await finals("database"))
      .map((f) => f.name)
      .sort()
      .at(-1)!;
    const t0 = Date.now();
    const probe = await restore();
    const dur = Date.now() - t0;
    expect(probe.exitCode, probe.stderr).toBe(0);
    const fromDump = await rowCounts();
    // The live database differs from the dump, so we can tell which one is in place.
    await lab.sql(`INSERT INTO public.users (email) VALUES ('after-the-dump@example.com')`);
    const live = await rowCounts();
    expect(live).not.toBe(fromDump);
    for (let i = 0; i < 4; i++) {
      const at = Math.floor(rand() * dur);
      figures.killPoints.push(`restore-database(pg restart)@${at}`);
      figures.injected++;
      const job = restore();
      await new Promise((r) => setTimeout(r, at));
      await stopCluster(lab.cluster);
      // Down for a second, then up again while the restore is still running (a restarted server).
      await new Promise((r) => setTimeout(r, 1000));
      await startCluster(lab.cluster.dir, lab.cluster.port);
      const r = await job;
      const dbs = (await psqlSuper(lab.cluster, "SELECT datname FROM pg_database ORDER BY 1")).split("\n");
      expect(dbs, `${at} ms: ${r.stderr}`).toContain(lab.vars.database.name);
      // A verified restore whose server went down as it dropped the old database says so and leaves
      // it (a WARNING: drop it by hand); any other leftover is a failure.
      for (const d of dbs.filter((x) => x.includes("_pre_restore_"))) {
        const said = r.exitCode === 0 && (r.stdout + r.stderr).includes(`could not drop ${d}`);
        expect(said, `${at} ms: ${d} left: ${r.stdout}\n${r.stderr}`).toBe(true);
        await psqlSuper(lab.cluster, `DROP DATABASE "${d}"`);
      }
      const now = await rowCounts();
      if (r.exitCode === 0) expect(now).toBe(fromDump);
      else expect(now, `${at} ms: ${r.stderr}`).toBe(live);
      // The known state back for the next point.
      if (r.exitCode === 0) await lab.sql(`INSERT INTO public.users (email) VALUES ('after-the-dump@example.com')`);
      expect(await rowCounts()).toBe(live);
      figures.survived++;
    }
  });

  it("down for longer than the restore waits: the report names the database set aside and the command that puts it back; nothing lost", async () => {
    const live = await rowCounts();
    figures.injected++;
    // Stopped once the original is set aside (its pre-restore dump is being taken).
    const job = restore({ RESTORE_PUT_BACK_WAIT_S: "2" });
    for (let i = 0; i < 500; i++) {
      const aside = await lab
        .sql("SELECT datname FROM pg_database WHERE datname LIKE '%\\_pre\\_restore\\_%'")
        .catch(() => "");
      if (aside) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await stopCluster(lab.cluster);
    const r = await job;
    await startCluster(lab.cluster.dir, lab.cluster.port);
    expect(r.exitCode, r.stdout + r.stderr).not.toBe(0);
    const aside = (
      await psqlSuper(lab.cluster, "SELECT datname FROM pg_database WHERE datname LIKE '%\\_pre\\_restore\\_%'")
    ).trim();
    expect(aside).toMatch(/^cepcomunicacion_pre_restore_\d{14}$/);
    const cmd = `ALTER DATABASE "${aside}" RENAME TO "${lab.vars.database.name}"`;
    expect(r.stdout + r.stderr, aside).toMatch(/Rollback: PostgreSQL did not answer/);
    expect(r.stdout + r.stderr).toContain(cmd);
    // The command the report gives puts the original back, every row of it.
    await psqlSuper(lab.cluster, `DROP DATABASE IF EXISTS "${lab.vars.database.name}"`).catch(() => undefined);
    await psqlSuper(lab.cluster, `${cmd};`);
    expect(await rowCounts()).toBe(live);
    figures.survived++;
  });
});

describe("kill -9 of each backup job at seeded random points", () => {
  for (const kind of KINDS) {
    it(`${kind}: no partial backup counts as verified, the next run succeeds, every good backup still verifies`, async () => {
      const rand = prng(SEED + kind.length);
      const t0 = Date.now();
      const probe = await lab.run(JOB[kind]);
      const dur = Date.now() - t0;
      expect(probe.exitCode, probe.stderr).toBe(0);
      const good = (await finals(kind)).filter((f) => f.ok).map((f) => f.name);
      for (let i = 0; i < 3; i++) {
        const at = Math.floor(rand() * dur);
        figures.killPoints.push(`${JOB[kind]}@${at}`);
        figures.injected++;
        // Its own process group, so the job and everything it started die at once.
        const job = execa(join(lab.scripts, JOB[kind]), [], {
          reject: false,
          detached: true,
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C.UTF-8" },
          extendEnv: false,
          stdin: "ignore",
        });
        await new Promise((r) => setTimeout(r, at));
        try {
          process.kill(-job.pid!, "SIGKILL");
        } catch {
          // it had finished
        }
        await job;
        const now = await finals(kind);
        expect(
          now.filter((f) => !f.ok),
          `killed at ${at} ms`,
        ).toEqual([]);
        for (const g of good) expect(now.map((f) => f.name)).toContain(g);
        const next = await lab.run(JOB[kind]);
        expect(next.exitCode, `after a kill at ${at} ms: ${next.stderr}`).toBe(0);
        expect(partials(kind), `after a kill at ${at} ms and a new run`).toEqual([]);
        figures.survived++;
      }
      const verify = await lab.run("verify-backup-integrity.sh");
      expect(verify.exitCode, verify.stdout + verify.stderr).toBe(0);
    });
  }
});
