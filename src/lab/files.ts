// What the lab writes for the playbooks: the age vault with the database password, the
// inventory and known_hosts (rewritten on every up).
import { randomBytes, randomInt } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join, resolve } from "node:path";
import YAML from "yaml";
import { inventorySchema } from "../inventory/schema.ts";
import { createVault, generateVaultIdentity, identityFileText, readVault } from "../inventory/vault.ts";
import { APP, DEFAULT_LAB_DIR, LAB_PASSWORD_KEY, LabError, writeAtomic, type LabHost, type LabState } from "./state.ts";

/** A fresh password full of shell and pgpass metacharacters: `: \ ' " $ !` and a space. */
export function generateLabPassword(): string {
  const chars = [...randomBytes(18).toString("base64url").replace(/[-_]/g, "x")];
  for (const m of [":", "\\", "'", '"', "$", "!", " "]) chars.splice(1 + randomInt(chars.length - 1), 0, m);
  return chars.join("");
}

async function writeVault(file: string, identityFile: string, map: Record<string, string>): Promise<void> {
  const { identity, recipient } = await generateVaultIdentity();
  writeAtomic(identityFile, identityFileText(identity, recipient), 0o600);
  await createVault(file, recipient, map);
}

/** The lab's app database password, decrypted from its vault. */
export async function labDbPassword(dir: string = DEFAULT_LAB_DIR): Promise<string> {
  const d = resolve(dir);
  const v = await readVault(join(d, "vault.age"), readFileSync(join(d, "vault-key.txt"), "utf8"));
  const pw = v[LAB_PASSWORD_KEY];
  if (typeof pw !== "string" || pw === "") throw new LabError(`${join(d, "vault.age")} has no ${LAB_PASSWORD_KEY}`);
  return pw;
}

/** The lab's database password: from its vault, or a new one in a new vault. */
export async function ensureVault(dir: string): Promise<string> {
  const file = join(dir, "vault.age");
  const idFile = join(dir, "vault-key.txt");
  if (existsSync(file) && existsSync(idFile)) {
    try {
      return await labDbPassword(dir);
    } catch {
      // unreadable: make a new one (createAppDatabase resets the role's password on every up)
    }
  }
  const password = generateLabPassword();
  await writeVault(file, idFile, { [LAB_PASSWORD_KEY]: password });
  return password;
}

/** The lab's inventory: every host with its ports and prefix; the password from the vault. */
export function inventoryYaml(state: LabState): string {
  const hosts: Record<string, unknown> = {};
  for (const h of state.hosts) {
    hosts[h.name] = {
      ssh: { host: "127.0.0.1", port: h.sshPort, user: h.user, private_key: "./id_ed25519" },
      // sshd-only hosts have no database: their pgpass cannot be checked by logging in.
      vars: { prefix: h.prefix, database: { port: h.pgPort, ...(state.sshOnly ? { check_login: false } : {}) } },
    };
  }
  const vars: Record<string, unknown> = {
    app: APP,
    database: { host: "127.0.0.1", name: APP, user: APP, password: { vault: LAB_PASSWORD_KEY } },
  };
  const user = userInfo().username;
  if (userInfo().uid !== 0) vars.backup_user = user;
  const doc = {
    environment: "lab",
    known_hosts: "./known_hosts",
    vault: { file: "./vault.age", identity_file: "./vault-key.txt" },
    vars,
    groups: { lab: { hosts: state.hosts.map((h) => h.name) } },
    hosts,
  };
  const parsed = inventorySchema.safeParse(doc);
  if (!parsed.success) throw new Error(`the lab inventory does not validate: ${parsed.error.message}`);
  return `# The lab's inventory, written by \`npm run lab -- up\` (rewritten on every up; edits are lost).\n${YAML.stringify(doc)}`;
}

/** known_hosts: each host's key under its loopback port. */
export function knownHostsText(hosts: readonly Pick<LabHost, "sshPort" | "hostKeyPub">[]): string {
  return hosts.map((h) => `[127.0.0.1]:${h.sshPort} ${h.hostKeyPub}\n`).join("");
}
