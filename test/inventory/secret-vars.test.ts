import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadInventory } from "../../src/inventory/load.ts";
import { SECRET_VAR_PATHS } from "../../src/inventory/secret-vars.ts";
import { MINIMAL, problemsOf, tempProject } from "./helpers.ts";

let proj: Awaited<ReturnType<typeof tempProject>>;
beforeEach(async () => {
  proj = await tempProject();
});
afterEach(async () => {
  await proj.cleanup();
});

const IDENTITY = "AGE-SECRET-KEY-1" + "Q".repeat(58);

const inventory = (vars: string) =>
  MINIMAL.replace(
    "vars:\n  database:\n    password: { env: DB_PW }",
    `vars:\n  database:\n    password: { env: DB_PW }\n${vars}`,
  );

describe("secret vars", () => {
  it("resolves every secret var, layer by layer, and masks each value", async () => {
    await proj.write(
      "inventories/s.yml",
      inventory(`  alerts:
    smtp: { url: "smtps://smtp.example.com:465", from: a@example.com, user: a@example.com }
    healthchecks: { media: { env: HC_MEDIA }, check: "https://hc.example.com/plain" }
  offsite:
    enabled: true
    endpoint: https://s3.example.com
    bucket: backups
    access_key_id: { env: S3_ID }
    secret_access_key: { env: S3_KEY }
  encryption:
    recipients: [age1gacpdfl6ge26g2nrtznsxr0eamktf20trncgkulrss28gvyenezsykxrf7]
    identity: { env: AGE_ID }
    scope: [database]
groups:
  g:
    hosts: [h1]
    vars:
      alerts: { smtp: { password: { env: SMTP_PW } } }`),
    );
    const env = {
      DB_PW: "pw",
      HC_MEDIA: "https://hc.example.com/m",
      S3_ID: "id1",
      S3_KEY: "k/e+y",
      AGE_ID: IDENTITY,
      SMTP_PW: "sm tp",
    };
    const inv = await loadInventory("s", { cwd: proj.dir, env });
    const v = inv.hosts[0]!.vars;
    expect(v.alerts.smtp).toEqual({
      url: "smtps://smtp.example.com:465",
      from: "a@example.com",
      user: "a@example.com",
      password: "sm tp",
    });
    expect(v.alerts.healthchecks).toEqual({ media: env.HC_MEDIA, check: "https://hc.example.com/plain" });
    expect([v.offsite.access_key_id, v.offsite.secret_access_key, v.offsite.prefix]).toEqual(["id1", "k/e+y", "h1"]);
    expect(v.encryption.identity).toBe(IDENTITY);
    expect([...inv.secrets].sort()).toEqual(Object.values(env).sort());
  });

  it("checks resolved values without showing them", async () => {
    await proj.write(
      "inventories/s.yml",
      inventory(`  offsite: { enabled: false, access_key_id: { env: S3_ID }, secret_access_key: { env: S3_KEY } }
  encryption: { recipients: [], identity: { env: AGE_ID }, scope: [] }
  alerts: { healthchecks: { database: { env: HC } } }`),
    );
    // A quote in an S3 key: rclone's config parser would strip it (the key lands in that file).
    const env = { DB_PW: "pw", S3_ID: "has space", S3_KEY: '"quoted', AGE_ID: "not-an-identity", HC: "ftp://x" };
    const problems = await problemsOf(loadInventory("s", { cwd: proj.dir, env }));
    expect(problems).toEqual([
      "inventories/s.yml: vars.alerts.healthchecks.database: expected environment variable HC to hold an http(s) URL without spaces or quotes (value not shown)",
      "inventories/s.yml: vars.offsite.access_key_id: expected environment variable S3_ID to hold a key without spaces, quotes or control characters (value not shown)",
      "inventories/s.yml: vars.offsite.secret_access_key: expected environment variable S3_KEY to hold a key without spaces, quotes or control characters (value not shown)",
      "inventories/s.yml: vars.encryption.identity: expected environment variable AGE_ID to hold an age identity (AGE-SECRET-KEY-1...) (value not shown)",
    ]);
    for (const p of problems)
      for (const value of ["has space", '"quoted', "not-an-identity", "ftp://x"]) expect(p).not.toContain(value);
  });

  it("never accepts a plaintext secret where a reference belongs", async () => {
    await proj.write("inventories/s.yml", inventory(`  offsite: { enabled: false, secret_access_key: plaintext }`));
    expect(await problemsOf(loadInventory("s", { cwd: proj.dir, env: { DB_PW: "pw" } }))).toEqual([
      "inventories/s.yml: vars.offsite.secret_access_key: expected a secret reference { env: NAME } or { vault: key } (secrets are never plaintext in an inventory)",
    ]);
  });

  it("lists the secret paths the merge treats as leaves", () => {
    expect([...SECRET_VAR_PATHS]).toContain("encryption.identity");
    expect([...SECRET_VAR_PATHS]).toContain("alerts.smtp.password");
  });
});

describe("rules of the off-site and encryption vars", () => {
  it("an encryption scope needs recipients", async () => {
    await proj.write("inventories/s.yml", inventory(`  encryption: { recipients: [], scope: [database] }`));
    expect(await problemsOf(loadInventory("s", { cwd: proj.dir, env: { DB_PW: "pw" } }))).toEqual([
      "inventories/s.yml: vars.encryption.scope: expected encryption.recipients (age public keys) to be set: nothing can be encrypted without them",
    ]);
  });
  it("a parallel dump (database.dump_jobs > 1) is refused with the database in the encryption scope", async () => {
    const key = `age1${"q".repeat(58)}`;
    await proj.write(
      "inventories/s.yml",
      inventory(`    dump_jobs: 2\n  encryption: { recipients: [${key}], scope: [database] }`),
    );
    expect(await problemsOf(loadInventory("s", { cwd: proj.dir, env: { DB_PW: "pw" } }))).toEqual([
      "inventories/s.yml: vars.database.dump_jobs: expected 1 when encryption.scope has database: a parallel dump writes a plaintext directory to disk before it is archived",
    ]);
  });
  it("a recipient must be an age public key and a scope a known kind", async () => {
    await proj.write("inventories/s.yml", inventory(`  encryption: { recipients: [ssh-ed25519 AAAA], scope: [logs] }`));
    expect(await problemsOf(loadInventory("s", { cwd: proj.dir, env: { DB_PW: "pw" } }))).toEqual([
      "inventories/s.yml: vars.encryption.recipients[0]: expected an age public key (age1...)",
      "inventories/s.yml: vars.encryption.scope[0]: expected one of database, media",
    ]);
  });
});
