// SSH connections (node-ssh over ssh2): the only code that talks to a host. `connect` opens one,
// directly or through jump hosts, and returns the Connection every job uses.
//
//   auth.ts       the credentials (a private key or the agent), read before any network traffic
//   tcp.ts        the first TCP connection, and socket errors as UnreachableError
//   handshake.ts  one SSH handshake on a stream: host key against known_hosts, authentication
//   jump.ts       ProxyJump specs, and the forwarded channel (direct-tcpip) that carries the next hop
//   session.ts    the open connection: scripts on stdin, the channel cap, timeouts, sudo -n
//   ssh-config.ts OpenSSH config files (read at inventory load: HostName, Port, User, ...)
import type { Client } from "ssh2";
import type { Duplex } from "node:stream";
import type { Connection, JumpHost, SshTarget } from "./types.ts";
import { loadCredentials } from "./auth.ts";
import { handshake } from "./handshake.ts";
import { forwardThrough, parseJumpSpecs } from "./jump.ts";
import { DEFAULT_MAX_CHANNELS, SshConnection } from "./session.ts";
import { tcpConnect } from "./tcp.ts";
import { UnreachableError } from "../errors.ts";

export { DEFAULT_MAX_CHANNELS, remoteCommandLine, sudoFailure, wrapScript } from "./session.ts";

export interface ConnectOptions {
  /** Inventory name of the host (used in messages and as Connection.host). */
  name: string;
  ssh: SshTarget & { proxy_jump?: string | string[] };
  knownHostsFile: string;
  acceptNewHostKeys: boolean;
  /** Concurrent channels on this connection (sshd's MaxSessions defaults to 10). Default 8. */
  maxChannels?: number;
}

/** The hops to go through: `ssh.jump` as the loader resolved it, else `proxy_jump` as written (user and port defaulted). */
export function jumpHosts(ssh: ConnectOptions["ssh"]): JumpHost[] {
  if (ssh.jump) return ssh.jump;
  if (ssh.proxy_jump === undefined) return [];
  return parseJumpSpecs(ssh.proxy_jump).map((h) => ({ host: h.host, port: h.port ?? 22, user: h.user ?? ssh.user }));
}

/**
 * Open an SSH connection to a host, through its jump hosts if it has any: each hop's host key is
 * verified against the same known_hosts file, with the same credentials; connect_timeout_s covers
 * the whole chain.
 */
export async function connect(opts: ConnectOptions): Promise<Connection> {
  const { name, ssh } = opts;
  const timeoutS = ssh.connect_timeout_s;
  const deadline = Date.now() + timeoutS * 1000;
  // Credentials first: a local problem is reported before any network traffic.
  const credentials = await loadCredentials(ssh.private_key, name);
  const hops = jumpHosts(ssh);
  const chain = [...hops, { host: ssh.host, port: ssh.port, user: ssh.user }];
  const label = (i: number) =>
    i < hops.length
      ? `jump host ${chain[i]!.user}@${chain[i]!.host}:${chain[i]!.port} (${i + 1} of ${hops.length} to ${name}): `
      : "";
  const clients: Client[] = [];
  try {
    for (let i = 0; i < chain.length; i++) {
      const t = chain[i]!;
      let sock: Duplex;
      if (i === 0) {
        try {
          sock = await tcpConnect(t.host, t.port, Math.max(1, deadline - Date.now()), timeoutS);
        } catch (e) {
          throw new UnreachableError(`${label(0)}${(e as Error).message}`);
        }
      } else {
        sock = await forwardThrough(
          clients[i - 1]!,
          label(i - 1).replace(/: $/, ""),
          t.host,
          t.port,
          deadline,
          timeoutS,
        );
      }
      clients.push(
        await handshake({
          sock,
          host: t.host,
          port: t.port,
          user: t.user,
          credentials,
          knownHostsFile: opts.knownHostsFile,
          acceptNewHostKeys: opts.acceptNewHostKeys,
          deadline,
          timeoutS,
          label: label(i),
        }),
      );
    }
  } catch (e) {
    for (const c of clients.reverse()) c.destroy();
    throw e;
  }
  const target = clients.pop()!;
  return new SshConnection(name, ssh, target, opts.maxChannels ?? DEFAULT_MAX_CHANNELS, clients);
}
