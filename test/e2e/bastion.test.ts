// Provision and smoke through bastions, end to end on the lab: the lab host is known by a name only
// its bastion can resolve (the bastion's own /etc/hosts, in a private mount namespace), so nothing
// reaches it except through the jump hosts; the bastions log every forward (LogLevel DEBUG1:
// direct-tcpip). One hop, a two-hop chain, a changed bastion key, and a host given only as an
// alias in an OpenSSH config file.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestLab, cli, type TestLab } from "../helpers/lab.ts";
import { freePort } from "../helpers/ports.ts";
import { ensureKeyPair, startSshd, stopSshd, type Sshd } from "../../src/lab/sshd.ts";

const TARGET = "cep-lab1.internal";
const B2 = "cep-b2.internal";

let lab: TestLab;
let b1: Sshd;
let b2: Sshd;
let port: number;

const log = (s: Sshd) => readFileSync(join(s.dir, "sshd.log"), "utf8");
/** Forwards a bastion logged to host:port (sshd DEBUG1). */
const forwards = (s: Sshd, host: string, p: number) =>
  log(s)
    .split("\n")
    .filter((l) => l.includes("server_request_direct_tcpip") && l.includes(`target ${host} port ${p}`)).length;

beforeAll(async () => {
  lab = await startTestLab(1);
  const clientKeyPub = readFileSync(`${lab.state.files.privateKey}.pub`, "utf8").trim();
  const sshd = async (name: string, resolves: Record<string, string>) => {
    const dir = join(lab.dir, name);
    mkdirSync(dir);
    return startSshd({ dir, port: await freePort(), clientKeyPub, user: "root", logLevel: "DEBUG1", resolves });
  };
  b2 = await sshd("bastion2", { [TARGET]: "127.0.0.1" });
  b1 = await sshd("bastion1", { [TARGET]: "127.0.0.1", [B2]: "127.0.0.1" });
  port = lab.state.hosts[0]!.sshPort;
  // known_hosts: each key under the name it is reached by.
  writeFileSync(
    join(lab.dir, "kh-bastions"),
    [
      `[127.0.0.1]:${b1.port} ${b1.hostKeyPub}`,
      `[${B2}]:${b2.port} ${b2.hostKeyPub}`,
      `[${TARGET}]:${port} ${lab.state.hosts[0]!.hostKeyPub}`,
      "",
    ].join("\n"),
  );
});
afterAll(async () => {
  await Promise.all([b1 && stopSshd(b1), b2 && stopSshd(b2)]);
  await lab?.down();
});

/** The lab's inventory with lab1 behind `proxy_jump`, checked against `knownHosts`. */
function behind(name: string, proxyJump: string | string[], knownHosts = "./kh-bastions"): string {
  const inv = lab.inventory();
  inv.known_hosts = knownHosts;
  inv.hosts.lab1.ssh = { ...inv.hosts.lab1.ssh, host: TARGET, proxy_jump: proxyJump };
  return lab.writeInventory(name, inv);
}

describe("provision through bastions", () => {
  it("without the bastion the host cannot even be resolved (the proof that the rest goes through it)", async () => {
    const inv = lab.inventory();
    inv.known_hosts = "./kh-bastions";
    inv.hosts.lab1.ssh.host = TARGET;
    const r = await cli("provision", [lab.writeInventory("direct.yml", inv), "--skip-smoke"]);
    expect(r.code).toBe(4);
    expect(r.report.hosts[0].error).toMatch(/cannot resolve host name "cep-lab1\.internal"/);
  });

  it("one hop: provision and smoke pass; the bastion's log shows the forward", async () => {
    const before = forwards(b1, TARGET, port);
    const r = await cli("provision", [behind("one-hop.yml", `root@127.0.0.1:${b1.port}`)]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const smoke = r.report.hosts[0].smoke;
    for (const c of ["database", "config", "media", "check"]) expect(smoke[c].status, c).toBe("passed");
    expect(forwards(b1, TARGET, port)).toBe(before + 1);
    expect(log(b1)).toMatch(/direct-tcpip/);
  });

  it("a two-hop chain: provision and smoke pass; b1 forwards to b2, b2 to the host", async () => {
    const [viaB1, viaB2, b1Direct] = [
      forwards(b1, B2, b2.port),
      forwards(b2, TARGET, port),
      forwards(b1, TARGET, port),
    ];
    const r = await cli("provision", [behind("two-hops.yml", [`root@127.0.0.1:${b1.port}`, `root@${B2}:${b2.port}`])]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.report.hosts[0].smoke.database.status).toBe("passed");
    expect(forwards(b1, B2, b2.port)).toBe(viaB1 + 1);
    expect(forwards(b2, TARGET, port)).toBe(viaB2 + 1);
    expect(forwards(b1, TARGET, port)).toBe(b1Direct);
  });

  it("a changed bastion key fails the host, even with --accept-new-host-keys, and nothing is forwarded", async () => {
    const other = await ensureKeyPair(join(lab.dir, "impostor_key"), "impostor");
    writeFileSync(
      join(lab.dir, "kh-changed"),
      readFileSync(join(lab.dir, "kh-bastions"), "utf8").replace(b1.hostKeyPub, other),
    );
    const before = forwards(b1, TARGET, port);
    const r = await cli("provision", [
      behind("changed.yml", `root@127.0.0.1:${b1.port}`, "./kh-changed"),
      "--accept-new-host-keys",
    ]);
    expect([2, 4]).toContain(r.code);
    expect(r.report.hosts[0].status).not.toBe("ok");
    expect(r.report.hosts[0].error).toMatch(
      new RegExp(
        `^jump host root@127\\.0\\.0\\.1:${b1.port} \\(1 of 1 to lab1\\): host key for \\[127\\.0\\.0\\.1\\]:${b1.port} CHANGED`,
      ),
    );
    expect(forwards(b1, TARGET, port)).toBe(before);
  });

  it("a host given only as an alias in an OpenSSH config file (its bastion too) is provisioned", async () => {
    writeFileSync(
      join(lab.dir, "ssh_config"),
      [
        "Host lab1-alias",
        `  HostName ${TARGET}`,
        `  Port ${port}`,
        "  User root",
        `  IdentityFile ${lab.state.files.privateKey}`,
        `  UserKnownHostsFile ${join(lab.dir, "kh-bastions")}`,
        "  ProxyJump jump1",
        "Host jump1",
        "  HostName 127.0.0.1",
        `  Port ${b1.port}`,
        "",
      ].join("\n"),
    );
    const inv = lab.inventory();
    delete inv.known_hosts;
    inv.ssh_config = "./ssh_config";
    // The same machine as lab1, provisioned above: the same vars, and the off-site prefix that
    // defaults to its inventory name (lab1) kept, so that nothing changes on it.
    inv.hosts = { "lab1-alias": { vars: { ...inv.hosts.lab1.vars, offsite: { enabled: false, prefix: "lab1" } } } };
    inv.groups = {};
    const before = forwards(b1, TARGET, port);
    const r = await cli("provision", [lab.writeInventory("alias.yml", inv), "--skip-smoke"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.report.hosts[0].name).toBe("lab1-alias");
    expect(r.report.hosts[0].status).toBe("ok");
    expect(forwards(b1, TARGET, port)).toBe(before + 1);
  });
});
