// The vault against the real age CLI (Debian's /usr/bin/age), both directions, and through the loader.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import YAML from "yaml";
import { InputError } from "../../src/errors.ts";
import { loadInventory } from "../../src/inventory/load.ts";
import { createVault, generateVaultIdentity, identityFileText, readVault } from "../../src/inventory/vault.ts";
import { problemsOf, tempProject } from "./helpers.ts";

const run = promisify(execFile);
const AGE = "/usr/bin/age";
const AGE_KEYGEN = "/usr/bin/age-keygen";

const TRICKY = `a:b\\c'd"e$f!g #h ñ 密码 {x} [y] - *z &w`;
const MAP = {
  db_password: TRICKY,
  slack: "https://hooks.slack.example/T/B/tok",
  numeric: "0123",
  yes: "yes",
  multi: "line1\nline2",
};

let proj: Awaited<ReturnType<typeof tempProject>>;
beforeEach(async () => {
  proj = await tempProject();
});
afterEach(async () => {
  await proj.cleanup();
});

describe("vault and the age CLI", () => {
  it("generates an X25519 identity (not the post-quantum hybrid)", async () => {
    const { identity, recipient } = await generateVaultIdentity();
    expect(identity).toMatch(/^AGE-SECRET-KEY-1[0-9A-Z]+$/);
    expect(recipient).toMatch(/^age1[0-9a-z]{58}$/);
    // The hybrid's prefix is "age1pq1"; an X25519 recipient can begin "age1pq" (its data never holds a "1").
    expect(recipient.startsWith("age1pq1")).toBe(false);
  });

  it("a vault we write opens with `age -d -i`", async () => {
    const { identity, recipient } = await generateVaultIdentity();
    const key = await proj.write("key.txt", identityFileText(identity, recipient));
    const vault = path.join(proj.dir, "v.age");
    await createVault(vault, recipient, MAP);
    const text = await readFile(vault, "utf8");
    expect(text.startsWith("-----BEGIN AGE ENCRYPTED FILE-----\n")).toBe(true);
    expect(text).not.toContain("db_password");
    const { stdout } = await run(AGE, ["-d", "-i", key, vault], { encoding: "utf8" });
    expect(YAML.parse(stdout)).toEqual(MAP);
    // and opens with our own reader, from the bare key or the identity file text
    expect(await readVault(vault, identity)).toEqual(MAP);
    expect(await readVault(vault, await readFile(key, "utf8"))).toEqual(MAP);
  });

  it("a vault made with `age -e -a -r` (key from age-keygen) opens with readVault", async () => {
    const key = path.join(proj.dir, "cli.key");
    await run(AGE_KEYGEN, ["-o", key]);
    const keyText = await readFile(key, "utf8");
    const recipient = /# public key: (age1[0-9a-z]+)/.exec(keyText)![1]!;
    const plain = await proj.write("plain.yml", YAML.stringify(MAP));
    const vault = path.join(proj.dir, "cli.age");
    await run(AGE, ["-e", "-a", "-r", recipient, "-o", vault, plain]);
    expect(await readVault(vault, keyText)).toEqual(MAP);
    // binary (non-armored) age files too
    const bin = path.join(proj.dir, "cli.bin.age");
    await run(AGE, ["-e", "-r", recipient, "-o", bin, plain]);
    expect(await readVault(bin, keyText)).toEqual(MAP);
  });

  it("keeps every vault value a string (failsafe YAML)", async () => {
    const { identity, recipient } = await generateVaultIdentity();
    const plain = await proj.write("plain.yml", "pin: 0123\nflag: yes\nempty_ok: ''\n");
    const vault = path.join(proj.dir, "v.age");
    await run(AGE, ["-e", "-a", "-r", recipient, "-o", vault, plain]);
    expect(await readVault(vault, identity)).toEqual({ pin: "0123", flag: "yes", empty_ok: "" });
  });

  it("a wrong identity, a missing file and a non-map vault are InputErrors naming the file, never a value", async () => {
    const a = await generateVaultIdentity();
    const b = await generateVaultIdentity();
    const vault = path.join(proj.dir, "v.age");
    await createVault(vault, a.recipient, MAP);
    const wrong = await problemsOf(readVault(vault, b.identity));
    expect(wrong).toHaveLength(1);
    expect(wrong[0]).toMatch(
      new RegExp(`^${vault.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: cannot decrypt the vault with the given identity`),
    );
    expect(await problemsOf(readVault(path.join(proj.dir, "nope.age"), a.identity))).toEqual([
      `${path.join(proj.dir, "nope.age")}: cannot read the vault: ENOENT`,
    ]);
    expect(await problemsOf(readVault(vault, "not a key"))).toEqual([
      `${vault}: the vault identity holds no AGE-SECRET-KEY-1... key`,
    ]);
    // broken YAML inside: the message must not quote the line holding the secret
    const plain = await proj.write("plain.yml", 'db: "unterminated S3CRETVALUE\nother: [\n');
    await run(AGE, ["-e", "-a", "-r", a.recipient, "-o", vault, plain]);
    const broken = await problemsOf(readVault(vault, a.identity));
    expect(broken.length).toBeGreaterThan(0);
    expect(broken[0]).toMatch(/the decrypted vault is not valid YAML \(line \d+, column \d+: [A-Z_]+\)$/);
    expect(broken.join("\n")).not.toContain("S3CRET");
    await writeFile(plain, "nested: { a: S3CRETVALUE }\n");
    await run(AGE, ["-e", "-a", "-r", a.recipient, "-o", vault, plain]);
    const nested = await problemsOf(readVault(vault, a.identity));
    expect(nested).toEqual([`${vault}: vault key nested: expected a string value, not a nested map or list`]);
  });

  it("createVault takes an X25519 recipient whose data begins with pq (1 key in 1024: a lab vault failed on one)", async () => {
    const f = path.join(proj.dir, "pq.age");
    await createVault(f, "age1pq7tnhxmp6ymmjgehzww5pk03vrjm3lxnvxj5vz9ke3zwky9dujsv0uw0w", { k: "v" });
    expect(existsSync(f)).toBe(true);
  });

  it("createVault refuses a post-quantum or malformed recipient", async () => {
    await expect(createVault(path.join(proj.dir, "x.age"), "age1pq1xyz", {})).rejects.toBeInstanceOf(InputError);
    await expect(createVault(path.join(proj.dir, "x.age"), "ssh-ed25519 AAAA", {})).rejects.toBeInstanceOf(InputError);
  });
});

describe("vault secrets through the loader", () => {
  async function setup(vaultSection: string) {
    const { identity, recipient } = await generateVaultIdentity();
    await proj.write("inventories/keys/vault.key", identityFileText(identity, recipient));
    await createVault(path.join(proj.dir, "inventories/stg.vault.age"), recipient, {
      db_password: TRICKY,
      slack: "https://hooks.slack.example/T/B/tok",
    });
    await proj.write(
      "inventories/stg.yml",
      `environment: staging
${vaultSection}
vars:
  database: { password: { vault: db_password } }
  alerts: { slack_webhook: { vault: slack } }
hosts:
  h1: { ssh: { host: 198.51.100.1 } }
  h2:
    ssh: { host: 198.51.100.2 }
    vars: { alerts: { discord_webhook: { vault: nope } } }
`,
    );
    return { identity, recipient };
  }

  it("resolves { vault: key } with identity_file (relative to the inventory)", async () => {
    await setup("vault: { file: stg.vault.age, identity_file: keys/vault.key }");
    const problems = await problemsOf(loadInventory("stg", { cwd: proj.dir, env: {} }));
    expect(problems).toEqual([
      "inventories/stg.yml: hosts.h2.vars.alerts.discord_webhook: vault key nope not found in inventories/stg.vault.age",
    ]);
    await proj.write(
      "inventories/stg.yml",
      (await readFile(path.join(proj.dir, "inventories/stg.yml"), "utf8")).replace(
        "{ vault: nope }",
        "{ vault: slack }",
      ),
    );
    const inv = await loadInventory("stg", { cwd: proj.dir, env: {} });
    expect(inv.hosts[0]!.vars.database.password).toBe(TRICKY);
    expect(inv.hosts[1]!.vars.alerts.discord_webhook).toBe("https://hooks.slack.example/T/B/tok");
    expect(inv.secrets).toContain(TRICKY);
    expect(inv.secrets).toContain("https://hooks.slack.example/T/B/tok");
    expect(inv.secrets.some((s) => s.startsWith("AGE-SECRET-KEY-1"))).toBe(true);
  });

  it("resolves with identity_env, and names the variable when it is missing", async () => {
    const { identity } = await setup("vault: { file: ./stg.vault.age, identity_env: STG_VAULT_KEY }");
    await proj.write(
      "inventories/stg.yml",
      (await readFile(path.join(proj.dir, "inventories/stg.yml"), "utf8")).replace(
        "{ vault: nope }",
        "{ vault: slack }",
      ),
    );
    const inv = await loadInventory("stg", { cwd: proj.dir, env: { STG_VAULT_KEY: identity } });
    expect(inv.hosts[0]!.vars.database.password).toBe(TRICKY);
    expect(await problemsOf(loadInventory("stg", { cwd: proj.dir, env: {} }))).toEqual([
      "inventories/stg.yml: vault.identity_env: environment variable STG_VAULT_KEY is not set (it must hold the vault's AGE-SECRET-KEY-1... identity)",
    ]);
  });

  it("a wrong identity is reported once against vault.file, with no secret in it", async () => {
    await setup("vault: { file: stg.vault.age, identity_env: K }");
    const other = await generateVaultIdentity();
    const problems = await problemsOf(loadInventory("stg", { cwd: proj.dir, env: { K: other.identity } }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^inventories\/stg\.yml: vault\.file: inventories\/stg\.vault\.age: cannot decrypt the vault with the given identity/,
    );
    expect(problems[0]).not.toContain(other.identity);
  });

  it("an env ref and a vault ref in different layers replace each other, never merge", async () => {
    await setup("vault: { file: stg.vault.age, identity_file: keys/vault.key }");
    await proj.write(
      "inventories/mixed.yml",
      `environment: staging
vault: { file: stg.vault.age, identity_file: keys/vault.key }
vars: { database: { password: { env: LOWER_PW } } }
hosts:
  h1:
    ssh: { host: 198.51.100.1 }
    vars: { database: { password: { vault: db_password } } }
  h2: { ssh: { host: 198.51.100.2 } }
`,
    );
    const inv = await loadInventory("mixed", { cwd: proj.dir, env: { LOWER_PW: "lower" } });
    expect(inv.hosts.map((h) => h.vars.database.password)).toEqual([TRICKY, "lower"]);
  });

  it("a { vault } ref without a vault section, and a vault section without identity, are bad input", async () => {
    await proj.write(
      "inv.yml",
      "environment: lab\nvars: { database: { password: { vault: db } } }\nhosts:\n  a: { ssh: { host: 127.0.0.1 } }\n",
    );
    expect(await problemsOf(loadInventory("inv.yml", { cwd: proj.dir, env: {} }))).toEqual([
      "inv.yml: vars.database.password: { vault: db } needs a vault section in inv.yml (vault: { file, identity_file | identity_env })",
    ]);
    await proj.write(
      "inv.yml",
      "environment: lab\nvault: { file: v.age }\nvars: { database: { password: { env: PW } } }\nhosts:\n  a: { ssh: { host: 127.0.0.1 } }\n",
    );
    expect(await problemsOf(loadInventory("inv.yml", { cwd: proj.dir, env: { PW: "x" } }))).toEqual([
      "inv.yml: vault: expected identity_file (a path to an age identity file) or identity_env (an environment variable holding the identity)",
    ]);
  });
});
