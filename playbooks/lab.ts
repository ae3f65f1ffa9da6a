#!/usr/bin/env -S npx tsx
// npm run lab -- up [--hosts N] | down | status: disposable target hosts on loopback (see src/lab/lab.ts).
import { parseArgs } from "node:util";
import { relative } from "node:path";
import { DEFAULT_LAB_DIR, LabError, labDown, labStatus, labUp, type LabHostStatus } from "../src/lab/lab.ts";
import { textTable } from "../src/format.ts";

const USAGE = `Usage: npm run lab -- <command> [options]

Commands:
  up [--hosts N]   start lab1..labN (default N: 2, or as many as are there), reusing running ones
  down             stop every lab host by its PID and remove the lab's state
  status           show whether each host's sshd and PostgreSQL are running

Options:
  --hosts N        number of hosts for up (1-500)
  --dir DIR        lab state dir (default: .lab in the project)
  --quiet          up: no progress lines
  -h, --help       this help

Exit codes: 0 ok; 1 bad arguments or missing packages; 2 failed, or (status) a host is down / no lab.
`;

function usageError(msg: string): never {
  process.stderr.write(`${msg}\n\n${USAGE}`);
  process.exit(1);
}

function show(p: string): string {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith("..") ? r : p;
}

function table(rows: LabHostStatus[]): string {
  const body = rows.map((h) => [
    h.name,
    `127.0.0.1:${h.sshPort}`,
    `127.0.0.1:${h.pgPort}`,
    h.sshd ? "up" : "DOWN",
    h.postgres ? "up" : "DOWN",
    show(h.prefix),
  ]);
  return textTable([["host", "ssh", "postgres", "sshd", "pg", "prefix"], ...body]) + "\n";
}

async function run(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: process.argv.slice(2),
      allowPositionals: true,
      options: {
        hosts: { type: "string" },
        dir: { type: "string" },
        quiet: { type: "boolean", short: "q" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    usageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length !== 1)
    usageError(
      positionals.length ? `unexpected arguments: ${positionals.slice(1).join(" ")}` : "a command is required",
    );
  const cmd = positionals[0];
  const dir = values.dir ?? DEFAULT_LAB_DIR;
  if (values.hosts !== undefined && cmd !== "up") usageError(`--hosts only applies to up`);

  switch (cmd) {
    case "up": {
      let hosts: number | undefined;
      if (values.hosts !== undefined) {
        if (!/^\d+$/.test(values.hosts) || Number(values.hosts) < 1 || Number(values.hosts) > 500)
          usageError(`--hosts: expected a whole number from 1 to 500, got "${values.hosts}"`);
        hosts = Number(values.hosts);
      }
      const existing = labStatus(dir).length;
      const t = Date.now();
      const state = await labUp({
        dir,
        hosts: hosts ?? Math.max(existing, 2),
        log: values.quiet ? undefined : (l) => process.stderr.write(`${l}\n`),
      });
      process.stdout.write(table(labStatus(dir)));
      process.stdout.write(
        `\n${state.hosts.length} host(s) up in ${((Date.now() - t) / 1000).toFixed(1)} s; inventory: ${show(state.files.inventory)}\n`,
      );
      process.stdout.write(`try: npm run provision -- ${show(state.files.inventory)}\n`);
      return 0;
    }
    case "down": {
      const names = await labDown(dir);
      process.stdout.write(
        names.length ? `stopped ${names.join(", ")}; removed ${show(dir)}\n` : `no lab in ${show(dir)}\n`,
      );
      return 0;
    }
    case "status": {
      const rows = labStatus(dir);
      if (rows.length === 0) {
        process.stdout.write(`no lab in ${show(dir)} (start one with: npm run lab -- up)\n`);
        return 2;
      }
      process.stdout.write(table(rows));
      return rows.every((r) => r.sshd && r.postgres) ? 0 : 2;
    }
    default:
      usageError(`unknown command "${cmd}"`);
  }
}

try {
  process.exitCode = await run();
} catch (e) {
  if (e instanceof LabError) {
    process.stderr.write(`${e.message}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`lab: ${(e as Error).stack ?? e}\n`);
    process.exitCode = 2;
  }
}
