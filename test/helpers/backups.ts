// Lab hosts with real backups for the drill and status tests: provision (without the smoke test),
// then run the installed backup jobs on each host directly (the lab hosts are local trees).
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import type { LabHost } from "../../src/lab/lab.ts";
import { psqlSuper, type PgCluster } from "../../src/lab/postgres.ts";
import { cli, type TestLab } from "./lab.ts";

export const APP = "cepcomunicacion";

export const backupDir = (h: LabHost) => `${h.prefix}/var/backups/${APP}`;

export async function provisionWithBackups(lab: TestLab): Promise<void> {
  const r = await cli("provision", [lab.state.files.inventory, "--skip-smoke"]);
  if (r.code !== 0) throw new Error(`provision failed (exit ${r.code}): ${r.stderr}\n${r.stdout}`);
  await Promise.all(lab.state.hosts.map((h) => runBackups(h)));
}

export async function runBackups(h: LabHost): Promise<void> {
  for (const job of ["backup-database.sh", "backup-config.sh", "backup-media.sh"]) {
    await execa(`${h.prefix}/infra/backup/scripts/${job}`, [], { stdin: "ignore" });
  }
}

export function cluster(h: LabHost): PgCluster {
  return { dir: h.pgDir, dataDir: h.pgDataDir, socketDir: h.pgSocketDir, port: h.pgPort };
}

/** Every database of the host's cluster. */
export async function databases(h: LabHost): Promise<string[]> {
  return (await psqlSuper(cluster(h), "SELECT datname FROM pg_database ORDER BY 1;")).trim().split("\n");
}

/** Exact row counts of every table of the live app database. */
export async function liveRowCounts(h: LabHost): Promise<Record<string, number>> {
  const c = cluster(h);
  const tables = (
    await psqlSuper(
      c,
      "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1;",
      APP,
    )
  )
    .trim()
    .split("\n")
    .filter(Boolean);
  const sql = tables.map((t) => `SELECT '${t.replace(/'/g, "''")}', count(*) FROM ${t}`).join(" UNION ALL ") + ";";
  const out = await psqlSuper(c, sql, APP);
  return Object.fromEntries(
    out
      .trim()
      .split("\n")
      .map((l) => {
        const [t, n] = l.split("|");
        return [t!, Number(n)];
      }),
  );
}

/** The newest daily dump of a host (names sort by time). */
export function newestDump(h: LabHost): string {
  const dir = join(backupDir(h), "database");
  const dumps = readdirSync(dir)
    .filter((f) => f.startsWith(`${APP}_`) && f.endsWith(".dump"))
    .sort();
  if (!dumps.length) throw new Error(`no dump in ${dir}`);
  return join(dir, dumps[dumps.length - 1]!);
}

/** Temporary drill folders left next to the backup directory. */
export function drillLeftovers(h: LabHost): string[] {
  return readdirSync(`${h.prefix}/var/backups`).filter((f) => f.startsWith(`.${APP}-drill-`));
}

/** Flip `n` bytes of a backup file from byte `at` (bit rot); returns how to put it back. */
export function corruptFile(file: string, at: number, n: number): () => void {
  const good = readFileSync(file);
  const bad = Buffer.from(good);
  for (let i = at; i < at + n; i++) bad[i] = bad[i]! ^ 0xff;
  writeFileSync(file, bad);
  return () => writeFileSync(file, good);
}
