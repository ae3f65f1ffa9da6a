// A lab's state on disk: where it lives, what state.json records about each host, and the two
// things every writer of that state needs (atomic writes and the lab's lock).
import {
  chmodSync,
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** Where the lab lives unless told otherwise: `<repo>/.lab` (git-ignored). */
export const DEFAULT_LAB_DIR = join(REPO_ROOT, ".lab");
export const DEFAULT_SSH_BASE_PORT = 22221;
export const DEFAULT_PG_BASE_PORT = 25431;
/** The vault key holding the app database password. */
export const LAB_PASSWORD_KEY = "lab_db_password";
/** The app the lab hosts run (the spec's). */
export const APP = "cepcomunicacion";

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
  /** The hosts run sshd only (no PostgreSQL): LabUpOptions.sshOnly. */
  sshOnly?: boolean;
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
  /**
   * Hosts with only their sshd and their tree, no PostgreSQL cluster (the bench's many-host no-op:
   * provision without the smoke test never talks to the database). Recorded in state.json.
   */
  sshOnly?: boolean;
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

export function statePath(dir: string): string {
  return join(dir, "state.json");
}

/** The lab's state, or undefined when there is no lab in `dir`. */
export function readLabState(dir: string = DEFAULT_LAB_DIR): LabState | undefined {
  const f = statePath(resolve(dir));
  if (!existsSync(f)) return undefined;
  return JSON.parse(readFileSync(f, "utf8")) as LabState;
}

export function writeAtomic(file: string, content: string, mode = 0o644): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}

/** Run `fn` holding the lab's lock file (a holder that died is taken over). */
export async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
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

/** Where host `index` keeps everything, under the lab's dir. */
export function hostLayout(dir: string, index: number, user: string, sshPort: number, pgPort: number): LabHost {
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
