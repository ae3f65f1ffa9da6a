// Shared fixtures for the connection tests: a private sshd in a temp dir and an SshTarget for it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureKeyPair, startSshd, stopSshd, type Sshd } from "../../src/lab/sshd.ts";
import type { SshTarget } from "../../src/connection/types.ts";
import { freePort } from "../helpers/ports.ts";

export interface TestSshd {
  dir: string;
  sshd: Sshd;
  clientKey: string;
  clientKeyPub: string;
  /** known_hosts holding this sshd's key. */
  knownHosts: string;
  ssh(overrides?: Partial<SshTarget>): SshTarget;
  /** sshd's log (LogLevel DEBUG1 shows forwarded channels). */
  log(): string;
  stop(): Promise<void>;
}

export async function startTestSshd(
  prefix: string,
  opts: {
    dir?: string;
    port?: number;
    clientKey?: string;
    logLevel?: "ERROR" | "INFO" | "VERBOSE" | "DEBUG1";
    /** Host names only this sshd resolves (a host behind it, as behind a bastion). */
    resolves?: Record<string, string>;
  } = {},
): Promise<TestSshd> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), `cep-${prefix}-`));
  const clientKey = opts.clientKey ?? join(dir, "client_key");
  const clientKeyPub = await ensureKeyPair(clientKey, "cep-test-client");
  const port = opts.port ?? (await freePort());
  const sshd = await startSshd({
    dir,
    port,
    clientKeyPub,
    user: "root",
    ...(opts.logLevel ? { logLevel: opts.logLevel } : {}),
    ...(opts.resolves ? { resolves: opts.resolves } : {}),
  });
  const knownHosts = join(dir, "known_hosts");
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${sshd.hostKeyPub}\n`, { mode: 0o600 });
  return {
    dir,
    sshd,
    clientKey,
    clientKeyPub,
    knownHosts,
    ssh: (o = {}) => ({
      host: "127.0.0.1",
      port,
      user: "root",
      private_key: clientKey,
      become: false,
      connect_timeout_s: 10,
      command_timeout_s: 60,
      ...o,
    }),
    log: () => {
      try {
        return readFileSync(join(dir, "sshd.log"), "utf8");
      } catch {
        return "";
      }
    },
    stop: async () => {
      await stopSshd(sshd);
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}
