// One SSH connection to a host once it is open: the Connection every job uses. Every remote command
// is a bash script sent on the channel's STDIN; the remote command line is a fixed bootstrap that
// never carries data, so no secret or payload appears in `ps`:
//
//   [sudo -n -H --] env LC_ALL=C timeout -k 2 <T> bash -c 's=$(cat) && exec </dev/null && eval "$s"'
//
// Why not plain `bash -s`: bash reads a script from a pipe ONE BYTE per read(2) (it must not read
// past a command that itself reads stdin), which costs ~1.2 s for a 5 MB script, against ~0.1 s for
// `$(cat)`. The script is wrapped in `{ … }` so bash parses all of it before running any of it: a
// script cut short in transit fails with a syntax error instead of running its first half. Its
// commands get /dev/null as stdin (they can never swallow the rest of the script).
//
// Timeouts: the client's timer fails the exec at T and closes the channel, but closing a channel
// does not stop remote processes, and sshd refuses "signal" requests in common setups ("session
// signalling requires privilege separation" for root on OpenSSH 9.2). So the remote `timeout`
// (same T, started later than the client's timer, as root under sudo) kills the script's whole
// process group; the client also sends TERM/KILL where sshd honours them.
import type { Client, ClientChannel } from "ssh2";
import { constants as osConstants } from "node:os";
import { performance } from "node:perf_hooks";
import { HostFailure } from "../errors.ts";
import type { Connection, ExecOptions, ExecResult, SshTarget } from "./types.ts";
import { formatMs } from "../format.ts";

export const DEFAULT_MAX_CHANNELS = 8;
const BOOTSTRAP = `bash -c 's=$(cat) && exec </dev/null && eval "$s"'`;

/** The remote command line for an exec: fixed text, never data. */
export function remoteCommandLine(opts: { sudo: boolean; timeoutMs: number }): string {
  const t =
    Number.isFinite(opts.timeoutMs) && opts.timeoutMs > 0
      ? `timeout -k 2 ${Math.max(0.001, opts.timeoutMs / 1000).toFixed(3)} `
      : "";
  const inner = `env LC_ALL=C ${t}${BOOTSTRAP}`;
  return opts.sudo ? `sudo -n -H -- ${inner}` : inner;
}

/** What goes on stdin: the script inside `{ … }`, so it is parsed whole before it runs. */
export function wrapScript(script: string): string {
  return `{\n${script}\n}\n`;
}

function signalNumber(name: string | undefined): number {
  if (!name) return 0;
  const n = (osConstants.signals as Record<string, number>)[name.startsWith("SIG") ? name : `SIG${name}`];
  return n ?? 0;
}

/** A counting semaphore: at most `n` holders; waiters are served in order. */
class Semaphore {
  #free: number;
  #waiters: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  async acquire(): Promise<() => void> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((r) => this.#waiters.push(r));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next) next();
      else this.#free++;
    };
  }
}

export class SshConnection implements Connection {
  readonly host: string;
  #commands = 0;
  #closed = false;
  #closedByUs = false;
  #lastError: Error | undefined;
  readonly #sem: Semaphore;
  readonly #addr: string;

  constructor(
    name: string,
    private readonly ssh: SshTarget,
    private readonly client: Client,
    maxChannels: number,
    /** The jump hosts' clients, first hop first: closed after the target, in reverse. */
    private readonly hops: Client[] = [],
  ) {
    this.host = name;
    this.#addr = `${ssh.user}@${ssh.host}:${ssh.port}`;
    this.#sem = new Semaphore(Math.max(1, Math.floor(maxChannels)));
    // After the handshake nobody else listens for errors: without this an ECONNRESET would crash.
    client.on("error", (e: Error) => {
      this.#lastError = e;
    });
    client.on("close", () => {
      this.#closed = true;
      // The hops only carried this connection: they go with it.
      for (const h of [...this.hops].reverse()) h.end();
    });
    for (const h of hops) h.on("error", () => undefined);
  }

  get commands(): number {
    return this.#commands;
  }

  #closedError(): HostFailure {
    return new HostFailure(
      this.#closedByUs
        ? `connection to ${this.host} (${this.#addr}) was closed`
        : `connection to ${this.host} (${this.#addr}) was lost${this.#lastError ? `: ${this.#lastError.message}` : ""}`,
    );
  }

  async exec(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.#commands++;
    if (this.#closed) throw this.#closedError();
    const sudo = (opts.sudo ?? this.ssh.become) && this.ssh.user !== "root";
    const timeoutMs = opts.timeoutMs ?? this.ssh.command_timeout_s * 1000;
    const release = await this.#sem.acquire();
    if (this.#closed) {
      release();
      throw this.#closedError();
    }
    return this.#run(script, sudo, timeoutMs, release);
  }

  #run(script: string, sudo: boolean, timeoutMs: number, release: () => void): Promise<ExecResult> {
    const cmd = remoteCommandLine({ sudo, timeoutMs });
    const payload = Buffer.from(wrapScript(script), "utf8");
    return new Promise<ExecResult>((resolve, reject) => {
      const started = performance.now();
      let settled = false;
      let channel: ClientChannel | undefined;
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(e);
      };
      // setTimeout cannot wait longer than 2^31-1 ms (~24 days): beyond that, no client timer.
      const hasTimeout = Number.isFinite(timeoutMs) && timeoutMs > 0 && timeoutMs < 2 ** 31;
      const timeoutError = () =>
        new HostFailure(
          `command timed out after ${formatMs(timeoutMs)} on host ${this.host} (${this.#addr}) and was killed` +
            ` (raise ssh.command_timeout_s if it needs longer)`,
        );
      const timer = hasTimeout
        ? setTimeout(() => {
            fail(timeoutError());
            if (channel) killChannel(channel, release);
          }, timeoutMs)
        : undefined;

      const onChannel = (err: Error | undefined, ch: ClientChannel) => {
        if (err) {
          release();
          fail(
            this.#closed
              ? this.#closedError()
              : new HostFailure(`cannot start a command on ${this.host} (${this.#addr}): ${err.message}`),
          );
          return;
        }
        if (settled) {
          // Timed out while the channel was opening.
          killChannel(ch, release);
          return;
        }
        channel = ch;
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let code: number | null = null;
        let signal: string | undefined;
        ch.on("data", (b: Buffer) => out.push(b));
        ch.stderr.on("data", (b: Buffer) => errOut.push(b));
        ch.on("exit", (c: number | null, sig?: string) => {
          if (typeof c === "number") code = c;
          else signal = sig;
        });
        ch.on("error", (e: Error) => {
          this.#lastError = e;
        });
        ch.on("close", () => {
          release();
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          const durationMs = performance.now() - started;
          const stdout = Buffer.concat(out).toString("utf8");
          const stderr = Buffer.concat(errOut).toString("utf8");
          if (code === null && signal === undefined) {
            reject(
              this.#closed
                ? this.#closedError()
                : new HostFailure(
                    `a command on ${this.host} (${this.#addr}) ended without an exit status${stderr ? `: ${stderr.trim()}` : ""}`,
                  ),
            );
            return;
          }
          const exit = code ?? 128 + signalNumber(signal);
          if (hasTimeout && (exit === 124 || exit === 137) && durationMs >= timeoutMs) {
            // The remote `timeout` fired before our timer could (a busy event loop): same outcome.
            reject(timeoutError());
            return;
          }
          if (sudo) {
            const failure = sudoFailure(exit, stderr, this.ssh.user, this.host);
            if (failure) {
              reject(failure);
              return;
            }
          }
          resolve({ code: exit, stdout, stderr, durationMs });
        });
        // The Channel is a Writable with SSH-window backpressure: end() streams the whole payload
        // as the server's window allows, then sends EOF.
        ch.end(payload);
      };
      try {
        this.client.exec(cmd, onChannel);
      } catch {
        // ssh2 throws synchronously when the socket is already gone.
        release();
        this.#closed = true;
        fail(this.#closedError());
      }
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closedByUs = true;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.client.destroy();
        resolve();
      }, 2000);
      this.client.once("close", () => {
        clearTimeout(t);
        resolve();
      });
      this.client.end();
    });
    this.#closed = true;
    for (const h of [...this.hops].reverse()) h.destroy();
  }
}

/**
 * Send a signal request on a session channel. ssh2's public `channel.signal()` silently does
 * nothing once we have sent EOF (which we do right after the script), although the protocol allows
 * it and sshd honours it (killpg of the session); so we go to its protocol object when present.
 */
function sendSignal(ch: ClientChannel, name: string): void {
  const c = ch as unknown as {
    _client?: { _protocol?: { signal?: (id: number, sig: string) => void } };
    outgoing?: { id: number; state: string };
  };
  const proto = c._client?._protocol;
  const out = c.outgoing;
  try {
    if (proto && typeof proto.signal === "function" && out && (out.state === "open" || out.state === "eof"))
      proto.signal(out.id, name);
    else ch.signal(name);
  } catch {
    /* channel already gone */
  }
}

/** Ask the remote side to stop the command (TERM, then KILL), then close the channel. */
function killChannel(ch: ClientChannel, release: () => void): void {
  sendSignal(ch, "TERM");
  setTimeout(() => {
    sendSignal(ch, "KILL");
    try {
      ch.close();
    } catch {
      /* gone */
    }
    release();
  }, 300);
}

/** sudo -n's own failures (the script never ran) as a HostFailure an operator can act on. */
export function sudoFailure(code: number, stderr: string, user: string, host: string): HostFailure | undefined {
  if (
    code === 1 &&
    /^sudo: (a password is required|a terminal is required|sorry, you must have a tty|no tty present)/m.test(stderr)
  )
    return new HostFailure(
      `sudo requires a password for user ${user} on host ${host}; configure NOPASSWD for the provisioner or connect as root`,
    );
  if (code === 1 && /(is not in the sudoers file|is not allowed to execute|may not run sudo)/.test(stderr))
    return new HostFailure(
      `user ${user} may not run commands through sudo on host ${host} (${stderr.trim().split("\n")[0]}); grant it sudo with NOPASSWD or connect as root`,
    );
  if (code === 127 && /sudo: (command )?not found/.test(stderr))
    return new HostFailure(
      `sudo is not installed on host ${host}; install it or connect as root (ssh.become needs sudo)`,
    );
  return undefined;
}
