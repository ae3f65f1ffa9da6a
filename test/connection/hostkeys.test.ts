// Host-key checking end to end, against real sshd processes and files written by ssh-keygen.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { connect, type ConnectOptions } from "../../src/connection/ssh.ts";
import { HostKeyError } from "../../src/errors.ts";
import { ensureKeyPair } from "../../src/lab/sshd.ts";
import { freePort } from "../helpers/ports.ts";
import { startTestSshd, type TestSshd } from "./setup.ts";

let work: string;
let lab: TestSshd;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "cep-hk-"));
  lab = await startTestSshd("hk");
});
afterAll(async () => {
  await lab?.stop();
  rmSync(work, { recursive: true, force: true });
});

const opts = (knownHostsFile: string, acceptNewHostKeys: boolean, s: TestSshd = lab): ConnectOptions => ({
  name: "h1",
  ssh: s.ssh(),
  knownHostsFile,
  acceptNewHostKeys,
});

async function roundTrip(o: ConnectOptions): Promise<string> {
  const c = await connect(o);
  try {
    return (await c.exec("echo ok")).stdout;
  } finally {
    await c.close();
  }
}

describe("host keys", () => {
  it("an unknown host fails with a clear HostKeyError and nothing is written", async () => {
    const file = join(work, "unknown_kh");
    const err = await connect(opts(file, false)).catch((e) => e);
    expect(err).toBeInstanceOf(HostKeyError);
    expect(err.message).toMatch(
      new RegExp(
        `^host key for \\[127\\.0\\.0\\.1\\]:${lab.sshd.port} \\(ssh-ed25519 SHA256:[A-Za-z0-9+/]+\\) is not in ${file}; run with --accept-new-host-keys to record it$`,
      ),
    );
    expect(() => statSync(file)).toThrow();
  });

  it("with accept, the key is recorded (0600) and a later connect without accept succeeds", async () => {
    const file = join(work, "accept_kh");
    expect(await roundTrip(opts(file, true))).toBe("ok\n");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const [type, b64] = lab.sshd.hostKeyPub.split(" ");
    expect(readFileSync(file, "utf8")).toBe(`[127.0.0.1]:${lab.sshd.port} ${type} ${b64}\n`);
    expect(await roundTrip(opts(file, false))).toBe("ok\n");
    expect(readFileSync(file, "utf8").split("\n").filter(Boolean)).toHaveLength(1);
  });

  it("parallel connects with accept record the host once", async () => {
    const file = join(work, "parallel_kh");
    const outs = await Promise.all(Array.from({ length: 6 }, () => roundTrip(opts(file, true))));
    expect(outs).toEqual(Array(6).fill("ok\n"));
    expect(readFileSync(file, "utf8").split("\n").filter(Boolean)).toHaveLength(1);
  });

  it("a hashed entry written by ssh-keygen -H is honoured", async () => {
    const file = join(work, "hashed_kh");
    writeFileSync(file, `[127.0.0.1]:${lab.sshd.port} ${lab.sshd.hostKeyPub}\n`, { mode: 0o600 });
    await execa("ssh-keygen", ["-H", "-f", file]);
    const text = readFileSync(file, "utf8");
    expect(text).toMatch(/^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+ ssh-ed25519 /);
    expect(text).not.toContain("127.0.0.1");
    expect(await roundTrip(opts(file, false))).toBe("ok\n");
  });

  it("an edited (different) key for the host fails even with accept, and the file is left alone", async () => {
    const file = join(work, "edited_kh");
    const other = await ensureKeyPair(join(work, "impostor"));
    const before = `# fleet keys\n[127.0.0.1]:${lab.sshd.port} ${other}\n`;
    writeFileSync(file, before, { mode: 0o600 });
    for (const accept of [false, true]) {
      const err = await connect(opts(file, accept)).catch((e) => e);
      expect(err).toBeInstanceOf(HostKeyError);
      expect(err.message).toMatch(
        new RegExp(`^host key for \\[127\\.0\\.0\\.1\\]:${lab.sshd.port} CHANGED: ${file} line 2 `),
      );
      expect(err.message).toContain("possible man-in-the-middle");
    }
    expect(readFileSync(file, "utf8")).toBe(before);
  });

  it("a real server replaced by another (new host key, same port) fails even with accept", async () => {
    const port = await freePort();
    const file = join(work, "replaced_kh");
    const clientKey = lab.clientKey;
    const first = await startTestSshd("hk-a", { port, clientKey });
    try {
      expect(await roundTrip(opts(file, true, first))).toBe("ok\n");
    } finally {
      await first.stop();
    }
    const second = await startTestSshd("hk-b", { port, clientKey });
    try {
      expect(second.sshd.hostKeyPub).not.toBe(first.sshd.hostKeyPub);
      const before = readFileSync(file, "utf8");
      const err = await connect(opts(file, true, second)).catch((e) => e);
      expect(err).toBeInstanceOf(HostKeyError);
      expect(err.message).toMatch(/CHANGED/);
      expect(readFileSync(file, "utf8")).toBe(before);
    } finally {
      await second.stop();
    }
  });

  it("a host known only by another key type is offered that type first, and another type is a CHANGED key", async () => {
    // The lab sshd has only an ed25519 key, so prove it with an RSA-only known_hosts: the server
    // cannot offer RSA and presents ed25519. OpenSSH calls that a changed key, and so do we: with
    // --accept-new-host-keys a man in the middle would only have to not offer the recorded type.
    const file = join(work, "rsa_kh");
    const rsaKey = join(work, "rsa_host");
    await execa("ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", rsaKey]);
    const before = `[127.0.0.1]:${lab.sshd.port} ${readFileSync(`${rsaKey}.pub`, "utf8").trim()}\n`;
    writeFileSync(file, before, { mode: 0o600 });
    for (const accept of [false, true]) {
      const err = await connect(opts(file, accept)).catch((e) => e);
      expect(err).toBeInstanceOf(HostKeyError);
      expect(err.message).toMatch(
        new RegExp(`^host key for \\[127\\.0\\.0\\.1\\]:${lab.sshd.port} CHANGED: ${file} line 1 has ssh-rsa `),
      );
      expect(err.message).toContain("the server presented ssh-ed25519");
    }
    expect(readFileSync(file, "utf8")).toBe(before);
  });
});
