// The lab: N disposable target hosts on loopback, each with its own sshd and PostgreSQL 15 cluster,
// a seeded app database, an uploads folder and an app folder with config files. Everything lives
// under one state dir (default <repo>/.lab, git-ignored); processes are tracked and stopped by
// their own PIDs. `labUp` is idempotent: running processes are reused, missing hosts are added.
import { execa } from "execa";
import { randomBytes, randomInt } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { availableParallelism, userInfo } from "node:os";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { inventorySchema } from "../inventory/schema.ts";
import { createVault, generateVaultIdentity, identityFileText, readVault } from "../inventory/vault.ts";
import { PG_BIN, clusterPid, createAppDatabase, startCluster, type PgCluster } from "./postgres.ts";
import { ensureKeyPair, sshdPid, startSshd } from "./sshd.ts";
import { seedDatabase, seedHostTree } from "./seed.ts";
import { signal, waitGone } from "./process.ts";
import { pool } from "../pool.ts";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** Where the lab lives unless told otherwise: `<repo>/.lab` (git-ignored). */
export const DEFAULT_LAB_DIR = join(REPO_ROOT, ".lab");
export const DEFAULT_SSH_BASE_PORT = 22221;
export const DEFAULT_PG_BASE_PORT = 25431;
/** The vault key holding the app database password. */
export const LAB_PASSWORD_KEY = "lab_db_password";
const APP = "cepcomunicacion";

export interface LabHost {
  name: string;
  index: number;
  /** SSH login user: root when the lab runs as root, else the current user. */
  user: string;
  sshPort: number;
  pgPort: number;
  /** PIDs as last seen (null: not running). */
  sshdPid: number | null;
  pgPid: number | null;
  /** The host's public key: "ssh-ed25519 AAAA...". */
  hostKeyPub: string;
  /** `<dir>/hosts/<name>`. */
  dir: string;
  /** The host's root tree, used as the vars `prefix`. */
  prefix: string;
  appDir: string;
  mediaDir: string;
  sshdDir: string;
  sshdPidFile: string;
  pgDir: string;
  pgDataDir: string;
  pgSocketDir: string;
}

export interface LabState {
  version: 1;
  dir: string;
  createdAt: string;
  updatedAt: string;
  /** Absolute paths of the generated files. */
  files: {
    inventory: string;
    knownHosts: string;
    privateKey: string;
    vault: string;
    vaultIdentity: string;
    state: string;
  };
  database: { host: "127.0.0.1"; name: string; user: string; passwordVaultKey: string };
  /** Where new hosts' ports are looked for (host i tries base + i - 1, then upwards). */
  sshBasePort: number;
  pgBasePort: number;
  hosts: LabHost[];
}

export interface LabUpOptions {
  /** State dir (default `<repo>/.lab`). */
  dir?: string;
  /** Make sure lab1..labN run. Hosts beyond N that already exist are kept (and restarted if down). */
  hosts: number;
  sshBasePort?: number;
  pgBasePort?: number;
  log?: (line: string) => void;
  /** Hosts started at once (default: 2 per CPU, at least 4). */
  concurrency?: number;
}

export interface LabHostStatus {
  name: string;
  sshPort: number;
  pgPort: number;
  sshd: boolean;
  postgres: boolean;
  sshdPid: number | null;
  pgPid: number | null;
  prefix: string;
}

/** The lab cannot run here (missing packages it may not install, unusable state dir). */
export class LabError extends Error {
  override name = "LabError";
}

// ---- packages --------------------------------------------------------------------------------

const REQUIRED: { pkg: string; path: string }[] = [
  { pkg: "openssh-server", path: "/usr/sbin/sshd" },
  { pkg: "openssh-client", path: "/usr/bin/ssh-keygen" },
  { pkg: "postgresql-15", path: join(PG_BIN, "initdb") },
  { pkg: "rsync", path: "/usr/bin/rsync" },
];

function missingPackages(): { pkg: string; path: string }[] {
  return REQUIRED.filter((r) => !existsSync(r.path));
}

/**
 * Make sure sshd, ssh-keygen, PostgreSQL 15 and rsync are installed: as root, apt-get installs what
 * is missing (after an apt-get update when the first attempt fails); otherwise a LabError names it.
 */
export async function ensureLabPackages(log: (line: string) => void = () => {}): Promise<void> {
  const missing = missingPackages();
  if (missing.length === 0) return;
  const names = [...new Set(missing.map((m) => m.pkg))];
  const what = missing.map((m) => `${m.pkg} (${m.path} is missing)`).join(", ");
  if (userInfo().uid !== 0) {
    throw new LabError(
      `The lab needs Debian packages that are not installed: ${what}.\nInstall them as root:\n  sudo apt-get install -y ${names.join(" ")}`,
    );
  }
  if (!existsSync("/usr/bin/apt-get"))
    throw new LabError(
      `The lab needs ${what}, and there is no apt-get to install them with: install ${names.join(" ")}.`,
    );
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const install = () =>
    execa("apt-get", ["install", "-y", "--no-install-recommends", ...names], { env, stdin: "ignore" });
  log(`installing ${names.join(" ")}`);
  try {
    await install();
  } catch {
    log("apt-get install failed; running apt-get update and retrying");
    await execa("apt-get", ["update"], { env, stdin: "ignore" });
    await install();
  }
  const still = missingPackages();
  if (still.length)
    throw new LabError(`Installed ${names.join(" ")} but still missing: ${still.map((m) => m.path).join(", ")}`);
}

// ---- small helpers -------------------------------------------------------------------------------

function statePath(dir: string): string {
  return join(dir, "state.json");
}

/** The lab's state, or undefined when there is no lab in `dir`. */
export function readLabState(dir: string = DEFAULT_LAB_DIR): LabState | undefined {
  const f = statePath(resolve(dir));
  if (!existsSync(f)) return undefined;
  return JSON.parse(readFileSync(f, "utf8")) as LabState;
}

function writeAtomic(file: string, content: string, mode = 0o644): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

/** The sshd listening for this host, only if the PID in its pid file really is that sshd. */
function liveSshdPid(h: Pick<LabHost, "sshdPidFile" | "sshdDir">): number | undefined {
  const pid = sshdPid({ pidFile: h.sshdPidFile });
  if (pid === undefined) return undefined;
  return cmdline(pid).includes(join(h.sshdDir, "sshd_config")) ? pid : undefined;
}

/** The postmaster of this host's cluster, only if the PID in postmaster.pid really is it. */
function livePgPid(h: Pick<LabHost, "pgDataDir">): number | undefined {
  const pid = clusterPid({ dataDir: h.pgDataDir });
  if (pid === undefined) return undefined;
  return cmdline(pid).includes(h.pgDataDir) ? pid : undefined;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.unref();
    s.once("error", () => res(false));
    s.listen(port, "127.0.0.1", () => s.close(() => res(true)));
  });
}

async function allocatePort(start: number, taken: Set<number>): Promise<number> {
  for (let p = start; p < Math.min(start + 2000, 65536); p++) {
    if (taken.has(p)) continue;
    taken.add(p); // claimed before the await, so hosts allocating at once never pick the same port
    if (await portFree(p)) return p;
  }
  throw new LabError(`no free loopback port from ${start} on`);
}

/** A fresh password full of shell and pgpass metacharacters: `: \ ' " $ !` and a space. */
export function generateLabPassword(): string {
  const chars = [...randomBytes(18).toString("base64url").replace(/[-_]/g, "x")];
  for (const m of [":", "\\", "'", '"', "$", "!", " "]) chars.splice(1 + randomInt(chars.length - 1), 0, m);
  return chars.join("");
}

async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const lock = join(dir, ".lock");
  for (let i = 0; ; i++) {
    try {
      const fd = openSync(lock, "wx", 0o644);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const holder = Number(readFileSync(lock, "utf8").trim() || "0");
      let alive = holder > 0;
      try {
        if (alive) process.kill(holder, 0);
      } catch {
        alive = false;
      }
      if (!alive || i > 3000) rmSync(lock, { force: true });
      else await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** When root, the clusters run as `postgres`: it must be able to reach the state dir. */
async function checkPostgresCanReach(dir: string): Promise<void> {
  if (userInfo().uid !== 0) return;
  try {
    await execa("runuser", ["-u", "postgres", "--", "test", "-x", dir], { stdin: "ignore" });
  } catch {
    throw new LabError(
      `The postgres user cannot reach ${dir}: make its parent directories traversable (chmod o+x) or use another lab dir.`,
    );
  }
}

// ---- the vault ---------------------------------------------------------------------------------

async function writeVault(file: string, identityFile: string, map: Record<string, string>): Promise<void> {
  const { identity, recipient } = await generateVaultIdentity();
  writeAtomic(identityFile, identityFileText(identity, recipient), 0o600);
  await createVault(file, recipient, map);
}

/** The lab's app database password, decrypted from its vault. */
export async function labDbPassword(dir: string = DEFAULT_LAB_DIR): Promise<string> {
  const d = resolve(dir);
  const v = await readVault(join(d, "vault.age"), readFileSync(join(d, "vault-key.txt"), "utf8"));
  const pw = v[LAB_PASSWORD_KEY];
  if (typeof pw !== "string" || pw === "") throw new LabError(`${join(d, "vault.age")} has no ${LAB_PASSWORD_KEY}`);
  return pw;
}

async function ensureVault(dir: string): Promise<string> {
  const file = join(dir, "vault.age");
  const idFile = join(dir, "vault-key.txt");
  if (existsSync(file) && existsSync(idFile)) {
    try {
      return await labDbPassword(dir);
    } catch {
      // unreadable: make a new one (createAppDatabase resets the role's password on every up)
    }
  }
  const password = generateLabPassword();
  await writeVault(file, idFile, { [LAB_PASSWORD_KEY]: password });
  return password;
}

// ---- hosts -------------------------------------------------------------------------------------

function hostLayout(dir: string, index: number, user: string, sshPort: number, pgPort: number): LabHost {
  const name = `lab${index}`;
  const hdir = join(dir, "hosts", name);
  const prefix = join(hdir, "root");
  const appDir = join(prefix, "var/www", APP);
  const pgDir = join(hdir, "pg");
  return {
    name,
    index,
    user,
    sshPort,
    pgPort,
    sshdPid: null,
    pgPid: null,
    hostKeyPub: "",
    dir: hdir,
    prefix,
    appDir,
    mediaDir: join(appDir, "uploads"),
    sshdDir: join(hdir, "sshd"),
    sshdPidFile: join(hdir, "sshd", "sshd.pid"),
    pgDir,
    pgDataDir: join(pgDir, "data"),
    pgSocketDir: join(pgDir, "socket"),
  };
}

const BIND_FAILED =
  /Address already in use|Cannot bind any address|could not bind|could not create any TCP\/IP sockets/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fileSize(f: string): number {
  try {
    return statSync(f).size;
  } catch {
    return 0;
  }
}

/** What a log file gained since `from` bytes (the last few lines, for error messages). */
function logSince(f: string, from: number, lines = 6): string {
  try {
    return readFileSync(f).subarray(from).toString("utf8").trim().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

interface HostCtx {
  clientKeyPub: string;
  password: string;
  log: (l: string) => void;
  /** Ports handed out in this up; a fresh host whose port was grabbed meanwhile moves on from here. */
  taken: Set<number>;
  /** Names of hosts that are new in this up (their ports are not published yet, so they may change). */
  fresh: Set<string>;
}

/** Start (or reuse) the host's sshd. A fresh host whose port got taken meanwhile moves to another. */
async function ensureSshd(h: LabHost, ctx: HostCtx): Promise<boolean> {
  const logFile = join(h.sshdDir, "sshd.log");
  const wasRunning = liveSshdPid(h) !== undefined;
  for (let attempt = 1; ; attempt++) {
    // A pid file pointing at some other process is stale: startSshd would take it for ours.
    if (liveSshdPid(h) === undefined) rmSync(h.sshdPidFile, { force: true });
    const from = fileSize(logFile);
    const sshd = await startSshd({ dir: h.sshdDir, port: h.sshPort, clientKeyPub: ctx.clientKeyPub, user: h.user });
    h.hostKeyPub = sshd.hostKeyPub.split(/\s+/).slice(0, 2).join(" ");
    // sshd binds after it daemonizes: on a busy machine the pid file can take a while, and a
    // failed bind only shows in its log.
    for (let t = 0; t < 10_000 && liveSshdPid(h) === undefined && !BIND_FAILED.test(logSince(logFile, from)); t += 25)
      await sleep(25);
    h.sshdPid = liveSshdPid(h) ?? null;
    if (h.sshdPid !== null) return wasRunning;
    const why = logSince(logFile, from);
    if (ctx.fresh.has(h.name) && BIND_FAILED.test(why) && attempt < 5) {
      const old = h.sshPort;
      h.sshPort = await allocatePort(old + 1, ctx.taken);
      ctx.log(`${h.name}: port ${old} was taken meanwhile; sshd moves to ${h.sshPort}`);
      continue;
    }
    throw new Error(`${h.name}: sshd did not start on 127.0.0.1:${h.sshPort}${why ? `: ${why}` : ""} (see ${logFile})`);
  }
}

/** Start (or reuse) the host's cluster (initdb on first use), moving a fresh host off a taken port. */
async function ensureCluster(h: LabHost, ctx: HostCtx): Promise<boolean> {
  if (livePgPid(h) !== undefined) {
    h.pgPid = livePgPid(h) ?? null;
    return true;
  }
  const logFile = join(h.pgDir, "postgres.log");
  for (let attempt = 1; ; attempt++) {
    rmSync(join(h.pgDataDir, "postmaster.pid"), { force: true });
    const from = fileSize(logFile);
    try {
      await startCluster(h.pgDir, h.pgPort);
    } catch (e) {
      const why = logSince(logFile, from);
      if (ctx.fresh.has(h.name) && BIND_FAILED.test(why) && attempt < 5) {
        const old = h.pgPort;
        h.pgPort = await allocatePort(old + 1, ctx.taken);
        // Keep postgresql.conf telling the truth (the port is also passed on the command line).
        const conf = join(h.pgDataDir, "postgresql.conf");
        if (existsSync(conf))
          writeFileSync(
            conf,
            readFileSync(conf, "utf8").replace(new RegExp(`^port = ${old}$`, "m"), `port = ${h.pgPort}`),
          );
        ctx.log(`${h.name}: port ${old} was taken meanwhile; postgres moves to ${h.pgPort}`);
        continue;
      }
      throw new Error(
        `${h.name}: PostgreSQL did not start on 127.0.0.1:${h.pgPort}: ${why || (e as Error).message} (see ${logFile})`,
      );
    }
    h.pgPid = livePgPid(h) ?? null;
    if (h.pgPid === null)
      throw new Error(`${h.name}: PostgreSQL started but its postmaster is not running (see ${logFile})`);
    return false;
  }
}

async function ensureHost(h: LabHost, ctx: HostCtx): Promise<void> {
  mkdirSync(h.dir, { recursive: true, mode: 0o711 });
  chmodSync(h.dir, 0o711);
  mkdirSync(h.prefix, { recursive: true, mode: 0o755 });

  const sshdReused = await ensureSshd(h, ctx);
  ctx.log(`${h.name}: sshd ${sshdReused ? "running" : "started"} on 127.0.0.1:${h.sshPort} (pid ${h.sshdPid})`);
  const pgReused = await ensureCluster(h, ctx);
  ctx.log(`${h.name}: postgres ${pgReused ? "running" : "started"} on 127.0.0.1:${h.pgPort} (pid ${h.pgPid})`);

  const cluster: PgCluster = { dir: h.pgDir, dataDir: h.pgDataDir, socketDir: h.pgSocketDir, port: h.pgPort };
  await createAppDatabase(cluster, { name: APP, user: APP, password: ctx.password });
  if (await seedDatabase(cluster, { name: APP, user: APP })) ctx.log(`${h.name}: database ${APP} seeded`);

  if (seedHostTree(h.prefix, { host: h.name, pgPort: h.pgPort, app: APP, marker: join(h.dir, "tree.seeded") }).created)
    ctx.log(`${h.name}: app folder and uploads written`);
}

function inventoryYaml(state: LabState): string {
  const hosts: Record<string, unknown> = {};
  for (const h of state.hosts) {
    hosts[h.name] = {
      ssh: { host: "127.0.0.1", port: h.sshPort, user: h.user, private_key: "./id_ed25519" },
      vars: { prefix: h.prefix, database: { port: h.pgPort } },
    };
  }
  const vars: Record<string, unknown> = {
    app: APP,
    database: { host: "127.0.0.1", name: APP, user: APP, password: { vault: LAB_PASSWORD_KEY } },
  };
  const user = userInfo().username;
  if (userInfo().uid !== 0) vars.backup_user = user;
  const doc = {
    environment: "lab",
    known_hosts: "./known_hosts",
    vault: { file: "./vault.age", identity_file: "./vault-key.txt" },
    vars,
    groups: { lab: { hosts: state.hosts.map((h) => h.name) } },
    hosts,
  };
  const parsed = inventorySchema.safeParse(doc);
  if (!parsed.success) throw new Error(`the lab inventory does not validate: ${parsed.error.message}`);
  return `# The lab's inventory, written by \`npm run lab -- up\` (rewritten on every up; edits are lost).\n${YAML.stringify(doc)}`;
}

// ---- public API --------------------------------------------------------------------------------

/**
 * Start (or reuse) lab1..labN. Writes state.json, known_hosts, the vault and inventory.yml under
 * the state dir and returns the state. Hosts that fail to start are recorded (so `labDown` can
 * clean them up) and reported in one error after the others are up.
 */
export async function labUp(opts: LabUpOptions): Promise<LabState> {
  if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > 500)
    throw new LabError(`hosts must be an integer from 1 to 500, got ${opts.hosts}`);
  const log = opts.log ?? (() => {});
  const dir = resolve(opts.dir ?? DEFAULT_LAB_DIR);
  await ensureLabPackages(log);
  mkdirSync(join(dir, "hosts"), { recursive: true, mode: 0o711 });
  chmodSync(dir, 0o711);
  chmodSync(join(dir, "hosts"), 0o711);
  await checkPostgresCanReach(join(dir, "hosts"));

  return withLock(dir, async () => {
    const previous = readLabState(dir);
    const now = new Date().toISOString();
    const user = userInfo().username;
    const files = {
      inventory: join(dir, "inventory.yml"),
      knownHosts: join(dir, "known_hosts"),
      privateKey: join(dir, "id_ed25519"),
      vault: join(dir, "vault.age"),
      vaultIdentity: join(dir, "vault-key.txt"),
      state: statePath(dir),
    };
    const clientKeyPub = await ensureKeyPair(files.privateKey, "cep-lab-client");
    const password = await ensureVault(dir);

    // Keep every known host (with its ports); add the missing ones up to N.
    const byIndex = new Map<number, LabHost>();
    for (const h of previous?.hosts ?? []) byIndex.set(h.index, hostLayout(dir, h.index, h.user, h.sshPort, h.pgPort));
    const taken = new Set<number>([...byIndex.values()].flatMap((h) => [h.sshPort, h.pgPort]));
    const sshBase = opts.sshBasePort ?? previous?.sshBasePort ?? DEFAULT_SSH_BASE_PORT;
    const pgBase = opts.pgBasePort ?? previous?.pgBasePort ?? DEFAULT_PG_BASE_PORT;
    const fresh = new Set<string>();
    for (let i = 1; i <= opts.hosts; i++) {
      if (byIndex.has(i)) continue;
      fresh.add(`lab${i}`);
      const sshPort = await allocatePort(sshBase + i - 1, taken);
      const pgPort = await allocatePort(pgBase + i - 1, taken);
      byIndex.set(i, hostLayout(dir, i, user, sshPort, pgPort));
    }
    const hosts = [...byIndex.values()].sort((a, b) => a.index - b.index);

    const limit = opts.concurrency ?? Math.max(4, availableParallelism() * 2);
    const results = await pool(hosts, limit, (h) =>
      ensureHost(h, { clientKeyPub, password, log, taken, fresh }).then(
        (): PromiseSettledResult<void> => ({ status: "fulfilled", value: undefined }),
        (reason: unknown): PromiseSettledResult<void> => ({ status: "rejected", reason }),
      ),
    );

    const state: LabState = {
      version: 1,
      dir,
      createdAt: previous?.createdAt ?? now,
      updatedAt: now,
      files,
      database: { host: "127.0.0.1", name: APP, user: APP, passwordVaultKey: LAB_PASSWORD_KEY },
      sshBasePort: sshBase,
      pgBasePort: pgBase,
      hosts,
    };
    writeAtomic(files.state, `${JSON.stringify(state, null, 2)}\n`);
    const failures = results.flatMap((r, i) =>
      r.status === "rejected"
        ? [String((r.reason as Error)?.message ?? r.reason).replace(/^(?!lab\d+:)/, `${hosts[i]?.name}: `)]
        : [],
    );
    if (failures.length) throw new Error(`the lab did not fully start:\n${failures.join("\n")}`);

    writeAtomic(files.knownHosts, hosts.map((h) => `[127.0.0.1]:${h.sshPort} ${h.hostKeyPub}\n`).join(""));
    writeAtomic(files.inventory, inventoryYaml(state));
    return state;
  });
}

/** Per host: whether its sshd and its postmaster are alive (by PID). Empty when there is no lab. */
export function labStatus(dir: string = DEFAULT_LAB_DIR): LabHostStatus[] {
  const state = readLabState(dir);
  if (!state) return [];
  return state.hosts.map((h) => {
    const s = liveSshdPid(h) ?? null;
    const p = livePgPid(h) ?? null;
    return {
      name: h.name,
      sshPort: h.sshPort,
      pgPort: h.pgPort,
      sshd: s !== null,
      postgres: p !== null,
      sshdPid: s,
      pgPid: p,
      prefix: h.prefix,
    };
  });
}

function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function stopHost(h: Pick<LabHost, "sshdPidFile" | "sshdDir" | "pgDataDir">): Promise<void> {
  const sshd = liveSshdPid(h);
  const pg = livePgPid(h);
  const pids: number[] = [];
  if (sshd !== undefined) {
    // The listener's children are per-connection sshd processes (open or multiplexed sessions):
    // stop them too, so nothing of the lab keeps running.
    const sessions = childPids(sshd);
    signal(sshd, "SIGTERM");
    for (const c of sessions) signal(c, "SIGTERM");
    pids.push(sshd, ...sessions);
  }
  if (pg !== undefined) {
    // Fast shutdown: the postmaster ends its backends and exits (what stopCluster does).
    signal(pg, "SIGINT");
    pids.push(pg);
  }
  await waitGone(pids, 15_000);
  rmSync(h.sshdPidFile, { force: true });
}

/**
 * Stop every host's sshd and cluster by its own PID and remove the lab's state dir. Hosts found
 * on disk but missing from state.json (an interrupted up) are stopped too. Returns the host names.
 */
export async function labDown(dir: string = DEFAULT_LAB_DIR): Promise<string[]> {
  const d = resolve(dir);
  const state = readLabState(d);
  const hostsDir = join(d, "hosts");
  if (!state && !existsSync(hostsDir)) return [];
  return withLock(d, async () => {
    const targets = new Map<string, Pick<LabHost, "sshdPidFile" | "sshdDir" | "pgDataDir">>();
    for (const h of state?.hosts ?? []) targets.set(h.name, h);
    if (existsSync(hostsDir)) {
      for (const name of readdirSync(hostsDir)) {
        if (targets.has(name) || !statSync(join(hostsDir, name)).isDirectory()) continue;
        targets.set(name, {
          sshdDir: join(hostsDir, name, "sshd"),
          sshdPidFile: join(hostsDir, name, "sshd", "sshd.pid"),
          pgDataDir: join(hostsDir, name, "pg", "data"),
        });
      }
    }
    await Promise.all([...targets.values()].map(stopHost));
    const stillUp = [...targets.entries()]
      .filter(([, h]) => liveSshdPid(h) !== undefined || livePgPid(h) !== undefined)
      .map(([n]) => n);
    if (stillUp.length) throw new Error(`could not stop ${stillUp.join(", ")}; state kept in ${d}`);
    for (const e of readdirSync(d)) if (e !== ".lock") rmSync(join(d, e), { recursive: true, force: true });
    return [...targets.keys()].sort((a, b) => Number(a.replace(/\D/g, "")) - Number(b.replace(/\D/g, "")));
  }).then((names) => {
    rmSync(d, { recursive: true, force: true });
    return names;
  });
}

/** Hosts a lab gets when `npm run provision -- lab` has to start it from nothing. */
export const DEFAULT_LAB_HOSTS = 2;

/**
 * `npm run provision -- lab` (and the other playbooks) call this first: when the inventory is the
 * name `lab`, make sure the lab in `<cwd>/.lab` runs (started with DEFAULT_LAB_HOSTS hosts, or
 * restarted with the hosts it had). Any other inventory is left alone: a stopped host there is
 * the playbook's business (unreachable), not something to paper over. Progress goes to stderr.
 */
export async function ensureLabFor(
  inventory: string,
  cwd: string,
  log: (line: string) => void = (l) => process.stderr.write(`lab: ${l}\n`),
): Promise<LabState | undefined> {
  if (inventory !== "lab") return undefined;
  const dir = join(cwd, ".lab");
  const state = readLabState(dir);
  const status = labStatus(dir);
  if (state && status.length > 0 && status.every((h) => h.sshd && h.postgres) && existsSync(state.files.inventory))
    return state;
  const hosts = state?.hosts.length || DEFAULT_LAB_HOSTS;
  log(state ? `restarting the lab in ${dir}` : `starting a ${hosts}-host lab in ${dir}`);
  return labUp({ dir, hosts, log });
}
