// The lab: N disposable target hosts on loopback, each with its own sshd and PostgreSQL 15 cluster,
// a seeded app database, an uploads folder and an app folder with config files. Everything lives
// under one state dir (default <repo>/.lab, git-ignored); processes are tracked and stopped by
// their own PIDs. `labUp` is idempotent: running processes are reused, missing hosts are added.
//
// state.ts: the state dir and state.json · hosts.ts: one host's processes · files.ts: vault,
// inventory and known_hosts · packages.ts: what the lab needs installed · seed.ts: what a host holds.
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { availableParallelism, userInfo } from "node:os";
import { join, resolve } from "node:path";
import { pool } from "../pool.ts";
import { ensureVault, inventoryYaml, knownHostsText } from "./files.ts";
import { allocatePort, checkPostgresCanReach, ensureHost, liveSshdPid, livePgPid, stopHost } from "./hosts.ts";
import { ensureLabPackages } from "./packages.ts";
import { ensureKeyPair } from "./sshd.ts";
import {
  APP,
  DEFAULT_LAB_DIR,
  DEFAULT_PG_BASE_PORT,
  DEFAULT_SSH_BASE_PORT,
  LAB_PASSWORD_KEY,
  LabError,
  hostLayout,
  readLabState,
  statePath,
  withLock,
  writeAtomic,
  type LabHost,
  type LabHostStatus,
  type LabState,
  type LabUpOptions,
} from "./state.ts";

export { labDbPassword } from "./files.ts";
export {
  DEFAULT_LAB_DIR,
  LabError,
  readLabState,
  type LabHost,
  type LabHostStatus,
  type LabState,
  type LabUpOptions,
} from "./state.ts";

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
  const sshOnly = opts.sshOnly ?? false;
  if (!sshOnly) await checkPostgresCanReach(join(dir, "hosts"));

  return withLock(dir, async () => {
    const previous = readLabState(dir);
    if (previous && (previous.sshOnly ?? false) !== sshOnly)
      throw new LabError(
        `the lab in ${dir} was started ${previous.sshOnly ? "with sshd only" : "with PostgreSQL"}: take it down first`,
      );
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
      ensureHost(h, { clientKeyPub, password, log, taken, fresh, sshOnly }).then(
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
      ...(sshOnly ? { sshOnly } : {}),
      hosts,
    };
    writeAtomic(files.state, `${JSON.stringify(state, null, 2)}\n`);
    const failures = results.flatMap((r, i) =>
      r.status === "rejected"
        ? [String((r.reason as Error)?.message ?? r.reason).replace(/^(?!lab\d+:)/, `${hosts[i]?.name}: `)]
        : [],
    );
    if (failures.length) throw new Error(`the lab did not fully start:\n${failures.join("\n")}`);

    writeAtomic(files.knownHosts, knownHostsText(hosts));
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
