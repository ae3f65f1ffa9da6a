// The first TCP connection of an SSH connection (to the host, or to its first jump host), and the
// socket-level errors as UnreachableError messages an operator can act on.
import { connect as netConnect, type Socket } from "node:net";
import { UnreachableError } from "../errors.ts";

/** Map a socket-level error to UnreachableError with a message an operator can act on. */
export function unreachable(e: NodeJS.ErrnoException, host: string, port: number, timeoutS: number): UnreachableError {
  const addr = `${host}:${port}`;
  switch (e.code) {
    case "ECONNREFUSED":
      return new UnreachableError(`connection refused by ${addr}: is sshd running and listening on port ${port}?`);
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
    case "EAI_FAIL":
      return new UnreachableError(`cannot resolve host name "${host}" (${e.code})`);
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "EHOSTDOWN":
    case "ENETDOWN":
      return new UnreachableError(`${addr} is unreachable (${e.code})`);
    case "ETIMEDOUT":
      return new UnreachableError(`no answer from ${addr} within ${timeoutS}s (connect_timeout_s)`);
    case "ECONNRESET":
    case "EPIPE":
      return new UnreachableError(`${addr} reset the connection during the SSH handshake`);
    default:
      return new UnreachableError(`cannot connect to ${addr}: ${e.message}`);
  }
}

/** A TCP connection to host:port within timeoutMs, or an UnreachableError. */
export function tcpConnect(host: string, port: number, timeoutMs: number, timeoutS: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = netConnect({ host, port, noDelay: true });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(unreachable(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" }), host, port, timeoutS));
    }, timeoutMs);
    sock.once("connect", () => {
      clearTimeout(timer);
      resolve(sock);
    });
    sock.once("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      sock.destroy();
      reject(unreachable(e, host, port, timeoutS));
    });
  });
}
