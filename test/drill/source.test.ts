// --source, pure (no host contacted): which source inventory, the staging → source host pairs
// (drill.map or by position), the checks that make a source drill bad input (exit 1), what a
// staging host is sent, and status finding a source host's drill in another inventory's reports.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import YAML from "yaml";
import {
  loadDrillSource,
  pairSourceHosts,
  sourceInventoryOf,
  sourceModeProblems,
  credentialsCleanup,
  type DrillSource,
} from "../../src/drill/source.ts";
import { drillScript } from "../../src/drill/script.ts";
import { drillMarkdown, type DrillRunReport } from "../../src/drill/report.ts";
import { hostDrillStatus } from "../../src/status/drills.ts";
import { readSourcedDrills } from "../../src/drill/history.ts";
import { InputError } from "../../src/errors.ts";
import { loadInventory } from "../../src/inventory/load.ts";
import { parseCommonArgs } from "../../src/cli/options.ts";
import type { Host, Inventory } from "../../src/inventory/types.ts";
import { caseHost, caseReport } from "../helpers/drill-cases.ts";

const staging = (names: string[], map?: Record<string, string>) => ({
  shown: "staging.yml",
  all: names.map((name) => ({ name, map })),
});
const prod = (hosts: string[]) => ({ shown: "prod.yml", hosts });

describe("pairSourceHosts", () => {
  it("by position when both inventories have as many hosts; --limit does not shift the pairs", () => {
    expect(pairSourceHosts(staging(["stg1", "stg2"]), ["stg1", "stg2"], prod(["web1", "web2"]))).toEqual({
      pairs: [
        { staging: "stg1", source: "web1", via: "position" },
        { staging: "stg2", source: "web2", via: "position" },
      ],
      problems: [],
    });
    expect(pairSourceHosts(staging(["stg1", "stg2"]), ["stg2"], prod(["web1", "web2"])).pairs).toEqual([
      { staging: "stg2", source: "web2", via: "position" },
    ]);
  });

  it("unequal counts without drill.map: one problem naming both host lists and the way out", () => {
    for (const [s, p] of [
      [
        ["stg1", "stg2", "stg3"],
        ["web1", "web2"],
      ],
      [["stg1"], ["web1", "web2"]],
    ] as const) {
      const r = pairSourceHosts(staging([...s]), [...s], prod([...p]));
      expect(r.pairs).toEqual([]);
      expect(r.problems).toEqual([
        `staging.yml: drill.map: expected one: pairing by position needs as many hosts in staging.yml as in prod.yml, which has ${p.length} (${p.join(", ")}) for ${s.length} (${s.join(", ")}); say which source host each host restores, e.g. drill: { map: { stg1: web1 } }`,
      ]);
    }
  });

  it("drill.map decides, crossed or many to one, whatever the counts", () => {
    const r = pairSourceHosts(
      staging(["stg1", "stg2", "stg3"], { stg1: "web2", stg2: "web1", stg3: "web1" }),
      ["stg1", "stg2", "stg3"],
      prod(["web1", "web2"]),
    );
    expect(r).toEqual({
      pairs: [
        { staging: "stg1", source: "web2", via: "drill.map" },
        { staging: "stg2", source: "web1", via: "drill.map" },
        { staging: "stg3", source: "web1", via: "drill.map" },
      ],
      problems: [],
    });
  });

  it("unknown names on either side of drill.map, and a selected host it leaves out, are problems (all at once)", () => {
    const r = pairSourceHosts(
      staging(["stg1", "stg2", "stg3"], { stg1: "web9", stg7: "web1", stg2: "web2" }),
      ["stg1", "stg2", "stg3"],
      prod(["web1", "web2"]),
    );
    expect(r.problems).toEqual([
      'staging.yml: drill.map.stg1: expected a host of prod.yml (web1, web2); "web9" is not one',
      'staging.yml: drill.map.stg7: expected a host of staging.yml (stg1, stg2, stg3); "stg7" is not one',
      "staging.yml: drill.map: expected an entry for stg3 (a host the map leaves out is not paired by position; map it, or leave it out with --limit)",
    ]);
    expect(r.pairs).toEqual([{ staging: "stg2", source: "web2", via: "drill.map" }]);
    // Left out with --limit: fine.
    const ok = pairSourceHosts(staging(["stg1", "stg2", "stg3"], { stg2: "web2" }), ["stg2"], prod(["web1", "web2"]));
    expect(ok).toEqual({ pairs: [{ staging: "stg2", source: "web2", via: "drill.map" }], problems: [] });
  });
});

const fakeHost = (name: string, drill: Record<string, unknown>) =>
  ({ name, vars: { drill: { allow_live_from_source: false, ...drill } } }) as unknown as Host;

describe("which source, which mode", () => {
  it("--source wins; else drill.source, one value for every host of the drill", () => {
    const a = fakeHost("stg1", { source: "prod" });
    const b = fakeHost("stg2", { source: "prod" });
    expect(sourceInventoryOf(undefined, [a, b], "staging.yml")).toBe("prod");
    expect(sourceInventoryOf("other", [a, b], "staging.yml")).toBe("other");
    expect(sourceInventoryOf(undefined, [fakeHost("stg1", {})], "staging.yml")).toBeUndefined();
    expect(() =>
      sourceInventoryOf(undefined, [a, fakeHost("stg2", { source: "dr" }), fakeHost("stg3", {})], "s.yml"),
    ).toThrow(InputError);
    try {
      sourceInventoryOf(undefined, [a, fakeHost("stg2", { source: "dr" }), fakeHost("stg3", {})], "s.yml");
    } catch (e) {
      expect((e as InputError).problems).toEqual([
        's.yml: drill.source: expected one source inventory for every host of the drill ("prod" for stg1; "dr" for stg2; none for stg3); drill them apart with --limit, or give --source',
      ]);
    }
  });

  it("--live with source data needs drill.allow_live_from_source on every host; --from local never fits", () => {
    const hosts = [fakeHost("stg1", { allow_live_from_source: true }), fakeHost("stg2", {})];
    expect(sourceModeProblems("scratch", undefined, hosts, "staging.yml", "prod")).toEqual([]);
    expect(sourceModeProblems("scratch", "offsite", hosts, "staging.yml", "prod")).toEqual([]);
    expect(sourceModeProblems("live", undefined, hosts, "staging.yml", "prod")).toEqual([
      'staging.yml: drill.allow_live_from_source: expected true for stg2 to restore the data of "prod" over their live data with --live (the default, false, allows source data only into scratch space: --scratch)',
    ]);
    expect(sourceModeProblems("live", undefined, [hosts[0]!], "staging.yml", "prod")).toEqual([]);
    expect(sourceModeProblems("scratch", "local", hosts, "staging.yml", "prod")).toEqual([
      'arguments: --from local: with --source the backups come from the off-site copy of "prod" (--from offsite, the default with --source)',
    ]);
  });
});

// Real inventory files (loaded as the CLI loads them; no host is ever contacted here).
let dir: string;
let identity = "";
let recipient = "";
const ENV = () => ({
  PROD_DB: "prod-db-password-1234",
  PROD_S3_ID: "PRODREADWRITEKEY",
  PROD_S3_SECRET: "prod-read-write-secret-5678",
  PROD_ID: identity,
  RO_ID: "READONLYKEYID",
  RO_SECRET: "read-only-secret-9012",
  STG_DB: "stg-db-password",
});

function prodInventory(hosts: string[], edit: (d: any) => void = () => {}): string {
  const doc: any = {
    environment: "production",
    vars: {
      app: "cepcomunicacion",
      database: { name: "cepcomunicacion", user: "cepcomunicacion", password: { env: "PROD_DB" } },
      offsite: {
        enabled: true,
        endpoint: "https://s3.example.com",
        bucket: "cep-prod",
        access_key_id: { env: "PROD_S3_ID" },
        secret_access_key: { env: "PROD_S3_SECRET" },
      },
      encryption: { recipients: [recipient], identity: { env: "PROD_ID" }, scope: ["database"] },
    },
    hosts: Object.fromEntries(hosts.map((h, i) => [h, { ssh: { host: `192.0.2.${i + 1}`, user: "deploy" } }])),
  };
  edit(doc);
  writeFileSync(join(dir, "inventories", "prod.yml"), YAML.stringify(doc));
  return "prod";
}

function stagingInventory(hosts: string[], drill: Record<string, unknown> = {}): string {
  const doc = {
    environment: "staging",
    vars: {
      app: "cepcomunicacion",
      database: { name: "cepcomunicacion", user: "cepcomunicacion", password: { env: "STG_DB" } },
      drill: {
        source_offsite: { access_key_id: { env: "RO_ID" }, secret_access_key: { env: "RO_SECRET" } },
        ...drill,
      },
    },
    hosts: Object.fromEntries(hosts.map((h, i) => [h, { ssh: { host: `198.51.100.${i + 1}`, user: "deploy" } }])),
  };
  writeFileSync(join(dir, "inventories", "staging.yml"), YAML.stringify(doc));
  return "staging";
}

async function source(args: string[], env: Record<string, string> = ENV()): Promise<DrillSource | undefined> {
  const opts = parseCommonArgs(["staging", ...args], "usage");
  const inv: Inventory = await loadInventory("staging", { cwd: dir, env });
  return loadDrillSource({
    opts,
    mode: opts.live ? "live" : "scratch",
    inv,
    hosts: inv.hosts,
    shown: "inventories/staging.yml",
    cwd: dir,
    env,
  });
}

const problems = async (p: Promise<unknown>) => ((await p.catch((e: unknown) => e)) as InputError).problems;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "drill-source-"));
  mkdirSync(join(dir, "inventories"));
  const k = (await execa("age-keygen", [], { env: { PATH: process.env.PATH! }, extendEnv: false })).stdout;
  identity = k.split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"))!;
  recipient = (await execa("age-keygen", ["-y"], { input: identity })).stdout.trim();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("loadDrillSource", () => {
  it("no --source and no drill.source: nothing (the hosts' own backups)", async () => {
    stagingInventory(["stg1"]);
    expect(await source(["--force"])).toBeUndefined();
  });

  it("pairs, sends the staging inventory's read-only keys (never production's), the source's bucket, prefix and identity", async () => {
    prodInventory(["web1", "web2"], (d) => (d.hosts.web2.vars = { offsite: { prefix: "fleet/web2" } }));
    stagingInventory(["stg1", "stg2"], { map: { stg1: "web2", stg2: "web1" } });
    const s = (await source(["--source", "prod"]))!;
    expect(s).toMatchObject({ inventory: "prod", inventory_name: "prod", environment: "production", mode: "scratch" });
    expect(s.file).toMatch(/inventories\/prod\.yml$/);
    // Production's secrets, masked in everything the run prints or writes.
    expect(s.secrets).toEqual(
      expect.arrayContaining(["prod-db-password-1234", "PRODREADWRITEKEY", "prod-read-write-secret-5678", identity]),
    );
    const stg1 = s.hosts.get("stg1")!;
    expect(stg1.report).toEqual({
      inventory: "prod",
      inventory_name: "prod",
      host: "web2",
      via: "drill.map",
      bucket: "cep-prod",
      prefix: "fleet/web2",
      endpoint: "https://s3.example.com",
      encrypted: true,
    });
    expect(s.hosts.get("stg2")!.report).toMatchObject({ host: "web1", prefix: "web1" });
    const v = stg1.values;
    expect(v).toMatchObject({
      SOURCE_INVENTORY: "prod",
      SOURCE_HOST: "web2",
      SOURCE_APP: "cepcomunicacion",
      SOURCE_BUCKET: "cep-prod",
      SOURCE_PREFIX: "fleet/web2",
      SOURCE_ENDPOINT: "https://s3.example.com",
      HOST_CONF: "/etc/cepcomunicacion/backup.conf",
      AGE_IDENTITY: identity,
    });
    const conf = String(v.SOURCE_RCLONE_CONF);
    expect(conf).toMatch(/^access_key_id = READONLYKEYID$/m);
    expect(conf).toMatch(/^secret_access_key = read-only-secret-9012$/m);
    expect(conf).toMatch(/^endpoint = https:\/\/s3\.example\.com$/m);
    expect(conf).toMatch(/^no_check_bucket = true$/m);
    expect(conf).not.toContain("PRODREADWRITEKEY");
    expect(conf).not.toContain("prod-read-write-secret");
    // The drill script carries them in its values (on the SSH channel's stdin), after the host's own identity.
    const inv = await loadInventory("staging", { cwd: dir, env: ENV() });
    const script = drillScript(inv.hosts[0]!, "abcd1234", "offsite", "scratch", v);
    expect(script).toContain("SOURCE_HOST=web2");
    const assigned = script.split("\n").filter((l) => l.startsWith("AGE_IDENTITY="));
    expect(assigned[assigned.length - 1]).toBe(`AGE_IDENTITY=${identity}`);
    const sc = await execa("shellcheck", ["-x", "-"], { input: script, reject: false });
    expect(sc.stdout + sc.stderr).toBe("");
  });

  it("drill.source in the staging inventory is --source", async () => {
    prodInventory(["web1", "web2"]);
    stagingInventory(["stg1", "stg2"], { source: "prod" });
    const s = (await source([]))!;
    expect([...s.hosts].map(([h, p]) => [h, p.report.host, p.report.via])).toEqual([
      ["stg1", "web1", "position"],
      ["stg2", "web2", "position"],
    ]);
  });

  it("unequal counts: exit 1 before any connection, with both host lists", async () => {
    prodInventory(["web1", "web2"]);
    stagingInventory(["stg1", "stg2", "stg3"]);
    expect(await problems(source(["--source", "prod"]))).toEqual([
      "inventories/staging.yml: drill.map: expected one: pairing by position needs as many hosts in inventories/staging.yml as in inventories/prod.yml, which has 2 (web1, web2) for 3 (stg1, stg2, stg3); say which source host each host restores, e.g. drill: { map: { stg1: web1 } }",
    ]);
  });

  it("--live without drill.allow_live_from_source, no read-only keys, no off-site copy, no identity: every problem at once", async () => {
    prodInventory(["web1", "web2"], (d) => {
      d.hosts.web1.vars = { offsite: { enabled: false } };
      d.vars.encryption.identity = undefined;
      delete d.vars.encryption.identity;
    });
    stagingInventory(["stg1", "stg2"]);
    const env = { ...ENV(), RO_ID: "" } as Record<string, string>;
    delete env.RO_ID;
    const p = await problems(source(["--source", "prod", "--live"], env));
    // A missing environment variable is the loader's own problem (exit 1 as well).
    expect(p.join("\n")).toMatch(/RO_ID/);
    const q = await problems(source(["--source", "prod", "--live"]));
    expect(q).toEqual([
      'inventories/staging.yml: drill.allow_live_from_source: expected true for stg1, stg2 to restore the data of "prod" over their live data with --live (the default, false, allows source data only into scratch space: --scratch)',
      "inventories/prod.yml: hosts.web1.vars.offsite: expected an off-site copy to restore stg1 from (offsite.enabled with endpoint and bucket)",
      "inventories/prod.yml: hosts.web1.vars.encryption.identity: expected the age identity that decrypts web1's backups (they are encrypted), for stg1 to restore them",
      "inventories/prod.yml: hosts.web2.vars.encryption.identity: expected the age identity that decrypts web2's backups (they are encrypted), for stg2 to restore them",
    ]);
  });

  it("a staging host without drill.source_offsite keys: named, with what is expected", async () => {
    prodInventory(["web1"]);
    const doc = {
      environment: "staging",
      vars: { database: { password: { env: "STG_DB" } } },
      hosts: { stg1: { ssh: { host: "198.51.100.1", user: "deploy" } } },
    };
    writeFileSync(join(dir, "inventories", "staging.yml"), YAML.stringify(doc));
    expect(await problems(source(["--source", "prod"]))).toEqual([
      "inventories/staging.yml: hosts.stg1.vars.drill.source_offsite: expected access_key_id and secret_access_key: read-only keys of inventories/prod.yml's bucket ({ env: NAME } or { vault: key }); inventories/prod.yml's own keys are never used",
    ]);
  });

  it("the drilled inventory as its own source is refused (that is --from offsite)", async () => {
    stagingInventory(["stg1"]);
    expect(await problems(source(["--source", "staging"]))).toEqual([
      "inventories/staging.yml: drill.source: expected another inventory than the one drilled (for a host's own off-site copy: --from offsite)",
    ]);
  });
});

describe("the report and status", () => {
  const at = "2026-12-01T10:00:00.000Z";
  const now = Date.parse("2026-12-01T12:00:00Z");
  function sourcedReport(): DrillRunReport {
    const a = caseHost("stg1", "pass");
    const b = caseHost("stg2", "weekly-dump-corrupted");
    const src = (host: string) => ({
      inventory: "prod",
      inventory_name: "prod",
      host,
      via: "drill.map" as const,
      bucket: "cep-prod",
      prefix: host,
      endpoint: "https://s3.example.com",
      encrypted: true,
      credentials: "removed: /var/backups/.cepcomunicacion-drill-source-abc123",
    });
    a.source = src("web2");
    b.source = src("web1");
    const r = caseReport([a, b], at);
    r.drill.source = {
      inventory: "prod",
      inventory_name: "prod",
      file: "inventories/prod.yml",
      environment: "production",
      mode: "scratch",
      hosts: { stg1: "web2", stg2: "web1" },
    };
    return r;
  }

  it("status of prod finds its hosts' drills in staging's reports, by the source host", () => {
    const entries = [{ file: "20261201T100000Z.json", report: sourcedReport() }];
    expect(hostDrillStatus("web2", entries, now, "prod")).toMatchObject({ status: "OK", verdict: "PASSED" });
    expect(hostDrillStatus("web1", entries, now, "prod")).toMatchObject({ status: "WARNING", verdict: "FAILED" });
    expect(hostDrillStatus("web3", entries, now, "prod")).toMatchObject({ status: "WARNING", verdict: null });
    // Staging's own status still sees its hosts.
    expect(hostDrillStatus("stg1", entries, now, "staging")).toMatchObject({ status: "OK", verdict: "PASSED" });
    // A report without a source is the folder's own inventory's: matched by host name, as before.
    const own = caseReport([caseHost("web2", "pass")], at, "staging");
    expect(hostDrillStatus("web2", [{ file: "x.json", report: own }], now, "prod")).toMatchObject({
      status: "OK",
    });
  });

  it("readSourcedDrills: the reports of other folders that restored prod's backups", () => {
    const root = join(dir, "reports", "drills");
    mkdirSync(join(root, "staging"), { recursive: true });
    mkdirSync(join(root, "other"), { recursive: true });
    writeFileSync(join(root, "staging", "20261201T100000Z.json"), JSON.stringify(sourcedReport()));
    writeFileSync(
      join(root, "other", "20261201T100000Z.json"),
      JSON.stringify(caseReport([caseHost("web2", "pass")], at, "other")),
    );
    const found = readSourcedDrills(dir, "prod");
    expect(found.map((e) => e.file)).toEqual(["staging/20261201T100000Z.json"]);
    expect(readSourcedDrills(dir, "staging")).toEqual([]);
  });

  it("the Markdown names the source inventory and hosts, where the data was and that it is gone", () => {
    const md = drillMarkdown(sourcedReport());
    expect(md).toContain(
      "| Source | prod (production, inventories/prod.yml): each host restored the newest backups of a host of it from its off-site copy; no host of prod was contacted |",
    );
    expect(md).toContain("## Source data");
    expect(md).toContain("went only into scratch space on these hosts and was dropped afterwards, whatever happened");
    expect(md).toMatch(
      /\| stg1 \| web2 of prod \(drill\.map\) \| s3:\/\/cep-prod\/web2 at https:\/\/s3\.example\.com \(encrypted: decrypted with the source's identity\) \| scratch database gone: \S+; temporary folder removed: \S+ \| removed: \/var\/backups\/\.cepcomunicacion-drill-source-abc123 \|/,
    );
  });

  it("credentialsCleanup reads drill.sh's word on the credential files", () => {
    expect(credentialsCleanup("DRILL|drill|now|1\nDRILL|cleanup|credentials|removed: /x/y\n")).toBe("removed: /x/y");
    expect(credentialsCleanup("")).toMatch(/^not confirmed/);
  });
});
