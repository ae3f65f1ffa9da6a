// The SSH connection against real private sshd processes: exec semantics, big payloads, speed,
// the channel cap, timeouts, unreachable hosts, authentication and the SSH agent.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { createHash, randomBytes } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { connect } from "../../src/connection/ssh.ts";
import type { Connection, ExecResult } from "../../src/connection/types.ts";
import { HostFailure, UnreachableError } from "../../src/errors.ts";
import { ensureKeyPair } from "../../src/lab/sshd.ts";
import { freePort } from "../helpers/ports.ts";
import { pidAlive, startTestSshd, waitFor, type TestSshd } from "./setup.ts";

let lab: TestSshd;

/** A script that prints its start and end time (ns) around a sleep. */
const overlapScript = (sleepS: number) => `date +%s%N; sleep ${sleepS}; date +%s%N`;

/**
 * A script that, once started, waits until `n` scripts of its group have started (or 20 s): with a
 * cap of at least `n` channels the group is certain to overlap `n` deep however slowly the host
 * starts shells; below it the scripts time out one wave at a time and overlap less.
 */
const barrierScript = (dir: string, n: number) =>
  `date +%s%N; mkdir -p ${dir}; : > ${dir}/$$; ` +
  `for i in $(seq 200); do [ "$(ls ${dir} | wc -l)" -ge ${n} ] && break; sleep 0.1; done; date +%s%N`;

/** The most scripts that were running at the same instant, from their printed start/end times. */
function peakOverlap(rs: ExecResult[]): number {
  const ev: [bigint, number][] = [];
  for (const r of rs) {
    const [a, b] = r.stdout
      .trim()
      .split("\n")
      .map((x) => BigInt(x));
    ev.push([a!, 1], [b!, -1]);
  }
  ev.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] - y[1]));
  let cur = 0;
  let peak = 0;
  for (const [, d] of ev) peak = Math.max(peak, (cur += d));
  return peak;
}
let conn: Connection;
let connectMs: number;

beforeAll(async () => {
  lab = await startTestSshd("ssh");
  const t0 = performance.now();
  conn = await connect({ name: "h1", ssh: lab.ssh(), knownHostsFile: lab.knownHosts, acceptNewHostKeys: false });
  connectMs = performance.now() - t0;
  console.log(`[timing] connect (TCP + handshake + host key check + auth): ${connectMs.toFixed(1)} ms`);
});

afterAll(async () => {
  await conn?.close();
  await lab?.stop();
});

describe("exec", () => {
  it("returns stdout, stderr and the exit code, untrimmed and UTF-8 intact", async () => {
    const r = await conn.exec("echo out\necho err >&2\nprintf 'h\\303\\251llo \\342\\234\\223\\n\\n'\nexit 3");
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("out\nhéllo ✓\n\n");
    expect(r.stderr).toBe("err\n");
    expect(r.durationMs).toBeGreaterThan(0);
    expect(conn.host).toBe("h1");
  });

  it("runs with LC_ALL=C as the login user, with stdin at /dev/null (commands cannot eat the script)", async () => {
    const r = await conn.exec('echo "lc=$LC_ALL"\ncat\nread -r x || echo "read got EOF"\nid -un\necho "still here"');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("lc=C\nread got EOF\nroot\nstill here\n");
  });

  it("a script with a syntax error runs not at all (parsed whole before it runs)", async () => {
    const marker = join(lab.dir, "should-not-exist");
    const r = await conn.exec(`touch ${marker}\necho "unterminated`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unexpected EOF/);
    expect(() => readFileSync(marker)).toThrow();
  });

  it("keeps the script off every command line (nothing in /proc/*/cmdline)", async () => {
    // The literal below travels in the script; the needle is built at run time so that the
    // scanning shell holds it only in memory. Only builtins run: no child has it in its argv.
    const script = [
      "# SECRET_42_TOKEN (the literal that must not show up)",
      'needle="SECRET_$((6*7))_TOKEN"; found=0; boot=0',
      "for f in /proc/[0-9]*/cmdline; do",
      "  args=(); mapfile -d '' args < \"$f\" 2>/dev/null || continue",
      '  line="${args[*]}"',
      '  [[ $line == *"$needle"* ]] && found=$((found+1))',
      '  [[ $line == *"eval \\"\\$s\\""* ]] && boot=$((boot+1))',
      "done",
      'echo "found=$found boot=$boot"',
    ].join("\n");
    const r = await conn.exec(script);
    expect(r.code).toBe(0);
    // boot>=1 proves the scanner sees our own bootstrap command line
    expect(r.stdout).toMatch(/^found=0 boot=[1-9]\d*\n$/);
  });

  it("round-trips a ~5 MB stdin payload intact (sha256) and a 5 MB stdout", async () => {
    const data = randomBytes(3_900_000);
    const b64 = data.toString("base64").replace(/.{76}/g, "$&\n");
    const want = createHash("sha256").update(data).digest("hex");
    const script = `set -e\nbase64 -d > "$HOME/.cep-payload.bin" <<'CEP_EOF'\n${b64}\nCEP_EOF\nsha256sum < "$HOME/.cep-payload.bin" | cut -d' ' -f1\nrm -f "$HOME/.cep-payload.bin"\n`;
    expect(script.length).toBeGreaterThan(5_000_000);
    const t0 = performance.now();
    const r = await conn.exec(script);
    const up = performance.now() - t0;
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(want);

    const t1 = performance.now();
    const back = await conn.exec(`cat <<'CEP_EOF'\n${b64}\nCEP_EOF\n`);
    const down = performance.now() - t1;
    expect(back.code).toBe(0);
    expect(createHash("sha256").update(back.stdout).digest("hex")).toBe(
      createHash("sha256").update(`${b64}\n`).digest("hex"),
    );
    console.log(
      `[timing] 5 MB script up + sha256: ${up.toFixed(0)} ms; 5 MB up and echoed back: ${down.toFixed(0)} ms`,
    );
  });

  // Speed against OpenSSH is measured by `npm run bench`, side by side; tests only check behaviour.
  it("runs 20 sequential commands on one connection, each with its own output", async () => {
    for (let i = 0; i < 20; i++) {
      const r = await conn.exec(`echo ${i}`);
      expect(r.stdout).toBe(`${i}\n`);
      expect(r.code).toBe(0);
    }
  });

  it("16 parallel execs on one connection all succeed, at most 8 channels at once", async () => {
    const t0 = performance.now();
    const rs = await Promise.all(Array.from({ length: 16 }, () => conn.exec(overlapScript(0.5))));
    const ms = performance.now() - t0;
    expect(rs.map((r) => r.code)).toEqual(Array(16).fill(0));
    const peak = peakOverlap(rs);
    console.log(`[timing] 16 parallel execs (sleep 0.5 each, cap 8): ${ms.toFixed(0)} ms, peak concurrency ${peak}`);
    expect(peak).toBeLessThanOrEqual(8);
    expect(peak).toBeGreaterThanOrEqual(2);
    expect(ms).toBeGreaterThanOrEqual(1000); // at least two waves
  });

  it("maxChannels raises or lowers the cap", async () => {
    const barrier = join(mkdtempSync(join(tmpdir(), "cep-barrier-")), "started");
    const wide = await connect({
      name: "h1",
      ssh: lab.ssh(),
      knownHostsFile: lab.knownHosts,
      acceptNewHostKeys: false,
      maxChannels: 16,
    });
    const narrow = await connect({
      name: "h1",
      ssh: lab.ssh(),
      knownHostsFile: lab.knownHosts,
      acceptNewHostKeys: false,
      maxChannels: 2,
    });
    try {
      const [w, n] = await Promise.all([
        Promise.all(Array.from({ length: 16 }, () => wide.exec(barrierScript(barrier, 9)))),
        Promise.all(Array.from({ length: 6 }, () => narrow.exec(overlapScript(0.3)))),
      ]);
      expect([...w, ...n].every((r) => r.code === 0)).toBe(true);
      expect(peakOverlap(w)).toBeGreaterThan(8);
      expect(peakOverlap(n)).toBeLessThanOrEqual(2);
    } finally {
      await wide.close();
      await narrow.close();
    }
  });

  it("counts every remote command, failed ones included", async () => {
    const c = await connect({ name: "h1", ssh: lab.ssh(), knownHostsFile: lab.knownHosts, acceptNewHostKeys: false });
    try {
      expect(c.commands).toBe(0);
      await c.exec("true");
      await c.exec("exit 7");
      await c.exec("sleep 5", { timeoutMs: 200 }).catch(() => undefined);
      await Promise.all([c.exec("true"), c.exec("true")]);
      expect(c.commands).toBe(5);
    } finally {
      await c.close();
    }
    await expect(c.exec("true")).rejects.toThrow(HostFailure);
    await expect(c.exec("true")).rejects.toThrow(/connection to h1 .* was closed/);
  });

  it("a command past its timeout is killed and fails the host with a clear message", async () => {
    const pidFile = join(lab.dir, "sleeper.pid");
    const t0 = performance.now();
    // Long enough for root's shell start on a loaded machine (its .bashrc runs pyenv) to reach `sleep`.
    const err = await conn.exec(`sleep 30 & echo $! > ${pidFile}; wait`, { timeoutMs: 2500 }).catch((e) => e);
    const ms = performance.now() - t0;
    expect(err).toBeInstanceOf(HostFailure);
    expect(err.message).toMatch(/command timed out after 2.5s on host h1 \(root@127\.0\.0\.1:\d+\) and was killed/);
    expect(ms).toBeLessThan(6000);
    const pid = Number(readFileSync(pidFile, "utf8"));
    expect(await waitFor(() => !pidAlive(pid), 5000)).toBe(true); // the remote process is gone too
    // the connection stays usable, and command_timeout_s is the default
    expect((await conn.exec("echo ok")).stdout).toBe("ok\n");
    const c = await connect({
      name: "h1",
      ssh: lab.ssh({ command_timeout_s: 0.5 }),
      knownHostsFile: lab.knownHosts,
      acceptNewHostKeys: false,
    });
    try {
      await expect(c.exec("sleep 10")).rejects.toThrow(/timed out after 500ms/);
    } finally {
      await c.close();
    }
  });
});

describe("connect failures", () => {
  it("a closed port is UnreachableError, quickly", async () => {
    const port = await freePort();
    const t0 = performance.now();
    const err = await connect({
      name: "h1",
      ssh: lab.ssh({ port }),
      knownHostsFile: lab.knownHosts,
      acceptNewHostKeys: false,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect(err.message).toBe(`connection refused by 127.0.0.1:${port}: is sshd running and listening on port ${port}?`);
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it("a host name that does not resolve is UnreachableError", async () => {
    const err = await connect({
      name: "h1",
      ssh: lab.ssh({ host: "no-such-host.invalid", connect_timeout_s: 3 }),
      knownHostsFile: lab.knownHosts,
      acceptNewHostKeys: false,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect(err.message).toMatch(/no-such-host\.invalid/);
  });

  it("a server that never speaks SSH times out after connect_timeout_s as UnreachableError", async () => {
    const sockets: Socket[] = [];
    const server: Server = createServer((s) => sockets.push(s));
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
    try {
      const t0 = performance.now();
      const err = await connect({
        name: "h1",
        ssh: lab.ssh({ port, connect_timeout_s: 1 }),
        knownHostsFile: lab.knownHosts,
        acceptNewHostKeys: false,
      }).catch((e) => e);
      const ms = performance.now() - t0;
      expect(err).toBeInstanceOf(UnreachableError);
      expect(err.message).toMatch(/did not complete the SSH handshake within 1s/);
      expect(ms).toBeGreaterThan(900);
      expect(ms).toBeLessThan(3000);
    } finally {
      sockets.forEach((s) => s.destroy());
      server.close();
    }
  });

  it("a key the server does not accept is HostFailure: authentication failed", async () => {
    const other = join(lab.dir, "other_key");
    await ensureKeyPair(other);
    const err = await connect({
      name: "h1",
      ssh: lab.ssh({ private_key: other }),
      knownHostsFile: lab.knownHosts,
      acceptNewHostKeys: false,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(HostFailure);
    expect(err.message).toMatch(
      new RegExp(`^authentication failed for root@127\\.0\\.0\\.1:${lab.sshd.port} \\(tried private key `),
    );
  });

  it("an unreadable or encrypted private key is a clear HostFailure before any connection", async () => {
    const missing = await connect({
      name: "h1",
      ssh: lab.ssh({ private_key: join(lab.dir, "nope") }),
      knownHostsFile: lab.knownHosts,
      acceptNewHostKeys: false,
    }).catch((e) => e);
    expect(missing).toBeInstanceOf(HostFailure);
    expect(missing.message).toMatch(/cannot read private key .*nope for host h1/);
    const enc = join(lab.dir, "enc_key");
    await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "s3cret-pass", "-f", enc]);
    const encErr = await connect({
      name: "h1",
      ssh: lab.ssh({ private_key: enc }),
      knownHostsFile: lab.knownHosts,
      acceptNewHostKeys: false,
    }).catch((e) => e);
    expect(encErr).toBeInstanceOf(HostFailure);
    expect(encErr.message).toMatch(/cannot use private key .*enc_key for host h1: .*passphrase/);
  });
});

describe("SSH agent", () => {
  it("authenticates with the agent's keys when no private_key is configured", async () => {
    const sock = join(lab.dir, "agent.sock");
    const { stdout } = await execa("ssh-agent", ["-s", "-a", sock]);
    const pid = Number(/SSH_AGENT_PID=(\d+)/.exec(stdout)?.[1]);
    expect(pid).toBeGreaterThan(0);
    const saved = process.env.SSH_AUTH_SOCK;
    try {
      await execa("ssh-add", [lab.clientKey], { env: { SSH_AUTH_SOCK: sock } });
      process.env.SSH_AUTH_SOCK = sock;
      const { private_key: _, ...noKey } = lab.ssh();
      const c = await connect({ name: "h1", ssh: noKey, knownHostsFile: lab.knownHosts, acceptNewHostKeys: false });
      try {
        expect((await c.exec("echo via-agent")).stdout).toBe("via-agent\n");
      } finally {
        await c.close();
      }
      delete process.env.SSH_AUTH_SOCK;
      const err = await connect({
        name: "h1",
        ssh: noKey,
        knownHostsFile: lab.knownHosts,
        acceptNewHostKeys: false,
      }).catch((e) => e);
      expect(err).toBeInstanceOf(HostFailure);
      expect(err.message).toMatch(/no ssh.private_key and SSH_AUTH_SOCK is not set/);
    } finally {
      if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
      else process.env.SSH_AUTH_SOCK = saved;
      process.kill(pid, "SIGTERM");
      rmSync(sock, { force: true });
    }
  });
});

describe("connection loss", () => {
  it("a command whose server goes away fails with HostFailure, later execs too", async () => {
    const other = await startTestSshd("ssh-loss");
    try {
      const c = await connect({
        name: "h2",
        ssh: other.ssh(),
        knownHostsFile: other.knownHosts,
        acceptNewHostKeys: false,
      });
      const running = c.exec("sleep 20").catch((e) => e);
      await new Promise((r) => setTimeout(r, 300));
      // kill the sshd and its session processes (all are children of this sshd's process group)
      const pid = Number(readFileSync(other.sshd.pidFile, "utf8"));
      await execa("pkill", ["-KILL", "-P", String(pid)]).catch(() => undefined);
      const err = await running;
      expect(err).toBeInstanceOf(HostFailure);
      expect(err.message).toMatch(/h2/);
      await expect(c.exec("true")).rejects.toThrow(HostFailure);
      await c.close();
    } finally {
      await other.stop();
    }
  });
});
