// A disposable PostgreSQL 15 cluster on loopback: initdb, start, create the app role and database,
// stop by the postmaster's PID. Runs as the `postgres` user when we are root (PostgreSQL refuses
// to run as root); as ourselves otherwise.
import { execa } from "execa";
import { mkdirSync, chownSync, writeFileSync, readFileSync, existsSync, rmSync } from "node:fs";
import { pidFromFile, signal, waitGone } from "./process.ts";
import { join } from "node:path";
import { userInfo } from "node:os";

export const PG_BIN = process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin";

export interface PgCluster {
  dir: string;
  dataDir: string;
  socketDir: string;
  port: number;
}

function runAsUser(): string | undefined {
  return userInfo().uid === 0 ? "postgres" : undefined;
}

/** Run a PostgreSQL binary as the cluster owner. Secrets go through `input`, never argv. */
export async function pgExec(bin: string, args: string[], opts: { input?: string; env?: Record<string, string> } = {}) {
  const as = runAsUser();
  const file = join(PG_BIN, bin);
  const cmd = as ? "runuser" : file;
  const argv = as ? ["-u", as, "--", file, ...args] : args;
  return execa(cmd, argv, {
    input: opts.input,
    env: { LC_ALL: "C.UTF-8", ...opts.env },
    stdin: opts.input === undefined ? "ignore" : "pipe",
  });
}

/** Create (if needed) and start a cluster in `dir` listening on 127.0.0.1:`port` with password auth on TCP. */
export async function startCluster(dir: string, port: number): Promise<PgCluster> {
  const dataDir = join(dir, "data");
  const socketDir = join(dir, "socket");
  mkdirSync(socketDir, { recursive: true });
  const as = runAsUser();
  if (as) {
    const { stdout } = await execa("id", ["-u", as]);
    const { stdout: g } = await execa("id", ["-g", as]);
    chownSync(dir, Number(stdout), Number(g));
    chownSync(socketDir, Number(stdout), Number(g));
  }
  if (!existsSync(join(dataDir, "PG_VERSION"))) {
    await pgExec("initdb", [
      "-D",
      dataDir,
      "-U",
      "postgres",
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      "-E",
      "UTF8",
      "--locale=C.UTF-8",
    ]);
    // Loopback only; the socket is private to this cluster.
    const conf = join(dataDir, "postgresql.conf");
    writeFileSync(
      conf,
      readFileSync(conf, "utf8") +
        `\nlisten_addresses = '127.0.0.1'\nport = ${port}\nunix_socket_directories = '${socketDir}'\n` +
        `shared_buffers = 16MB\nmax_connections = 30\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n`,
    );
  }
  await pgExec("pg_ctl", [
    "-D",
    dataDir,
    "-l",
    join(dir, "postgres.log"),
    "-w",
    "-t",
    "60",
    "-o",
    `-p ${port} -k ${socketDir}`,
    "start",
  ]);
  return { dir, dataDir, socketDir, port };
}

/** The postmaster's PID, or undefined when it is not running. */
export function clusterPid(c: Pick<PgCluster, "dataDir">): number | undefined {
  return pidFromFile(join(c.dataDir, "postmaster.pid"));
}

/** Stop the cluster by its own PID (fast shutdown), waiting until it has exited. */
export async function stopCluster(c: Pick<PgCluster, "dataDir">): Promise<void> {
  const pid = clusterPid(c);
  if (pid === undefined) return;
  signal(pid, "SIGINT");
  await waitGone([pid], 15_000);
}

/** Run SQL as the superuser over the cluster's socket (stdin, so nothing lands in argv). */
export async function psqlSuper(c: PgCluster, sql: string, db = "postgres"): Promise<string> {
  const r = await pgExec(
    "psql",
    ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-h", c.socketDir, "-p", String(c.port), "-U", "postgres", "-d", db],
    {
      input: sql,
    },
  );
  return r.stdout;
}

/** SQL string literal. */
export function sqlLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** Create the app's role (with the given password) and its database, owned by it. Idempotent. */
export async function createAppDatabase(
  c: PgCluster,
  db: { name: string; user: string; password: string },
): Promise<void> {
  await psqlSuper(
    c,
    `DO $$ BEGIN
       IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${sqlLiteral(db.user)}) THEN
         CREATE ROLE "${db.user}" LOGIN CREATEDB;
       END IF;
     END $$;
     ALTER ROLE "${db.user}" PASSWORD ${sqlLiteral(db.password)};\n`,
  );
  const exists = await psqlSuper(c, `SELECT 1 FROM pg_database WHERE datname = ${sqlLiteral(db.name)};`);
  if (exists.trim() !== "1") await psqlSuper(c, `CREATE DATABASE "${db.name}" OWNER "${db.user}";`);
}

/** Remove a stopped cluster's files. */
export function removeCluster(c: Pick<PgCluster, "dir">): void {
  rmSync(c.dir, { recursive: true, force: true });
}
