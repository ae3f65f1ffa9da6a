// How a host is reached: the inventory's ssh block over an OpenSSH config (ssh_config), with
// OpenSSH's first-match precedence under what the inventory sets explicitly; jump hosts resolved
// through the same config; the config's problems named. Real files, loaded by the real loader.
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadInventory } from "../../src/inventory/load.ts";
import { sshConfigFile } from "../../src/inventory/host-ssh.ts";
import {
  expandSshConfigPath,
  lookupSshConfig,
  parseSshConfig,
  readSshConfig,
} from "../../src/connection/ssh-config.ts";
import { problemsOf, tempProject } from "./helpers.ts";

let proj: Awaited<ReturnType<typeof tempProject>>;
beforeEach(async () => {
  proj = await tempProject("ssh-cfg-");
});
afterEach(async () => {
  await proj.cleanup();
});

const inventory = (body: string, top = "") => `environment: staging
${top}vars: { database: { password: { env: DB_PW } } }
${body}`;
const load = (file = "inv.yml") => loadInventory(file, { cwd: proj.dir, env: { DB_PW: "x" } });

describe("an OpenSSH config as the source of a host's address", () => {
  it("a host given only as an alias: HostName, Port, User, IdentityFile and UserKnownHostsFile from its Host block", async () => {
    const key = await proj.write("keys/web", "key");
    await proj.write(
      "ssh_config",
      `# operators' hosts
Host web-alias
  HostName 203.0.113.7
  Port 2222
  User deploy
  IdentityFile ${path.join(proj.dir, "keys/missing")}
  IdentityFile ${key}
  UserKnownHostsFile ${path.join(proj.dir, "kh-%n")}
`,
    );
    await proj.write("inv.yml", inventory(`hosts:\n  web-alias: { vars: {} }\n`, "ssh_config: ./ssh_config\n"));
    const h = (await load()).hosts[0]!;
    // The first IdentityFile that exists, as OpenSSH tries them in order.
    expect(h.ssh).toEqual({
      host: "203.0.113.7",
      port: 2222,
      user: "deploy",
      private_key: key,
      become: false,
      connect_timeout_s: 10,
      command_timeout_s: 600,
      jump: [],
    });
    expect(h.knownHostsFile).toBe(path.join(proj.dir, "kh-web-alias"));
  });

  it("what the inventory sets wins; the config fills the rest; the first matching value wins in the file", async () => {
    await proj.write(
      "ssh_config",
      `Host db-*
  Port 1111
  User first
Host db-1
  HostName 10.0.0.1
  Port 2222
  User second
Host *
  User nobody
`,
    );
    await proj.write(
      "inv.yml",
      inventory(
        `hosts:
  db1: { ssh: { host: db-1 } }
  db1x: { ssh: { host: db-1, port: 22, user: ops } }
  other: { ssh: { host: 198.51.100.9 } }
`,
        "known_hosts: ./kh\nssh_config: ./ssh_config\n",
      ),
    );
    const [a, b, c] = (await load()).hosts;
    expect([a!.ssh.host, a!.ssh.port, a!.ssh.user]).toEqual(["10.0.0.1", 1111, "first"]);
    expect([b!.ssh.host, b!.ssh.port, b!.ssh.user]).toEqual(["10.0.0.1", 22, "ops"]);
    // No Host block but `*`: the name as written, the `*` user.
    expect([c!.ssh.host, c!.ssh.port, c!.ssh.user]).toEqual(["198.51.100.9", 22, "nobody"]);
    expect(a!.knownHostsFile).toBeUndefined();
  });

  it("ProxyJump from the config, each hop looked up in it too; the inventory's proxy_jump (or none) wins", async () => {
    await proj.write(
      "ssh_config",
      `Host bastion
  HostName 192.0.2.1
  Port 2200
  User jump
Host app-*
  ProxyJump bastion,ops@inner:2201
Host inner
  HostName 10.1.1.1
`,
    );
    await proj.write(
      "inv.yml",
      inventory(
        `hosts:
  app-1: { ssh: { user: deploy } }
  app-2: { ssh: { proxy_jump: none } }
  app-3: { ssh: { proxy_jump: [root@198.51.100.1] } }
`,
        "ssh_config: ./ssh_config\n",
      ),
    );
    const [a, b, c] = (await load()).hosts;
    expect(a!.ssh.jump).toEqual([
      { host: "192.0.2.1", port: 2200, user: "jump" },
      { host: "10.1.1.1", port: 2201, user: "ops" },
    ]);
    expect(b!.ssh.jump).toEqual([]);
    expect(c!.ssh.jump).toEqual([{ host: "198.51.100.1", port: 22, user: "root" }]);
  });

  it("ssh_config at the inventory, group and host level: the host's, else its last group's, else the inventory's", async () => {
    await proj.write("a.conf", "Host *\n  Port 1001\n");
    await proj.write("b.conf", "Host *\n  Port 1002\n");
    await proj.write(
      "inv.yml",
      inventory(
        `groups:
  g1: { hosts: [h2, h3], ssh_config: ./b.conf }
hosts:
  h1: { ssh: { host: x1 } }
  h2: { ssh: { host: x2 } }
  h3: { ssh: { host: x3 }, ssh_config: false }
`,
        "ssh_config: ./a.conf\n",
      ),
    );
    expect((await load()).hosts.map((h) => h.ssh.port)).toEqual([1001, 1002, 22]);
    expect(sshConfigFile(true, proj.dir)).toBe(path.join(os.homedir(), ".ssh", "config"));
  });

  it("proxy_jump without ssh_config: each hop with its own user and port, the host's user by default", async () => {
    await proj.write(
      "inv.yml",
      inventory(`hosts:\n  h: { ssh: { host: 10.0.0.9, user: deploy, proxy_jump: "b1.example.com:2222,ops@b2" } }\n`),
    );
    expect((await load()).hosts[0]!.ssh.jump).toEqual([
      { host: "b1.example.com", port: 2222, user: "deploy" },
      { host: "b2", port: 22, user: "ops" },
    ]);
  });

  it("bad values are named with the file, the key path and what was expected", async () => {
    await proj.write(
      "ssh_config",
      `Host badport
  Port twenty
Host pc
  ProxyCommand ssh -W %h:%p bastion
Host nocheck
  UserKnownHostsFile /dev/null
Host badjump
  ProxyJump "bad host"
`,
    );
    await proj.write(
      "inv.yml",
      inventory(
        `hosts:
  badport: {}
  pc: {}
  nocheck: {}
  badjump: {}
  j: { ssh: { host: 10.0.0.1, proxy_jump: "b1:0" }, ssh_config: false }
  none: { ssh_config: false }
`,
        "ssh_config: ./ssh_config\n",
      ),
    );
    const cfg = path.join(proj.dir, "ssh_config");
    expect(await problemsOf(load())).toEqual([
      'inv.yml: hosts.j.ssh.proxy_jump: expected [user@]host[:port] for each jump host ("b1:0": the port must be between 1 and 65535)',
      "inv.yml: hosts.none.ssh.host: required: expected a host name or IP address (or set ssh_config to look none up in an OpenSSH config)",
      `inv.yml: hosts.badport.ssh_config: ${cfg} (Host badport): Port "twenty" is not a port number (1-65535)`,
      `inv.yml: hosts.pc.ssh_config: ${cfg} (Host pc): ProxyCommand is not supported (no shell is run to connect): use ProxyJump there, or ssh.proxy_jump here`,
      `inv.yml: hosts.nocheck.ssh_config: ${cfg} (Host nocheck): UserKnownHostsFile /dev/null turns host-key checking off, which is not supported: name a file, or set known_hosts in the inventory`,
      `inv.yml: hosts.badjump.ssh_config: ${cfg} (Host badjump): ProxyJump "bad host" is not a jump host: expected [user@]host[:port] (or ssh://[user@]host[:port])`,
    ]);
  });

  it("a config file that cannot be read is bad input at the key that names it", async () => {
    await proj.write("inv.yml", inventory(`hosts:\n  h: {}\n`, "ssh_config: ./nope\n"));
    expect(await problemsOf(load())).toEqual([
      `inv.yml: ssh_config: expected a readable OpenSSH config: ${path.join(proj.dir, "nope")} does not exist`,
    ]);
  });
});

describe("the config reader", () => {
  it("follows top-level Includes (a glob in the last component), refuses one inside a Host block", async () => {
    const d = path.join(proj.dir, "conf.d");
    await proj.write("conf.d/10-web", "Host web\n  HostName 10.0.0.10\n");
    await proj.write("conf.d/20-db", "Host db\n  HostName 10.0.0.20\n");
    const main = await proj.write("main", `Include ${d}/*\nHost *\n  User deploy\n`);
    const c = readSshConfig(main);
    expect(lookupSshConfig(c, "web")).toMatchObject({ hostName: "10.0.0.10", user: "deploy" });
    expect(lookupSshConfig(c, "db")).toMatchObject({ hostName: "10.0.0.20", user: "deploy" });
    const bad = await proj.write("bad", `Host x\n  Include ${d}/*\n`);
    expect(() => readSshConfig(bad)).toThrow(/Include inside a Host block is not supported/);
  });

  it("never runs Match exec; expands %h %n %p %r %d ~; refuses tokens it does not know", () => {
    const c = parseSshConfig('Match exec "touch /tmp/cep-match-exec-ran"\n  Port 9\nHost *\n  Port 22\n');
    expect(lookupSshConfig(c, "h").port).toBe("22");
    const t = { host: "10.0.0.1", alias: "web", port: 2222, user: "deploy" };
    expect(expandSshConfigPath("~/.ssh/%n-%h-%p-%r", t)).toBe(path.join(os.homedir(), ".ssh/web-10.0.0.1-2222-deploy"));
    expect(expandSshConfigPath("%d/k%%", t)).toBe(`${os.homedir()}/k%`);
    expect(() => expandSshConfigPath("~/.ssh/%C", t)).toThrow(/token %C .* is not supported/);
  });
});
