// Measuring for `npm run bench`: wall time of a child process, the CPU it used (its own and its
// descendants', read from our /proc/self/stat once it is reaped), and the CPU the lab's hosts
// spent meanwhile (each host's sshd listener accumulates the CPU of every session it reaped:
// sshd, the login shell with its ~/.bashrc, the remote script). Neither CPU figure is
// contaminated by other users of a shared machine, unlike /proc/stat.
import { execa, type Options } from "execa";
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";

let clkTck: number | undefined;
function ticksToMs(ticks: number): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return (ticks * 1000) / clkTck;
}

/** Fields of /proc/PID/stat after the command name (index 0 is field 3, the state). */
function statFields(pid: number | "self"): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    return s.slice(s.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** CPU (ms) of our reaped children and their reaped descendants: cutime + cstime. */
export function childrenCpuMs(): number {
  const f = statFields("self");
  return f ? ticksToMs(Number(f[13]) + Number(f[14])) : 0;
}

/** CPU (ms) of the reaped children of these PIDs (the lab's sshd listeners). */
export function reapedCpuMs(pids: number[]): number {
  let t = 0;
  for (const p of pids) {
    const f = statFields(p);
    if (f) t += Number(f[13]) + Number(f[14]);
  }
  return ticksToMs(t);
}

export interface Sample {
  wall_ms: number;
  /** CPU of the measured process tree on this side (the controller). */
  cpu_ms: number;
  /** CPU spent on the lab hosts (sshd sessions and what they ran) meanwhile. */
  host_cpu_ms: number;
}

export interface RunResult extends Sample {
  code: number;
  stdout: string;
  stderr: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Run a command and measure it. `hostPids` are the sshd listeners whose sessions count as host
 * CPU; we wait a moment after the exit (outside the wall time) so the sessions are reaped.
 * `afterExit` runs after the controller CPU is read and before the host CPU is.
 */
export async function timed(
  cmd: string,
  args: string[],
  opts: Options & { hostPids?: number[]; settleMs?: number; afterExit?: () => Promise<void> } = {},
): Promise<RunResult> {
  const { hostPids = [], settleMs = 150, afterExit, ...execOpts } = opts;
  const cpu0 = childrenCpuMs();
  const host0 = reapedCpuMs(hostPids);
  const t0 = performance.now();
  const r = await execa(cmd, args, { reject: false, stdin: "ignore", ...execOpts });
  const wall = performance.now() - t0;
  const cpu1 = childrenCpuMs();
  // Outside the wall time: e.g. closing an SSH control master the command left running.
  if (afterExit) await afterExit();
  if (hostPids.length) await sleep(settleMs);
  const host1 = reapedCpuMs(hostPids);
  return {
    wall_ms: wall,
    cpu_ms: cpu1 - cpu0,
    host_cpu_ms: host1 - host0,
    code: r.exitCode ?? -1,
    stdout: String(r.stdout ?? ""),
    stderr: String(r.stderr ?? ""),
  };
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface Stat {
  n: number;
  median: number;
  min: number;
  max: number;
}

export function stat(xs: number[]): Stat {
  return { n: xs.length, median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

/** Wait until the wall clock is in a later second than `after` (the scripts name their output by the second). */
export async function nextSecond(after: number = Date.now()): Promise<void> {
  const target = Math.floor(after / 1000) * 1000 + 1000;
  const wait = target - Date.now();
  if (wait > 0) await sleep(wait + 5);
}

/** Throw unless the command exited with one of `okCodes`; the error carries the end of its output. */
export function check(r: RunResult, what: string, okCodes = [0]): void {
  if (!okCodes.includes(r.code))
    throw new Error(`${what} exited ${r.code}:\n${(r.stderr || r.stdout).trim().split("\n").slice(-15).join("\n")}`);
}
