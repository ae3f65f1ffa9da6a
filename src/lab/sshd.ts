// A private sshd on loopback: its own config, host key, authorized keys and PID file, started
// with `/usr/sbin/sshd -f cfg` and stopped by its own PID. Root's login works when we are root.
import { execa } from "execa";
import { mkdirSync, writeFileSync, readFileSync, existsSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { userInfo } from "node:os";
import { pidFromFile, signal, waitGone } from "./process.ts";

export interface Sshd {
  dir: string;
  port: number;
  user: string;
  /** The host's public key line: "ssh-ed25519 AAAA...". */
  hostKeyPub: string;
  pidFile: string;
}

/** Generate an ed25519 key pair at `path` (and `path`.pub) unless it exists; returns the public line. */
export async function ensureKeyPair(path: string, comment = "cep-lab"): Promise<string> {
  if (!existsSync(path)) await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path]);
  return readFileSync(`${path}.pub`, "utf8").trim();
}

/**
 * Start (or reuse, if its PID is alive) an sshd in `dir` on 127.0.0.1:`port`, trusting `clientKeyPub`.
 * `logLevel` is sshd's (DEBUG1 logs every forwarded channel, `direct-tcpip`). `resolves` gives it
 * host names only it can resolve (its own /etc/hosts in a private mount namespace): a host behind
 * a bastion, reachable only through it.
 */
export async function startSshd(opts: {
  dir: string;
  port: number;
  clientKeyPub: string;
  user?: string;
  logLevel?: "ERROR" | "INFO" | "VERBOSE" | "DEBUG1";
  resolves?: Record<string, string>;
}): Promise<Sshd> {
  const { dir, port } = opts;
  const user = opts.user ?? userInfo().username;
  mkdirSync(join(dir, "authorized_keys"), { recursive: true });
  if (userInfo().uid === 0) mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const hostKey = join(dir, "ssh_host_ed25519_key");
  const hostKeyPub = await ensureKeyPair(hostKey, "cep-lab-host");
  chmodSync(hostKey, 0o600);
  writeFileSync(join(dir, "authorized_keys", user), `${opts.clientKeyPub}\n`, { mode: 0o600 });
  const pidFile = join(dir, "sshd.pid");
  const cfg = join(dir, "sshd_config");
  writeFileSync(
    cfg,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      `PidFile ${pidFile}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}/%u`,
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PubkeyAuthentication yes",
      "PermitRootLogin prohibit-password",
      "UsePAM no",
      "StrictModes no",
      "MaxStartups 100:30:200",
      "MaxSessions 20",
      "Subsystem sftp internal-sftp",
      `LogLevel ${opts.logLevel ?? "ERROR"}`,
      "",
    ].join("\n"),
  );
  if (sshdPid({ pidFile }) === undefined) {
    const log = join(dir, "sshd.log");
    if (opts.resolves) {
      const hosts = join(dir, "hosts");
      const extra = Object.entries(opts.resolves).map(([name, ip]) => `${ip} ${name}\n`);
      writeFileSync(hosts, `${readFileSync("/etc/hosts", "utf8")}\n${extra.join("")}`);
      // The daemon keeps the namespace (and its /etc/hosts) after unshare's shell is gone.
      await execa("unshare", [
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        'mount --bind "$1" /etc/hosts && exec /usr/sbin/sshd -f "$2" -E "$3"',
        "sh",
        hosts,
        cfg,
        log,
      ]);
    } else await execa("/usr/sbin/sshd", ["-f", cfg, "-E", log]);
    // sshd daemonizes after binding; wait for the PID file so callers can connect at once.
    for (let i = 0; i < 100 && sshdPid({ pidFile }) === undefined; i++) await new Promise((r) => setTimeout(r, 20));
  }
  return { dir, port, user, hostKeyPub, pidFile };
}

export function sshdPid(s: Pick<Sshd, "pidFile">): number | undefined {
  return pidFromFile(s.pidFile);
}

/** Stop the sshd by its own PID (its open sessions end with it). */
export async function stopSshd(s: Pick<Sshd, "pidFile">): Promise<void> {
  const pid = sshdPid(s);
  if (pid === undefined) return;
  signal(pid, "SIGTERM");
  await waitGone([pid], 2_000);
}
