// become (sudo -n) against real users: one whose sudo wants a password (must fail fast and
// clearly, never hang), one with NOPASSWD (must become root), one not in sudoers at all.
// Needs root (useradd, /etc/sudoers.d); users, sudoers files and processes are removed afterwards.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { chmodSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { userInfo } from "node:os";
import { createHash, randomBytes } from "node:crypto";
import { execa } from "execa";
import { connect } from "../../src/connection/ssh.ts";
import type { Connection } from "../../src/connection/types.ts";
import { HostFailure } from "../../src/errors.ts";
import { pidAlive, startTestSshd, waitFor, type TestSshd } from "./setup.ts";

const isRoot = userInfo().uid === 0;
const tag = randomBytes(3).toString("hex");
const users = { pw: `cep_pw_${tag}`, nopw: `cep_np_${tag}`, none: `cep_ns_${tag}` };
const sudoers = { pw: `/etc/sudoers.d/cep-test-pw-${tag}`, nopw: `/etc/sudoers.d/cep-test-np-${tag}` };
let lab: TestSshd;

async function addUser(name: string): Promise<void> {
  await execa("useradd", ["--create-home", "--shell", "/bin/bash", name]);
  // sshd without PAM refuses accounts whose password is locked ("!"); "*" means "no password".
  await execa("usermod", ["-p", "*", name]);
  writeFileSync(join(lab.dir, "authorized_keys", name), `${lab.clientKeyPub}\n`, { mode: 0o644 });
}

async function addSudoers(file: string, line: string): Promise<void> {
  writeFileSync(`${file}.tmp`, `${line}\n`, { mode: 0o440 });
  await execa("visudo", ["-cf", `${file}.tmp`]);
  await execa("mv", [`${file}.tmp`, file]);
}

describe.skipIf(!isRoot)("become with sudo -n", () => {
  beforeAll(async () => {
    lab = await startTestSshd("become");
    // sshd reads authorized_keys as the user: let the new users traverse the temp dir
    chmodSync(lab.dir, 0o755);
    chmodSync(join(lab.dir, "authorized_keys"), 0o755);
    for (const u of Object.values(users)) await addUser(u);
    await addSudoers(sudoers.pw, `${users.pw} ALL=(ALL:ALL) ALL`);
    await addSudoers(sudoers.nopw, `${users.nopw} ALL=(ALL:ALL) NOPASSWD: ALL`);
  });

  afterAll(async () => {
    for (const f of Object.values(sudoers)) {
      rmSync(f, { force: true });
      rmSync(`${f}.tmp`, { force: true });
    }
    await lab?.stop();
    for (const u of Object.values(users)) await execa("userdel", ["--remove", u], { reject: false });
  });

  const open = (user: string, become = true): Promise<Connection> =>
    connect({
      name: "sudohost",
      ssh: lab.ssh({ user, become }),
      knownHostsFile: lab.knownHosts,
      acceptNewHostKeys: false,
    });

  it("a sudo that wants a password fails fast with a clear message (never hangs)", async () => {
    const c = await open(users.pw);
    try {
      // the login itself works: the failure below is sudo's
      expect((await c.exec("id -un", { sudo: false })).stdout).toBe(`${users.pw}\n`);
      const t0 = performance.now();
      const err = await c.exec("id -u").catch((e) => e);
      const ms = performance.now() - t0;
      expect(err).toBeInstanceOf(HostFailure);
      expect(err.message).toBe(
        `sudo requires a password for user ${users.pw} on host sudohost; configure NOPASSWD for the provisioner or connect as root`,
      );
      expect(ms).toBeLessThan(5000);
      expect(c.commands).toBe(2);
    } finally {
      await c.close();
    }
  });

  it("a user outside sudoers fails the same clear way (sudo -n asks for the password before it checks sudoers)", async () => {
    const c = await open(users.none);
    try {
      const err = await c.exec("id -u").catch((e) => e);
      expect(err).toBeInstanceOf(HostFailure);
      expect(err.message).toBe(
        `sudo requires a password for user ${users.none} on host sudohost; configure NOPASSWD for the provisioner or connect as root`,
      );
    } finally {
      await c.close();
    }
  });

  it("NOPASSWD sudo becomes root, with root's HOME and LC_ALL=C; sudo:false stays the login user", async () => {
    const c = await open(users.nopw);
    try {
      const r = await c.exec('id -u\necho "$HOME $LC_ALL"');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe("0\n/root C\n");
      expect(r.stderr).toBe("");
      expect((await c.exec("id -u", { sudo: false })).stdout).not.toBe("0\n");
      expect((await c.exec("exit 5")).code).toBe(5);
    } finally {
      await c.close();
    }
  });

  it("timing: 20 sequential execs for a user with a stock ~/.bashrc, without and with sudo", async () => {
    const t0 = performance.now();
    const c = await open(users.nopw);
    const connectMs = performance.now() - t0;
    try {
      await c.exec("true");
      const time = async (sudo: boolean) => {
        const a = performance.now();
        for (let i = 0; i < 20; i++) expect((await c.exec(`echo ${i}`, { sudo })).stdout).toBe(`${i}\n`);
        return performance.now() - a;
      };
      const plain = await time(false);
      const sudo = await time(true);
      console.log(
        `[timing] connect ${connectMs.toFixed(1)} ms; 20 sequential execs: ${plain.toFixed(0)} ms plain ` +
          `(${(plain / 20).toFixed(1)} ms each), ${sudo.toFixed(0)} ms through sudo (${(sudo / 20).toFixed(1)} ms each)`,
      );
      expect(plain).toBeLessThan(10_000);
      expect(sudo).toBeLessThan(10_000);
    } finally {
      await c.close();
    }
  });

  it("a 5 MB payload goes through sudo intact", async () => {
    const c = await open(users.nopw);
    try {
      const data = randomBytes(3_800_000);
      const b64 = data.toString("base64").replace(/.{76}/g, "$&\n");
      const r = await c.exec(`base64 -d <<'CEP_EOF' | sha256sum | cut -d' ' -f1\n${b64}\nCEP_EOF\n`);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(createHash("sha256").update(data).digest("hex"));
    } finally {
      await c.close();
    }
  });

  it("a timed-out command under sudo is killed on the host", async () => {
    const c = await open(users.nopw);
    const pidFile = join(lab.dir, "sudo-sleeper.pid");
    try {
      const err = await c
        .exec(`sleep 30 & echo $! > ${pidFile}; chmod 644 ${pidFile}; wait`, { timeoutMs: 800 })
        .catch((e) => e);
      expect(err).toBeInstanceOf(HostFailure);
      expect(err.message).toMatch(/timed out after 800ms on host sudohost/);
      const pid = Number(readFileSync(pidFile, "utf8"));
      expect(pid).toBeGreaterThan(0);
      expect(await waitFor(() => !pidAlive(pid), 5000)).toBe(true);
    } finally {
      await c.close();
    }
  });
});
