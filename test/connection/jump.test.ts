// Jump hosts against real sshd processes: the target (and the second bastion) are names only the
// bastion in front of them can resolve (its own /etc/hosts in a private mount namespace), so a
// connection that did not go through the bastion could not reach them at all; each bastion logs
// the forward (LogLevel DEBUG1: direct-tcpip).
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type ConnectOptions } from "../../src/connection/ssh.ts";
import { jumpSpecsProblems, parseJumpSpecs } from "../../src/connection/jump.ts";
import { HostKeyError, UnreachableError } from "../../src/errors.ts";
import { ensureKeyPair } from "../../src/lab/sshd.ts";
import { startTestSshd, waitFor, type TestSshd } from "./setup.ts";

let work: string;
let target: TestSshd;
let b2: TestSshd;
let b1: TestSshd;
let knownHosts: string;

const TARGET = "cep-target.internal";
const B2 = "cep-b2.internal";

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "cep-jump-"));
  const clientKey = join(work, "client_key");
  await ensureKeyPair(clientKey, "cep-jump-client");
  target = await startTestSshd("jump-target", { clientKey, logLevel: "DEBUG1" });
  // b2 alone resolves the target's name; b1 alone resolves b2's.
  b2 = await startTestSshd("jump-b2", { clientKey, logLevel: "DEBUG1", resolves: { [TARGET]: "127.0.0.1" } });
  b1 = await startTestSshd("jump-b1", {
    clientKey,
    logLevel: "DEBUG1",
    resolves: { [B2]: "127.0.0.1", [TARGET]: "127.0.0.1" },
  });
  // One known_hosts for every hop, as the inventory's: each key under the name it is reached by.
  knownHosts = join(work, "known_hosts");
  writeFileSync(
    knownHosts,
    [
      `[127.0.0.1]:${b1.sshd.port} ${b1.sshd.hostKeyPub}`,
      `[${B2}]:${b2.sshd.port} ${b2.sshd.hostKeyPub}`,
      `[${TARGET}]:${target.sshd.port} ${target.sshd.hostKeyPub}`,
      "",
    ].join("\n"),
  );
});
afterAll(async () => {
  await Promise.all([target?.stop(), b1?.stop(), b2?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

const opts = (jump: string | string[], o: Partial<ConnectOptions> = {}): ConnectOptions => ({
  name: "web1",
  ssh: { ...target.ssh({ host: TARGET }), proxy_jump: jump },
  knownHostsFile: knownHosts,
  acceptNewHostKeys: false,
  ...o,
});
/** The forwards a bastion logged (sshd DEBUG1) to host:port. */
const forwards = (b: TestSshd, host: string, port: number) =>
  b
    .log()
    .split("\n")
    .filter((l) => l.includes("server_request_direct_tcpip") && l.includes(`target ${host} port ${port}`)).length;

describe("ProxyJump specs", () => {
  it("parse one hop, a chain, ssh:// URIs, IPv6 and none; bad ones are named", () => {
    expect(parseJumpSpecs("bastion")).toEqual([{ host: "bastion" }]);
    expect(parseJumpSpecs("deploy@b1.example.com:2222,b2")).toEqual([
      { host: "b1.example.com", port: 2222, user: "deploy" },
      { host: "b2" },
    ]);
    expect(parseJumpSpecs(["ssh://ops@[2001:db8::1]:22", "10.0.0.5"])).toEqual([
      { host: "2001:db8::1", port: 22, user: "ops" },
      { host: "10.0.0.5" },
    ]);
    expect(parseJumpSpecs("none")).toEqual([]);
    expect(jumpSpecsProblems("b1,bad host,x:99999")).toEqual([
      '"bad host" is not a jump host: expected [user@]host[:port] (or ssh://[user@]host[:port])',
      '"x:99999": the port must be between 1 and 65535',
    ]);
  });
});

describe("connections through jump hosts", () => {
  it("the target's name resolves only behind the bastion: a direct connection cannot reach it", async () => {
    const err = await connect({ ...opts([]), ssh: target.ssh({ host: TARGET }) }).catch((e) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect(err.message).toMatch(/cannot resolve host name "cep-target\.internal"/);
  });

  it("one hop: the target answers through the bastion, whose log shows the forward", async () => {
    const before = forwards(b1, TARGET, target.sshd.port);
    const c = await connect(opts(`root@127.0.0.1:${b1.sshd.port}`));
    try {
      const r = await c.exec("echo through; hostname >/dev/null");
      expect(r.stdout).toBe("through\n");
      // Channels multiplex over the one forwarded connection.
      const many = await Promise.all(Array.from({ length: 6 }, (_, i) => c.exec(`echo ${i}`)));
      expect(many.map((x) => x.stdout)).toEqual(["0\n", "1\n", "2\n", "3\n", "4\n", "5\n"]);
    } finally {
      await c.close();
    }
    expect(forwards(b1, TARGET, target.sshd.port)).toBe(before + 1);
    expect(b1.log()).toMatch(/direct-tcpip/);
  });

  it("a two-hop chain: b1 forwards to b2, b2 to the target; each hop's key checked in the same known_hosts", async () => {
    const t1 = forwards(b1, B2, b2.sshd.port);
    const t2 = forwards(b2, TARGET, target.sshd.port);
    const direct = forwards(b1, TARGET, target.sshd.port);
    const c = await connect(opts([`root@127.0.0.1:${b1.sshd.port}`, `root@${B2}:${b2.sshd.port}`]));
    try {
      expect((await c.exec("echo two hops")).stdout).toBe("two hops\n");
    } finally {
      await c.close();
    }
    expect(forwards(b1, B2, b2.sshd.port)).toBe(t1 + 1);
    expect(forwards(b2, TARGET, target.sshd.port)).toBe(t2 + 1);
    // b1 never forwarded to the target itself.
    expect(forwards(b1, TARGET, target.sshd.port)).toBe(direct);
  });

  it("a changed bastion key is refused before anything is forwarded", async () => {
    const kh = join(work, "kh-changed");
    const other = await ensureKeyPair(join(work, "other_host_key"), "other");
    writeFileSync(kh, readFileSync(knownHosts, "utf8").replace(b1.sshd.hostKeyPub, other));
    const before = forwards(b1, TARGET, target.sshd.port);
    const err = await connect(
      opts(`root@127.0.0.1:${b1.sshd.port}`, { knownHostsFile: kh, acceptNewHostKeys: true }),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(HostKeyError);
    expect(err.message).toMatch(
      new RegExp(
        `^jump host root@127\\.0\\.0\\.1:${b1.sshd.port} \\(1 of 1 to web1\\): host key for \\[127\\.0\\.0\\.1\\]:${b1.sshd.port} CHANGED`,
      ),
    );
    expect(forwards(b1, TARGET, target.sshd.port)).toBe(before);
    // --accept-new-host-keys never overrides a changed key.
    expect(readFileSync(kh, "utf8")).not.toContain(b1.sshd.hostKeyPub.split(" ")[1]);
  });

  it("an unknown target key behind a bastion: refused without --accept-new-host-keys, recorded under its own name with it", async () => {
    const kh = join(work, "kh-no-target");
    writeFileSync(
      kh,
      readFileSync(knownHosts, "utf8")
        .split("\n")
        .filter((l) => !l.startsWith(`[${TARGET}]`))
        .join("\n"),
    );
    const err = await connect(opts(`root@127.0.0.1:${b1.sshd.port}`, { knownHostsFile: kh })).catch((e) => e);
    expect(err).toBeInstanceOf(HostKeyError);
    expect(err.message).toMatch(/^host key for \[cep-target\.internal\]:\d+ \(ssh-ed25519 SHA256:.*\) is not in /);
    const c = await connect(opts(`root@127.0.0.1:${b1.sshd.port}`, { knownHostsFile: kh, acceptNewHostKeys: true }));
    await c.close();
    expect(readFileSync(kh, "utf8")).toContain(
      `[${TARGET}]:${target.sshd.port} ${target.sshd.hostKeyPub.split(" ").slice(0, 2).join(" ")}`,
    );
  });

  it("a target the bastion cannot reach is unreachable, naming the bastion", async () => {
    const err = await connect({
      ...opts(`root@127.0.0.1:${b1.sshd.port}`),
      ssh: { ...target.ssh({ host: TARGET, port: 1 }), proxy_jump: `root@127.0.0.1:${b1.sshd.port}` },
    }).catch((e) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect(err.message).toMatch(
      new RegExp(
        `^jump host root@127\\.0\\.0\\.1:${b1.sshd.port} \\(1 of 1 to web1\\) could not open a connection to cep-target\\.internal:1: `,
      ),
    );
  });

  it("closing the connection closes the bastion's session too", async () => {
    const c = await connect(opts(`root@127.0.0.1:${b1.sshd.port}`));
    await c.exec("true");
    await c.close();
    // sshd logs the end of the forwarded channel's session once the client is gone.
    const sessions = () =>
      b1
        .log()
        .split("\n")
        .filter((l) => /Close session|Connection closed by|Disconnected from/.test(l)).length;
    const n = sessions();
    const c2 = await connect(opts(`root@127.0.0.1:${b1.sshd.port}`));
    await c2.close();
    expect(await waitFor(() => sessions() > n, 5000)).toBe(true);
  });
});
