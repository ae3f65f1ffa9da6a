import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selectHosts } from "../../src/inventory/limit.ts";
import { loadInventory } from "../../src/inventory/load.ts";
import type { Inventory } from "../../src/inventory/types.ts";
import { problemsOf, tempProject } from "./helpers.ts";

let proj: Awaited<ReturnType<typeof tempProject>>;
let inv: Inventory;
beforeAll(async () => {
  proj = await tempProject();
  await proj.write(
    "inventories/fleet.yml",
    `environment: production
vars: { database: { password: { env: PW } } }
groups:
  web: { hosts: [web1, web2, web3] }
  db: { hosts: [db1] }
  canary: { hosts: [web3] }
hosts:
  web1: { ssh: { host: 192.0.2.1 } }
  db1: { ssh: { host: 192.0.2.2 } }
  web2: { ssh: { host: 192.0.2.3 } }
  web3: { ssh: { host: 192.0.2.4 } }
  api.eu-1: { ssh: { host: 192.0.2.5 } }
`,
  );
  inv = await loadInventory("fleet", { cwd: proj.dir, env: { PW: "x" } });
});
afterAll(async () => {
  await proj.cleanup();
});

const names = (limit?: string) => selectHosts(inv, limit).map((h) => h.name);

describe("selectHosts", () => {
  it("selects every host without a limit, and with all", () => {
    expect(names()).toEqual(["web1", "db1", "web2", "web3", "api.eu-1"]);
    expect(names("all")).toEqual(names());
  });

  it("by host name, group name and glob, in inventory order", () => {
    expect(names("web2")).toEqual(["web2"]);
    expect(names("web")).toEqual(["web1", "web2", "web3"]);
    expect(names("web3,db1,web1")).toEqual(["web1", "db1", "web3"]);
    expect(names("web*")).toEqual(["web1", "web2", "web3"]);
    expect(names("*.eu-?")).toEqual(["api.eu-1"]);
    expect(names("{db,api}*")).toEqual(["db1", "api.eu-1"]);
    expect(names(" db , canary ")).toEqual(["db1", "web3"]);
  });

  it("excludes with !pattern, alone or after includes", () => {
    expect(names("web,!canary")).toEqual(["web1", "web2"]);
    expect(names("!web")).toEqual(["db1", "api.eu-1"]);
    expect(names("!web2,!db*")).toEqual(["web1", "web3", "api.eu-1"]);
    expect(names("all,!web1")).toEqual(["db1", "web2", "web3", "api.eu-1"]);
  });

  it("a pattern that matches nothing is an InputError, every such pattern listed", async () => {
    const file = inv.file;
    expect(await problemsOf(() => selectHosts(inv, "web1,wbe2,!dbx,zz*"))).toEqual([
      `--limit: wbe2: matches no host or group in ${file}`,
      `--limit: !dbx: matches no host or group in ${file}`,
      `--limit: zz*: matches no host or group in ${file}`,
    ]);
    expect(await problemsOf(() => selectHosts(inv, "web1,!web"))).toEqual([
      "--limit: web1,!web: selects no hosts (every match is excluded)",
    ]);
    expect((await problemsOf(() => selectHosts(inv, " , ")))[0]).toMatch(
      /^--limit: expected host, group or glob patterns/,
    );
    expect((await problemsOf(() => selectHosts(inv, "web1,!")))[0]).toMatch(
      /^--limit: !: expected a host, group or glob after !/,
    );
  });

  it("returns the inventory's Host objects", () => {
    expect(selectHosts(inv, "db1")[0]).toBe(inv.hosts[1]);
  });
});
