// One SSH handshake on a stream (a TCP socket, or a channel forwarded by a jump host): the host
// key verified against known_hosts (the recorded key types offered first, as OpenSSH does), then
// authentication; every failure mapped to the error an operator can act on.
import { NodeSSH, type Config } from "node-ssh";
import type { Client } from "ssh2";
import type { Duplex } from "node:stream";
import { HostFailure, HostKeyError, UnreachableError } from "../errors.ts";
import type { Credentials } from "./auth.ts";
import {
  knownKeyTypes,
  parseKnownHosts,
  preferredHostKeyAlgorithms,
  readKnownHosts,
  verifyHostKey,
} from "./known_hosts.ts";
import { unreachable } from "./tcp.ts";

export interface HandshakeOptions {
  sock: Duplex;
  /** The name and port the host key is looked up by in known_hosts. */
  host: string;
  port: number;
  user: string;
  credentials: Credentials;
  knownHostsFile: string;
  acceptNewHostKeys: boolean;
  /** Epoch ms by which the handshake must be done (connect_timeout_s for the whole chain). */
  deadline: number;
  timeoutS: number;
  /** Put in front of every message: "" for the host itself, "jump host 203.0.113.5:22: " for a hop. */
  label: string;
}

/** Authenticate on `sock`; resolves the ssh2 client, or throws HostKeyError / HostFailure / UnreachableError. */
export async function handshake(o: HandshakeOptions): Promise<Client> {
  const addr = `${o.host}:${o.port}`;
  const tag = (m: string) => `${o.label}${m}`;
  let knownText: string;
  try {
    knownText = await readKnownHosts(o.knownHostsFile);
  } catch (e) {
    throw new HostKeyError(tag(`cannot read known_hosts file ${o.knownHostsFile}: ${(e as Error).message}`));
  }
  const algs = preferredHostKeyAlgorithms(knownKeyTypes(parseKnownHosts(knownText), o.host, o.port));

  let hostKeyError: Error | undefined;
  const config: Config = {
    sock: o.sock as Config["sock"],
    username: o.user,
    ...(o.credentials.privateKey !== undefined ? { privateKey: o.credentials.privateKey } : {}),
    ...(o.credentials.agent !== undefined ? { agent: o.credentials.agent } : {}),
    readyTimeout: Math.max(1000, o.deadline - Date.now()),
    keepaliveInterval: 15_000,
    keepaliveCountMax: 4,
    hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
      verifyHostKey({ file: o.knownHostsFile, host: o.host, port: o.port, key, acceptNew: o.acceptNewHostKeys }).then(
        () => verify(true),
        (e: Error) => {
          hostKeyError = new HostKeyError(
            tag(
              e instanceof HostKeyError
                ? e.message
                : `cannot check the host key of ${addr} against ${o.knownHostsFile}: ${e.message}`,
            ),
            // An unknown key leaves the host unreached (exit 4); a changed one fails it.
            e instanceof HostKeyError && e.unknown,
          );
          verify(false);
        },
      );
    },
    ...(algs
      ? { algorithms: { serverHostKey: algs as NonNullable<NonNullable<Config["algorithms"]>["serverHostKey"]> } }
      : {}),
  };

  const nodeSsh = new NodeSSH();
  try {
    await nodeSsh.connect(config);
  } catch (e) {
    o.sock.destroy();
    nodeSsh.dispose();
    if (hostKeyError) throw hostKeyError;
    const err = e as Error & { level?: string; code?: string };
    const msg = err.message;
    if (err.level === "client-authentication")
      throw new HostFailure(tag(`authentication failed for ${o.user}@${addr} (tried ${o.credentials.describe})`));
    if (err.level === "agent")
      throw new HostFailure(tag(`the SSH agent failed while authenticating ${o.user}@${addr}: ${msg}`));
    if (err.level === "client-timeout")
      throw new UnreachableError(
        tag(`${addr} did not complete the SSH handshake within ${o.timeoutS}s (connect_timeout_s)`),
      );
    if (err.level === "client-socket") {
      const u = unreachable(err, o.host, o.port, o.timeoutS);
      throw new UnreachableError(tag(u.message));
    }
    if (msg === "No response from server")
      throw new UnreachableError(tag(`${addr} closed the connection during the SSH handshake (is it an SSH server?)`));
    throw new UnreachableError(tag(`SSH handshake with ${addr} failed: ${msg}`));
  }
  const client = nodeSsh.connection;
  if (!client) throw new UnreachableError(tag(`${addr} closed the connection right after the SSH handshake`));
  return client;
}
