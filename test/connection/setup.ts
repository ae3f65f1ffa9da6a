// Shared fixtures for the connection tests: a private sshd in a temp dir and an SshConfig for it.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureKeyPair, startSshd, stopSshd, type Sshd } from "../../src/lab/sshd.ts";
import type { SshConfig } from "../../src/inventory/schema.ts";
import { freePort } from "../helpers/ports.ts";

export interface TestSshd {
  dir: string;
  sshd: Sshd;
  clientKey: string;
  clientKeyPub: string;
  /** known_hosts holding this sshd's key. */
  knownHosts: string;
  ssh(overrides?: Partial<SshConfig>): SshConfig;
  stop(): Promise<void>;
}

export async function startTestSshd(
  prefix: string,
  opts: { dir?: string; port?: number; clientKey?: string } = {},
): Promise<TestSshd> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), `cep-${prefix}-`));
  const clientKey = opts.clientKey ?? join(dir, "client_key");
  const clientKeyPub = await ensureKeyPair(clientKey, "cep-test-client");
  const port = opts.port ?? (await freePort());
  const sshd = await startSshd({ dir, port, clientKeyPub, user: "root" });
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
