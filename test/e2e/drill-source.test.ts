// drill --source end to end: a "production" inventory whose hosts are never reachable (their SSH
// port is a listener that counts connections, and must count none) but whose off-site bucket (a
// real S3 server, s3rver) holds their backups; the staging lab's hosts restore them (crossed by
// drill.map, one of them encrypted) into scratch space, verify and drop them, with the staging
// inventory's read-only keys (production's own key is a wrong one: using it would fail), and
// leave no key, identity or folder of the source behind. --live without
// drill.allow_live_from_source, and unequal host counts, are exit 1 with nothing contacted.
// status of the production inventory finds its hosts' drills in staging's report folder.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { execa } from "execa";
import { startTestLab, cli, type TestLab } from "../helpers/lab.ts";
import { startS3, S3_KEY, type S3Server } from "../helpers/s3.ts";
import { connectionCounter } from "../helpers/ports.ts";
import { tmpFilesHolding } from "../helpers/traces.ts";
import { APP, cluster, databases, drillLeftovers, liveRowCounts } from "../helpers/backups.ts";
import { psqlSuper } from "../../src/lab/postgres.ts";

let lab: TestLab;
let s3: S3Server;
let counter: Awaited<ReturnType<typeof connectionCounter>>;
let identity = "";
let recipient = "";
let marker = "";
/** The read-only secret: s3rver checks the key id only (V4 secrets are not verified), so it is unique to this run. */
const roSecret = `ro-${randomBytes(12).toString("hex")}`;
const reportDir = mkdtempSync(join(tmpdir(), "drill-source-reports-"));
/** Row counts of each production host's data when its backups were taken (web1 = lab1's, web2 = lab2's). */
const seeded: Record<string, { tables: number; rows: number }> = {};

const env = (): Record<string, string> => ({
  S3_ID: S3_KEY.accessKeyId,
  S3_SECRET: S3_KEY.secretAccessKey,
  PROD_S3_ID: "NOT-A-KEY",
  PROD_ENC_ID: identity,
  RO_ID: S3_KEY.accessKeyId,
  RO_SECRET: roSecret,
});

/** Production as the drill sees it: web1, web2, unreachable (the counter), their bucket and identity. */
function prodInventory(hosts = ["web1", "web2"]): string {
  const base = lab.inventory();
  const h0 = base.hosts.lab1;
  base.environment = "production";
  base.vars.offsite = {
    enabled: true,
    endpoint: s3.endpoint,
    bucket: s3.bucket,
    // Production's own (read-write) key, wrong here: a drill that used it would be refused.
    access_key_id: { env: "PROD_S3_ID" },
    secret_access_key: { env: "S3_SECRET" },
  };
  delete base.groups;
  base.hosts = Object.fromEntries(hosts.map((n) => [n, { ssh: { ...h0.ssh, port: counter.port }, vars: {} }]));
  base.hosts.web1.vars.encryption = {
    recipients: [recipient],
    identity: { env: "PROD_ENC_ID" },
    scope: ["database", "media"],
  };
  return lab.writeInventory("prod.yml", base);
}

/** Staging: the lab's hosts, no off-site copy of their own, restoring prod crossed (lab1 ← web2, lab2 ← web1). */
function stagingInventory(edit: (inv: any) => void = () => {}): string {
  const inv = lab.inventory();
  inv.environment = "staging";
  inv.vars.offsite = { enabled: false };
  inv.vars.drill = {
    source_offsite: { access_key_id: { env: "RO_ID" }, secret_access_key: { env: "RO_SECRET" } },
    map: { lab1: "web2", lab2: "web1" },
  };
  edit(inv);
  return lab.writeInventory("staging-src.yml", inv);
}

beforeAll(async () => {
  [lab, s3, counter] = await Promise.all([startTestLab(2), startS3(), connectionCounter()]);
  const k = (await execa("age-keygen", [], { env: { PATH: process.env.PATH! }, extendEnv: false })).stdout;
  identity = k.split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"))!;
  recipient = (await execa("age-keygen", ["-y"], { input: identity })).stdout.trim();
  // lab2's data differs from lab1's, so a restore shows whose backups it was.
  const [h1, h2] = lab.state.hosts;
  await psqlSuper(
    cluster(h2!),
    // Owned by the app's role, as its tables are (the backup reads them as that role).
    "CREATE TABLE prod_marker (i int); INSERT INTO prod_marker SELECT generate_series(1, 7); ALTER TABLE prod_marker OWNER TO cepcomunicacion;",
    APP,
  );
  // Production's backups in the bucket: the lab's hosts provisioned as web1 and web2 with the off-site
  // copy on (web1 encrypted); the smoke test backs up and copies every kind.
  const seed = lab.inventory();
  seed.vars.offsite = {
    enabled: true,
    endpoint: s3.endpoint,
    bucket: s3.bucket,
    access_key_id: { env: "S3_ID" },
    secret_access_key: { env: "S3_SECRET" },
  };
  seed.hosts.lab1.vars.offsite = { prefix: "web1" };
  seed.hosts.lab1.vars.encryption = {
    recipients: [recipient],
    identity: { env: "PROD_ENC_ID" },
    scope: ["database", "media"],
  };
  seed.hosts.lab2.vars.offsite = { prefix: "web2" };
  const r = await cli("provision", [lab.writeInventory("seed.yml", seed)], { env: env() });
  if (r.code !== 0) throw new Error(`seeding production's bucket failed (exit ${r.code}): ${r.stderr}\n${r.stdout}`);
  for (const [name, h] of [
    ["web1", h1!],
    ["web2", h2!],
  ] as const) {
    const live = await liveRowCounts(h);
    seeded[name] = { tables: Object.keys(live).length, rows: Object.values(live).reduce((a, b) => a + b, 0) };
  }
  expect(seeded.web2!.rows).toBe(seeded.web1!.rows + 7);
  // The lab's hosts become staging hosts: their own off-site keys gone, the off-site copy off.
  for (const h of lab.state.hosts) rmSync(`${h.prefix}/etc/${APP}/backup-offsite.rclone.conf`, { force: true });
  const c = await cli("config", [stagingInventory()], { env: env() });
  if (c.code !== 0) throw new Error(`staging config failed (exit ${c.code}): ${c.stderr}\n${c.stdout}`);
  marker = join(lab.dir, "before-drill");
  writeFileSync(marker, "");
});
afterAll(async () => {
  counter?.close();
  rmSync(reportDir, { recursive: true, force: true });
  await lab?.down();
  await s3?.destroy();
});

describe("drill --source", () => {
  it("--live without drill.allow_live_from_source, and unequal host counts: exit 1, no host contacted", async () => {
    const staging = await connectionCounter();
    try {
      // Staging's hosts behind a counter too: nothing may be contacted on either side.
      const stg = stagingInventory((i) => {
        for (const h of Object.values<any>(i.hosts)) h.ssh.port = staging.port;
      });
      const before = readdirSync(reportDir);
      const live = await cli(
        "drill",
        [stg, "--source", prodInventory(), "--live", "--force", "--report-dir", reportDir],
        {
          env: env(),
        },
      );
      expect(live.code, live.stdout + live.stderr).toBe(1);
      expect(live.stderr).toMatch(
        /staging-src\.yml: drill\.allow_live_from_source: expected true for lab1, lab2 to restore the data of ".*prod\.yml" over their live data with --live \(the default, false, allows source data only into scratch space: --scratch\)/,
      );
      const unequal = stagingInventory((i) => {
        for (const h of Object.values<any>(i.hosts)) h.ssh.port = staging.port;
        delete i.vars.drill.map;
      });
      const three = await cli("drill", [unequal, "--source", prodInventory(["web1", "web2", "web3"]), "--force"], {
        env: env(),
      });
      expect(three.code, three.stdout + three.stderr).toBe(1);
      expect(three.stderr).toMatch(
        /staging-src\.yml: drill\.map: expected one: pairing by position needs as many hosts in .*staging-src\.yml as in .*prod\.yml, which has 3 \(web1, web2, web3\) for 2 \(lab1, lab2\)/,
      );
      expect(staging.count()).toBe(0);
      expect(counter.count()).toBe(0);
      expect(readdirSync(reportDir)).toEqual(before);
    } finally {
      staging.close();
    }
  });

  it("restores production's backups from its bucket into scratch space, verifies, drops; production never contacted, nothing of it left", async () => {
    const dbsBefore = await Promise.all(lab.state.hosts.map((h) => databases(h)));
    const r = await cli(
      "drill",
      [stagingInventory(), "--source", prodInventory(), "--force", "--report-dir", reportDir],
      {
        env: env(),
      },
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(counter.count()).toBe(0);
    expect(r.report.drill.verdict).toBe("PASSED");
    expect(r.report.drill.source).toMatchObject({
      inventory_name: "prod",
      environment: "production",
      mode: "scratch",
      hosts: { lab1: "web2", lab2: "web1" },
    });
    for (const [i, h] of r.report.hosts.entries()) {
      const from = h.name === "lab1" ? "web2" : "web1";
      expect(h.status, JSON.stringify(h.tasks)).toBe("ok");
      expect(h.source).toMatchObject({
        inventory_name: "prod",
        host: from,
        via: "drill.map",
        bucket: s3.bucket,
        prefix: from,
        endpoint: s3.endpoint,
        encrypted: from === "web1",
      });
      expect(h.source.credentials).toMatch(new RegExp(`^removed: .*/\\.${APP}-drill-source-\\w+$`));
      const d = h.drill;
      expect(d.verdict).toBe("PASSED");
      for (const name of ["database", "media", "config", "monthly"]) {
        const c = d.components[name];
        expect(c.status, `${h.name} ${name}: ${c.details}`).toBe("passed");
        expect(c.source).toBe("offsite");
        expect(c.fetch_ms).toBeGreaterThan(0);
        // Downloaded into the drill's temporary folder, never from the host's own backups.
        expect(c.backup).toContain(d.workdir);
      }
      // The paired production host's data: lab1 got web2's (with prod_marker), lab2 web1's (decrypted).
      expect(d.components.database.restored).toEqual(seeded[from]);
      expect(d.components.database.backup).toMatch(from === "web1" ? /\.dump\.age$/ : /\.dump$/);
      expect(d.cleanup).toMatchObject({ status: "passed", scratch_db: expect.stringMatching(/^gone: /) });
      expect(d.cleanup.workdir).toMatch(/^removed: /);
      const host = lab.state.hosts[i]!;
      expect(await databases(host)).toEqual(dbsBefore[i]);
      expect(drillLeftovers(host)).toEqual([]);
      // last-drill.json names the source.
      const last = JSON.parse(readFileSync(`${host.prefix}/var/lib/${APP}-backup/last-drill.json`, "utf8"));
      expect(last).toMatchObject({ verdict: "PASSED", source: { inventory: "prod", host: from } });
    }
    // The reports name the source and say where its data was and that it is gone.
    const md = readFileSync(r.report.drill.report_files.markdown, "utf8");
    expect(md).toMatch(
      /\| Source \| prod \(production, .*prod\.yml\): each host restored the newest backups of a host of it from its off-site copy; no host of prod was contacted \|/,
    );
    expect(md).toContain("went only into scratch space on these hosts and was dropped afterwards, whatever happened");
    expect(md).toMatch(
      /\| lab1 \| web2 of prod \(drill\.map\) \| s3:\/\/cep-offsite\/web2 at http:\/\/127\.0\.0\.1:\d+ \| scratch database gone: \S+; temporary folder removed: \S+ \| removed: \S+ \|/,
    );
    expect(JSON.parse(readFileSync(r.report.drill.report_files.json, "utf8")).drill.source.inventory_name).toBe("prod");
    // No read-only key, identity or production secret anywhere: output, reports, the hosts, /tmp.
    const all = r.stdout + r.stderr + JSON.stringify(r.report) + md;
    for (const secret of [roSecret, identity]) {
      expect(all).not.toContain(secret);
      expect(await tmpFilesHolding(marker, secret)).toBe("");
      const tree = await execa("grep", ["-rlF", "--", secret, lab.dir], { reject: false });
      expect(tree.stdout).toBe("");
    }
  });

  it("a source host with nothing in the bucket fails its staging host (exit 2) with the reason; scratch space and credentials are removed all the same", async () => {
    const failDir = mkdtempSync(join(tmpdir(), "drill-source-fail-"));
    try {
      const stg = stagingInventory((i) => (i.vars.drill.map = { lab1: "web3", lab2: "web1" }));
      const r = await cli(
        "drill",
        [stg, "--source", prodInventory(["web1", "web2", "web3"]), "--force", "--report-dir", failDir],
        {
          env: env(),
        },
      );
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(counter.count()).toBe(0);
      const [a, b] = r.report.hosts;
      expect(a.status).toBe("failed");
      expect(a.drill.components.database.details).toMatch(
        /^fetch-offsite\.sh exit 1: no complete database backup in s3:\/\/cep-offsite\/web3 at http:\/\/127\.0\.0\.1:\d+/,
      );
      expect(b.status).toBe("ok");
      for (const [i, h] of r.report.hosts.entries()) {
        expect(h.drill.cleanup.status).toBe("passed");
        expect(h.source.credentials).toMatch(/^removed: /);
        expect(drillLeftovers(lab.state.hosts[i]!)).toEqual([]);
      }
    } finally {
      rmSync(failDir, { recursive: true, force: true });
    }
  });

  it("status of the production inventory finds its hosts' drills in staging's report folder", async () => {
    // Production's hosts, reachable this time (status runs check-backups on them): the lab's, as web1/web2.
    const base = lab.inventory();
    const dir = join(lab.dir, "status");
    mkdirSync(dir, { recursive: true });
    base.environment = "production";
    base.known_hosts = join(lab.dir, "known_hosts");
    base.vault = { file: join(lab.dir, "vault.age"), identity_file: join(lab.dir, "vault-key.txt") };
    delete base.groups;
    base.hosts = { web1: base.hosts.lab2, web2: base.hosts.lab1 };
    for (const h of Object.values<any>(base.hosts)) h.ssh.private_key = join(lab.dir, "id_ed25519");
    const file = join(dir, "prod.yml");
    writeFileSync(file, (await import("yaml")).default.stringify(base));
    const r = await cli("status", [file, "--report-dir", reportDir], { env: env() });
    for (const h of r.report.hosts) {
      expect(h.drill_status, h.name).toMatchObject({ status: "OK", verdict: "PASSED" });
      expect(h.drill_status.report).toMatch(/^\d{8}T\d{6}Z\.json$/);
    }
    expect(r.stdout).toMatch(/^web1 +\S+ +PASSED /m);
    expect(existsSync(reportDir)).toBe(true);
  });
});
