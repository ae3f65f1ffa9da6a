// Shared setup for the script tests: a temp prefix with the backup system laid out as provision
// would (dirs 0700, the scripts from templates/scripts, backup.conf and pgpass 0600), a real
// PostgreSQL cluster, a local HTTP receiver standing in for Slack/Discord/healthchecks, and a
// runner for the installed scripts.
import { mkdtempSync, mkdirSync, writeFileSync, chmodSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type Server } from "node:http";
import { execa, execaSync } from "execa";
import { createRenderer } from "../../src/render/render.ts";
import { backupSubdirs, desiredState } from "../../src/backup/desired.ts";
import type { ResolvedVars } from "../../src/inventory/types.ts";
import {
  startCluster,
  createAppDatabase,
  stopCluster,
  removeCluster,
  psqlSuper,
  type PgCluster,
} from "../../src/lab/postgres.ts";
import { testVars } from "../helpers/vars.ts";
import { freePort } from "../helpers/ports.ts";

export const DB_PASSWORD = "s3cr:et\\pw'x";

export interface Received {
  method: string;
  url: string;
  body: string;
}

/** A loopback HTTP server that records every request (the webhook and healthcheck stand-in). */
export async function startReceiver(): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const port = await freePort();
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({ method: req.method ?? "", url: req.url ?? "", body });
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface Lab {
  root: string;
  vars: ResolvedVars;
  cluster: PgCluster;
  scripts: string;
  /** Install (again) the backup system with vars changed by `patch` (e.g. alerts). */
  install: (patch?: (v: ResolvedVars) => void) => void;
  /** Run an installed script; never throws on a non-zero exit. */
  run: (script: string, args?: string[], env?: Record<string, string>) => Promise<RunResult>;
  sql: (sql: string) => Promise<string>;
  teardown: () => Promise<void>;
}

/** The backup system laid out under the prefix from its desired state, as provision installs it:
 * the scripts byte for byte from templates/scripts (lib/ and the generated lib/host.sh included),
 * backup.conf and pgpass rendered, each with its mode. */
function installInto(vars: ResolvedVars): void {
  const state = desiredState(vars, createRenderer());
  const p = vars.paths;
  for (const d of [...state.dirs.map((d) => d.path), p.app_dir, p.media_dir]) mkdirSync(d, { recursive: true });
  for (const d of backupSubdirs(p.backup_dir)) chmodSync(d, 0o700);
  for (const f of state.files) {
    const secretConfig = f.path === p.config_file || f.path === p.pgpass_file || f.template === "rclone.conf.hbs";
    if (!f.path.startsWith(`${p.scripts_dir}/`) && !secretConfig) continue;
    writeFileSync(f.path, f.content);
    chmodSync(f.path, f.path.startsWith(`${p.scripts_dir}/`) ? f.mode : 0o600);
  }
  // A dedicated backup user owns its trees and its pgpass file, and reads backup.conf through its
  // group, as provision leaves them.
  const u = vars.backup_user;
  if (u !== "root") {
    for (const d of state.dirs.filter((d) => d.owner === u)) execaSync("chown", ["-R", `${u}:${u}`, d.path]);
    execaSync("chown", [`${u}:${u}`, p.pgpass_file]);
    execaSync("chown", [`root:${u}`, p.config_file]);
    chmodSync(p.config_file, 0o640);
  }
}

/** A system user with its own group for the backup jobs, as provision creates one; `remove` deletes it. */
export async function createBackupUser(tag: string): Promise<{ name: string; remove: () => Promise<void> }> {
  const name = `cepbk${tag}${process.pid % 100000}`;
  await execa("useradd", ["--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", name]);
  return {
    name,
    remove: async () => {
      await execa("userdel", [name], { reject: false });
    },
  };
}

/** A prefix tree with the installed system and (unless db: false) a running cluster with the app database. */
export async function startLab(name: string, opts: { patch?: (v: ResolvedVars) => void } = {}): Promise<Lab> {
  const root = mkdtempSync(join(tmpdir(), `cep-${name}-`));
  chmodSync(root, 0o755);
  const port = await freePort();
  const cluster = await startCluster(join(root, "pg"), port);
  const vars = testVars({ prefix: join(root, "host"), db: { port, password: DB_PASSWORD } });
  await createAppDatabase(cluster, { name: vars.database.name, user: vars.database.user, password: DB_PASSWORD });
  const lab: Lab = {
    root,
    vars,
    cluster,
    scripts: vars.paths.scripts_dir,
    install(patch) {
      if (patch) patch(vars);
      installInto(vars);
    },
    async run(script, args = [], env = {}) {
      const r = await execa(join(vars.paths.scripts_dir, script), args, {
        reject: false,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C.UTF-8", ...env },
        extendEnv: false,
        stdin: "ignore",
        timeout: 120_000,
      });
      return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    },
    sql: (s) => psqlSuper(cluster, s, vars.database.name),
    async teardown() {
      await stopCluster(cluster);
      removeCluster(cluster);
      rmSync(root, { recursive: true, force: true });
    },
  };
  lab.install(opts.patch);
  return lab;
}

/** The installed system under a temp prefix without a database (library-level tests). */
export function renderOnlyLab(
  name: string,
  patch?: (v: ResolvedVars) => void,
): { root: string; vars: ResolvedVars; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), `cep-${name}-`));
  const vars = testVars({ prefix: join(root, "host"), db: { port: 1, password: DB_PASSWORD } });
  if (patch) patch(vars);
  // A dedicated backup user must reach the installed scripts (mkdtemp made the root 0700).
  if (vars.backup_user !== "root") chmodSync(root, 0o755);
  installInto(vars);
  return { root, vars, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** Create 14 tables (like Payload's collections, one in another schema, one with a space in its
 * name, one empty) with rows in the app database, owned by the app user; returns exact counts. */
export async function seedDatabase(lab: Lab, extraRows = 0): Promise<Record<string, number>> {
  const u = lab.vars.database.user;
  await lab.sql(`
    CREATE SCHEMA IF NOT EXISTS payload AUTHORIZATION "${u}";
    SET ROLE "${u}";
    CREATE TABLE IF NOT EXISTS public.users (id serial PRIMARY KEY, email text NOT NULL);
    CREATE TABLE IF NOT EXISTS public.courses (id serial PRIMARY KEY, title text, body text);
    CREATE TABLE IF NOT EXISTS public.empty_one (id int);
    CREATE TABLE IF NOT EXISTS payload."Media Files" (id serial PRIMARY KEY, filename text);
    INSERT INTO public.users (email) SELECT 'u' || g || '@example.com' FROM generate_series(1, 25) g;
    INSERT INTO public.courses (title, body) SELECT 'course ' || g, md5(g::text) FROM generate_series(1, 7 + ${extraRows}) g;
    INSERT INTO payload."Media Files" (filename) SELECT 'f' || g || '.jpg' FROM generate_series(1, 3) g;
    DO $$ BEGIN FOR i IN 1..10 LOOP
      EXECUTE format('CREATE TABLE IF NOT EXISTS public.%I (id serial PRIMARY KEY, v text)', 'collection_' || i);
      EXECUTE format('INSERT INTO public.%I (v) SELECT md5(g::text) FROM generate_series(1, %s) g', 'collection_' || i, i * 3);
    END LOOP; END $$;
  `);
  const counts: Record<string, number> = {};
  for (const line of (
    await lab.sql(
      `SELECT n.nspname || '.' || c.relname, (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg\\_toast%';`,
    )
  ).split("\n")) {
    if (!line) continue;
    const [k, v] = line.split("|");
    counts[k!] = Number(v);
  }
  return counts;
}

export function exists(p: string): boolean {
  return existsSync(p);
}
