// One lab host's processes: its sshd and its PostgreSQL cluster, started (or reused: a PID file is
// trusted only when /proc says it is that process), seeded, and stopped by their own PIDs.
import { execa } from "execa";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { clusterPid, createAppDatabase, startCluster, type PgCluster } from "./postgres.ts";
import { portFree } from "./ports.ts";
import { signal, waitGone } from "./process.ts";
import { seedDatabase, seedHostTree } from "./seed.ts";
import { sshdPid, startSshd } from "./sshd.ts";
import { APP, LabError, type LabHost } from "./state.ts";

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

/** The sshd listening for this host, only if the PID in its pid file really is that sshd. */
export function liveSshdPid(h: Pick<LabHost, "sshdPidFile" | "sshdDir">): number | undefined {
  const pid = sshdPid({ pidFile: h.sshdPidFile });
  if (pid === undefined) return undefined;
  return cmdline(pid).includes(join(h.sshdDir, "sshd_config")) ? pid : undefined;
}

/** The postmaster of this host's cluster, only if the PID in postmaster.pid really is it. */
export function livePgPid(h: Pick<LabHost, "pgDataDir">): number | undefined {
  const pid = clusterPid({ dataDir: h.pgDataDir });
  if (pid === undefined) return undefined;
  return cmdline(pid).includes(h.pgDataDir) ? pid : undefined;
}

/** The first free loopback port from `start` on that nobody in `taken` has claimed. */
export async function allocatePort(start: number, taken: Set<number>): Promise<number> {
  for (let p = start; p < Math.min(start + 2000, 65536); p++) {
    if (taken.has(p)) continue;
    taken.add(p); // claimed before the await, so hosts allocating at once never pick the same port
    if (await portFree(p)) return p;
  }
  throw new LabError(`no free loopback port from ${start} on`);
}

/** When root, the clusters run as `postgres`: it must be able to reach the state dir. */
export async function checkPostgresCanReach(dir: string): Promise<void> {
  if (userInfo().uid !== 0) return;
  try {
    await execa("runuser", ["-u", "postgres", "--", "test", "-x", dir], { stdin: "ignore" });
  } catch {
    throw new LabError(
      `The postgres user cannot reach ${dir}: make its parent directories traversable (chmod o+x) or use another lab dir.`,
    );
  }
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

export interface HostCtx {
  clientKeyPub: string;
  password: string;
  log: (l: string) => void;
  /** Ports handed out in this up; a fresh host whose port was grabbed meanwhile moves on from here. */
  taken: Set<number>;
  /** Names of hosts that are new in this up (their ports are not published yet, so they may change). */
  fresh: Set<string>;
  /** sshd and the host's tree only: no cluster, no database. */
  sshOnly?: boolean;
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

/** Start (or reuse) the host's sshd and (unless sshOnly) its cluster and seeded database; write its tree. */
export async function ensureHost(h: LabHost, ctx: HostCtx): Promise<void> {
  mkdirSync(h.dir, { recursive: true, mode: 0o711 });
  chmodSync(h.dir, 0o711);
  mkdirSync(h.prefix, { recursive: true, mode: 0o755 });

  const sshdReused = await ensureSshd(h, ctx);
  ctx.log(`${h.name}: sshd ${sshdReused ? "running" : "started"} on 127.0.0.1:${h.sshPort} (pid ${h.sshdPid})`);
  if (!ctx.sshOnly) await ensureDatabase(h, ctx);
  if (seedHostTree(h.prefix, { host: h.name, pgPort: h.pgPort, app: APP, marker: join(h.dir, "tree.seeded") }).created)
    ctx.log(`${h.name}: app folder and uploads written`);
}

/** Start (or reuse) the host's cluster and create and seed its database. */
async function ensureDatabase(h: LabHost, ctx: HostCtx): Promise<void> {
  const pgReused = await ensureCluster(h, ctx);
  ctx.log(`${h.name}: postgres ${pgReused ? "running" : "started"} on 127.0.0.1:${h.pgPort} (pid ${h.pgPid})`);

  const cluster: PgCluster = { dir: h.pgDir, dataDir: h.pgDataDir, socketDir: h.pgSocketDir, port: h.pgPort };
  await createAppDatabase(cluster, { name: APP, user: APP, password: ctx.password });
  if (await seedDatabase(cluster, { name: APP, user: APP })) ctx.log(`${h.name}: database ${APP} seeded`);
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

/** Stop the host's sshd (and its sessions) and its postmaster by PID. */
export async function stopHost(h: Pick<LabHost, "sshdPidFile" | "sshdDir" | "pgDataDir">): Promise<void> {
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
