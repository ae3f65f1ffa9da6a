// `npm run lab -- up [--hosts N] | down | status`: the lab's command line, from argv to an exit
// code. playbooks/lab.ts only hands it argv and where to write.
import { relative } from "node:path";
import { parseArgs } from "node:util";
import { textTable } from "../format.ts";
import { DEFAULT_LAB_DIR, LabError, labDown, labStatus, labUp, type LabHostStatus } from "./lab.ts";

export const LAB_USAGE = `Usage: npm run lab -- <command> [options]

Commands:
  up [--hosts N]   start lab1..labN (default N: 2, or as many as are there), reusing running ones
  down             stop every lab host by its PID and remove the lab's state
  status           show whether each host's sshd and PostgreSQL are running

Options:
  --hosts N        number of hosts for up (1-500)
  --dir DIR        lab state dir (default: .lab in the project)
  --quiet          up: no progress lines
  -h, --help       this help

Exit codes: 0 ok; 1 bad arguments or missing packages; 2 failed, or (status) a host is down / no lab.`;

export type LabCommand =
  | { cmd: "help" }
  | { cmd: "up"; dir: string; hosts?: number; quiet: boolean }
  | { cmd: "down"; dir: string }
  | { cmd: "status"; dir: string };

/** Bad arguments: exit 1 with the usage. */
export class LabUsageError extends Error {
  override name = "LabUsageError";
}

export function parseLabArgs(argv: string[]): LabCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        hosts: { type: "string" },
        dir: { type: "string" },
        quiet: { type: "boolean", short: "q" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new LabUsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { cmd: "help" };
  if (positionals.length !== 1)
    throw new LabUsageError(
      positionals.length ? `unexpected arguments: ${positionals.slice(1).join(" ")}` : "a command is required",
    );
  const cmd = positionals[0]!;
  const dir = values.dir ?? DEFAULT_LAB_DIR;
  if (values.hosts !== undefined && cmd !== "up") throw new LabUsageError("--hosts only applies to up");
  switch (cmd) {
    case "up": {
      const h = values.hosts;
      if (h !== undefined && (!/^\d+$/.test(h) || Number(h) < 1 || Number(h) > 500))
        throw new LabUsageError(`--hosts: expected a whole number from 1 to 500, got "${h}"`);
      return { cmd, dir, hosts: h === undefined ? undefined : Number(h), quiet: values.quiet ?? false };
    }
    case "down":
    case "status":
      return { cmd, dir };
    default:
      throw new LabUsageError(`unknown command "${cmd}"`);
  }
}

export interface LabIo {
  /** The command's output (stdout), a line or a block at a time. */
  out: (text: string) => void;
  /** Progress and usage (stderr). */
  note: (text: string) => void;
  /** What went wrong (stderr). */
  error: (text: string) => void;
  cwd?: string;
}

/** One row per host: ports, whether sshd and PostgreSQL run, the host's root tree. */
export function statusTable(rows: readonly LabHostStatus[], show: (p: string) => string = (p) => p): string {
  const body = rows.map((h) => [
    h.name,
    `127.0.0.1:${h.sshPort}`,
    `127.0.0.1:${h.pgPort}`,
    h.sshd ? "up" : "DOWN",
    h.postgres ? "up" : "DOWN",
    show(h.prefix),
  ]);
  return textTable([["host", "ssh", "postgres", "sshd", "pg", "prefix"], ...body]);
}

async function run(c: LabCommand, io: LabIo): Promise<number> {
  const cwd = io.cwd ?? process.cwd();
  const show = (p: string) => {
    const r = relative(cwd, p);
    return r && !r.startsWith("..") ? r : p;
  };
  switch (c.cmd) {
    case "help":
      io.out(LAB_USAGE);
      return 0;
    case "up": {
      const t = Date.now();
      const state = await labUp({
        dir: c.dir,
        hosts: c.hosts ?? Math.max(labStatus(c.dir).length, 2),
        log: c.quiet ? undefined : io.note,
      });
      io.out(statusTable(labStatus(c.dir), show));
      io.out("");
      io.out(
        `${state.hosts.length} host(s) up in ${((Date.now() - t) / 1000).toFixed(1)} s; inventory: ${show(state.files.inventory)}`,
      );
      io.out(`try: npm run provision -- ${show(state.files.inventory)}`);
      return 0;
    }
    case "down": {
      const names = await labDown(c.dir);
      io.out(names.length ? `stopped ${names.join(", ")}; removed ${show(c.dir)}` : `no lab in ${show(c.dir)}`);
      return 0;
    }
    case "status": {
      const rows = labStatus(c.dir);
      if (rows.length === 0) {
        io.out(`no lab in ${show(c.dir)} (start one with: npm run lab -- up)`);
        return 2;
      }
      io.out(statusTable(rows, show));
      return rows.every((r) => r.sshd && r.postgres) ? 0 : 2;
    }
  }
}

/** Run `npm run lab -- <argv>`: 0 ok, 1 bad arguments or a lab that cannot run here, 2 failed. */
export async function runLabCommand(argv: string[], io: LabIo): Promise<number> {
  try {
    return await run(parseLabArgs(argv), io);
  } catch (e) {
    if (e instanceof LabUsageError) {
      io.error(e.message);
      io.note(`\n${LAB_USAGE}`);
      return 1;
    }
    if (e instanceof LabError) {
      io.error(e.message);
      return 1;
    }
    io.error(`lab: ${(e as Error).stack ?? e}`);
    return 2;
  }
}
