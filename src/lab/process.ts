// The lab's processes, found by their own PID files and stopped by PID (never by name).
import { existsSync, readFileSync } from "node:fs";

/**
 * Whether a process is running. A zombie counts as gone: it has exited and released its ports,
 * and daemons are reaped by init, which on some machines (containers, microVMs) takes seconds.
 */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** The PID on the first line of a PID file, if that process runs. */
export function pidFromFile(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, "utf8").split("\n")[0]!.trim());
  return Number.isInteger(pid) && pid > 0 && running(pid) ? pid : undefined;
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Wait until every PID has exited; SIGKILL what is left after `ms`. */
export async function waitGone(pids: number[], ms: number): Promise<void> {
  for (let t = 0; t < ms && pids.some(running); t += 10) await new Promise((r) => setTimeout(r, 10));
  for (const p of pids.filter(running)) signal(p, "SIGKILL");
}
