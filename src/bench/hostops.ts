// What the bench does to one lab host directly (its files live under its prefix on this machine):
// run an installed backup script as cron would, read the latest manifests, fill the media tree and
// the database with generated data for --scale large, change a share of the files, measure disk use.
import { execa } from "execa";
import { randomFillSync, randomInt } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LabHost } from "../lab/lab.ts";
import { psqlSuper, type PgCluster } from "../lab/postgres.ts";
import { timed, type RunResult } from "./measure.ts";

export const APP = "cepcomunicacion";

/** The host's BACKUP_DIR (and the rest) as its installed backup.conf says. */
export function hostConf(host: LabHost): Record<string, string> {
  const text = readFileSync(join(host.prefix, "etc", APP, "backup.conf"), "utf8");
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^(?:export )?([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!.replace(/^["']|["']$/g, "");
  }
  return out;
}

export function scriptPath(host: LabHost, name: string): string {
  return join(host.prefix, "infra/backup/scripts", name);
}

/** cron's environment: its PATH and SHELL, nothing inherited. */
export const CRON_ENV = {
  SHELL: "/bin/bash",
  PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  HOME: process.env.HOME ?? "/root",
  LOGNAME: process.env.USER ?? "root",
  LANG: "C.UTF-8",
};

/** Run an installed script the way cron does (cron's PATH and SHELL, no inherited environment; `env` added). */
export function runScript(
  host: LabHost,
  name: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<RunResult> {
  return timed(scriptPath(host, name), args, { extendEnv: false, env: { ...CRON_ENV, ...env } });
}

export function cluster(host: LabHost): PgCluster {
  return { dir: host.pgDir, dataDir: host.pgDataDir, socketDir: host.pgSocketDir, port: host.pgPort };
}

/** Entries of a directory whose names look like a timestamped backup (newest last). */
export function listEntries(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** The newest media snapshot's manifest. */
export function latestMediaManifest(backupDir: string): Record<string, any> | undefined {
  const media = join(backupDir, "media");
  const m = listEntries(media)
    .filter((e) => e.endsWith(".manifest.json"))
    .pop();
  return m ? (JSON.parse(readFileSync(join(media, m), "utf8")) as Record<string, any>) : undefined;
}

/** The newest daily database dump's file name. */
export function latestDump(backupDir: string): string | undefined {
  return listEntries(join(backupDir, "database"))
    .filter((e) => e.endsWith(".dump"))
    .pop();
}

/** `du -s -B1` of a path (hard links counted once), optionally the apparent size. */
export async function du(path: string, apparent = false): Promise<number> {
  const r = await execa("du", ["-s", "-B1", ...(apparent ? ["--apparent-size"] : []), path], { stdin: "ignore" });
  return Number(r.stdout.split(/\s+/)[0]);
}

export interface GeneratedTree {
  dir: string;
  files: string[];
  bytes: number;
  ms: number;
}

/**
 * About `totalBytes` of random bytes (incompressible, so nothing compresses or dedups away) in
 * `count` files of varied sizes (a quarter to 1.75x the mean) in subfolders of 100.
 */
export function generateMedia(dir: string, totalBytes: number, count: number): GeneratedTree {
  const t0 = performance.now();
  const mean = Math.floor(totalBytes / count);
  const buf = Buffer.alloc(Math.ceil(mean * 1.75) + 1);
  const files: string[] = [];
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const sub = join(dir, `batch-${String(Math.floor(i / 100)).padStart(3, "0")}`);
    if (i % 100 === 0) mkdirSync(sub, { recursive: true });
    const size = randomInt(Math.floor(mean / 4), Math.floor(mean * 1.75));
    randomFillSync(buf, 0, size);
    const f = join(sub, `upload-${String(i).padStart(5, "0")}.bin`);
    writeFileSync(f, buf.subarray(0, size));
    files.push(f);
    bytes += size;
  }
  return { dir, files, bytes, ms: performance.now() - t0 };
}

/** Rewrite `fraction` of the files (by count, chosen at random) with new random bytes of the same size. */
export function changeFiles(files: string[], fraction: number): { files: number; bytes: number } {
  const n = Math.max(1, Math.round(files.length * fraction));
  const picked = new Set<number>();
  while (picked.size < n) picked.add(randomInt(files.length));
  let bytes = 0;
  for (const i of picked) {
    const f = files[i]!;
    const size = statSync(f).size;
    const buf = Buffer.alloc(size);
    randomFillSync(buf);
    writeFileSync(f, buf);
    bytes += size;
  }
  return { files: n, bytes };
}

/** The generated rows go into this many tables (a parallel dump runs one table per job). */
export const LARGE_TABLES = ["bench_events_1", "bench_events_2", "bench_events_3", "bench_events_4"];

/** `rows` generated rows, split over LARGE_TABLES of the app database, owned by the app role. */
export async function generateRows(
  host: LabHost,
  rows: number,
): Promise<{ ms: number; table_bytes: number; db_bytes: number }> {
  const t0 = performance.now();
  const per = Math.ceil(rows / LARGE_TABLES.length);
  const sql = LARGE_TABLES.map(
    (t, k) => `DROP TABLE IF EXISTS ${t};
     CREATE TABLE ${t} (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, kind text NOT NULL, user_id int NOT NULL, payload text NOT NULL);
     INSERT INTO ${t}
       SELECT i, timestamptz '2025-01-01' + i * interval '17 seconds', (ARRAY['view','click','signup','purchase','share'])[1 + i % 5],
              ((i::bigint * 7919) % 50000)::int, md5(i::text) || ' ' || md5((i::bigint * 31)::text)
       FROM generate_series(${k * per + 1}, ${Math.min(rows, (k + 1) * per)}) AS i;
     ALTER TABLE ${t} OWNER TO "${APP}";
     ANALYZE ${t};`,
  ).join("\n");
  await psqlSuper(cluster(host), `${sql}\n`, APP);
  const sizes = await psqlSuper(
    cluster(host),
    `SELECT (${LARGE_TABLES.map((t) => `pg_total_relation_size('${t}')`).join(" + ")}) || ' ' || pg_database_size('${APP}');`,
    APP,
  );
  const [table, db] = sizes.trim().split(" ").map(Number);
  return { ms: performance.now() - t0, table_bytes: table ?? 0, db_bytes: db ?? 0 };
}

export async function dropLargeTable(host: LabHost): Promise<void> {
  await psqlSuper(cluster(host), LARGE_TABLES.map((t) => `DROP TABLE IF EXISTS ${t};`).join("\n"), APP);
}

export async function dropDatabase(host: LabHost, name: string): Promise<void> {
  await psqlSuper(cluster(host), `DROP DATABASE IF EXISTS "${name}" WITH (FORCE);`);
}

/** Time to hash every file of a tree as the media backup does (its fixed per-backup cost). */
export async function hashTree(dir: string): Promise<RunResult> {
  return timed("bash", [
    "-c",
    `cd -- "$1" && find . -type f -printf '%P\\0' | LC_ALL=C sort -z | xargs -0 -r sha256sum -- >/dev/null`,
    "hash",
    dir,
  ]);
}

export function removeNew(dir: string, before: string[]): void {
  const keep = new Set(before);
  for (const e of listEntries(dir))
    if (!keep.has(e) && e !== "latest") rmSync(join(dir, e), { recursive: true, force: true });
}
