// Jump hosts (OpenSSH's ProxyJump) without OpenSSH: each hop is an ssh2 client whose forwarded
// channel (direct-tcpip, `forwardOut`) is the next hop's socket, so every hop gets its own
// handshake and host-key check, and the target's traffic is end-to-end encrypted through them.
// The pure part parses ProxyJump specs: `[user@]host[:port]`, `ssh://[user@]host[:port]`,
// `[v6addr]:port`, a comma-separated chain, or `none`.
import type { Client, ClientChannel } from "ssh2";
import { UnreachableError } from "../errors.ts";

/** One hop as written: what it does not say (user, port) comes from elsewhere. */
export interface JumpSpec {
  host: string;
  port?: number;
  user?: string;
}

const HOP = /^(?:ssh:\/\/)?(?:([a-z_][a-z0-9_.-]{0,31})@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?\/?$/;

/** Why a hop spec is not valid, or undefined when it is. */
export function jumpSpecProblem(s: string): string | undefined {
  const m = HOP.exec(s.trim());
  if (!m) return `"${s}" is not a jump host: expected [user@]host[:port] (or ssh://[user@]host[:port])`;
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) return `"${s}": the port must be between 1 and 65535`;
  return undefined;
}

/**
 * The hops of a ProxyJump value: a string (comma-separated, OpenSSH's form) or a list of strings,
 * first hop first; `none` (alone) means no jump. Throws on an invalid hop (validated at load).
 */
export function parseJumpSpecs(spec: string | readonly string[]): JumpSpec[] {
  const parts = (typeof spec === "string" ? spec.split(",") : spec.flatMap((s) => s.split(","))).map((s) => s.trim());
  if (parts.length === 1 && parts[0]!.toLowerCase() === "none") return [];
  return parts.map((p) => {
    const bad = jumpSpecProblem(p);
    if (bad) throw new Error(bad);
    const m = HOP.exec(p)!;
    const host = m[2]!.startsWith("[") ? m[2]!.slice(1, -1) : m[2]!;
    return {
      host,
      ...(m[3] !== undefined ? { port: Number(m[3]) } : {}),
      ...(m[1] !== undefined ? { user: m[1] } : {}),
    };
  });
}

/** The problems of a ProxyJump value as written in an inventory (each hop checked). */
export function jumpSpecsProblems(spec: string | readonly string[]): string[] {
  const parts = (typeof spec === "string" ? spec.split(",") : spec.flatMap((s) => s.split(","))).map((s) => s.trim());
  if (parts.length === 1 && parts[0]!.toLowerCase() === "none") return [];
  return parts.flatMap((p) => jumpSpecProblem(p) ?? []);
}

/**
 * Ask `via` (a connected hop) to open a TCP connection to host:port (a direct-tcpip channel):
 * the next hop's socket. Fails with UnreachableError naming the hop when it refuses or cannot
 * reach the target, or when nothing happens before the deadline.
 */
export function forwardThrough(
  via: Client,
  viaLabel: string,
  host: string,
  port: number,
  deadline: number,
  timeoutS: number,
): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new UnreachableError(
            `${viaLabel} did not open a connection to ${host}:${port} within ${timeoutS}s (connect_timeout_s)`,
          ),
        ),
      Math.max(1, deadline - Date.now()),
    );
    try {
      via.forwardOut("127.0.0.1", 0, host, port, (err, stream) => {
        clearTimeout(timer);
        if (err) {
          const why = err.message.replace(/^\(SSH\) Channel open failure: /, "");
          reject(
            new UnreachableError(
              `${viaLabel} could not open a connection to ${host}:${port}: ${why}` +
                (/prohibited/i.test(why) ? " (does its sshd allow TCP forwarding? AllowTcpForwarding)" : ""),
            ),
          );
          return;
        }
        resolve(stream);
      });
    } catch (e) {
      clearTimeout(timer);
      reject(
        new UnreachableError(`${viaLabel} closed before it could forward to ${host}:${port}: ${(e as Error).message}`),
      );
    }
  });
}
