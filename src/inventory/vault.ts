// The encrypted vault: an age file (X25519 recipient, ASCII armor) holding a YAML map key → secret.
// Same format as `age -e -a -r age1...`, so `age -d -i key.txt vault.age` opens it too, and a vault
// written by the age CLI opens here. Error messages name the file, never a secret.
import { readFile, writeFile, rename, rm } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import YAML from "yaml";
import { InputError } from "../errors.ts";
import { shown } from "./shown.ts";
import { parseYamlDocument } from "./yaml.ts";

/** age-encryption (and its post-quantum and curve code), loaded only by a run that has a vault. */
const ageLib = () => import("age-encryption");

/**
 * A new X25519 identity (`AGE-SECRET-KEY-1...`) and its recipient (`age1...`). Deliberately not
 * age's post-quantum hybrid key: Debian's age 1.1 CLI cannot read those.
 */
export async function generateVaultIdentity(): Promise<{ identity: string; recipient: string }> {
  const age = await ageLib();
  const identity = await age.generateX25519Identity();
  const recipient = await age.identityToRecipient(identity);
  return { identity, recipient };
}

/** The text of an identity file as age-keygen writes it: comment lines plus the key line. */
export function identityFileText(identity: string, recipient?: string): string {
  const lines = [`# created: ${new Date().toISOString()}`];
  if (recipient) lines.push(`# public key: ${recipient}`);
  lines.push(identity, "");
  return lines.join("\n");
}

/** The secret keys in an identity (a bare key, or an age-keygen file with # comments). */
export function parseIdentities(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .filter((l) => /^AGE-SECRET-KEY-1[0-9A-Z]+$/.test(l));
}

const VAULT_KEY = /^[A-Za-z0-9_.-]+$/;

/** Encrypt `map` for `recipient` (age1...) into `file` (armored, mode 0600, written atomically). */
export async function createVault(
  file: string,
  recipient: string | string[],
  map: Record<string, string>,
): Promise<void> {
  for (const [k, v] of Object.entries(map)) {
    if (!VAULT_KEY.test(k))
      throw new InputError([`${file}: vault key ${shown(k)}: expected letters, digits, _ . - only`]);
    if (typeof v !== "string") throw new InputError([`${file}: vault key ${k}: expected a string value`]);
  }
  const age = await ageLib();
  const e = new age.Encrypter();
  for (const r of Array.isArray(recipient) ? recipient : [recipient]) {
    // The post-quantum hybrid is "age1pq1…"; an X25519 key may begin "age1pq" (bech32 data has no "1").
    if (!/^age1[0-9a-z]+$/.test(r) || r.startsWith("age1pq1")) {
      throw new InputError([`${file}: expected an X25519 age recipient (age1...)`]);
    }
    e.addRecipient(r);
  }
  // Double-quoted YAML scalars keep every character (: \ ' " $ ! newlines, non-ASCII) exactly.
  const plaintext = YAML.stringify(map, { defaultStringType: "QUOTE_DOUBLE", defaultKeyType: "PLAIN", lineWidth: 0 });
  const armored = age.armor.encode(await e.encrypt(plaintext));
  const tmp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, armored, { mode: 0o600 });
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Decrypt and parse a vault. `identity` is a key (`AGE-SECRET-KEY-1...`) or the text of an identity
 * file. Accepts armored and binary age files. Throws InputError naming the file (never a value).
 */
export async function readVault(file: string, identity: string): Promise<Record<string, string>> {
  const ids = parseIdentities(identity);
  if (ids.length === 0) throw new InputError([`${file}: the vault identity holds no AGE-SECRET-KEY-1... key`]);
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (e) {
    throw new InputError([
      `${file}: cannot read the vault: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    ]);
  }
  const age = await ageLib();
  let ciphertext: Uint8Array;
  const head = raw.subarray(0, 64).toString("latin1").trimStart();
  try {
    ciphertext = head.startsWith("-----BEGIN AGE ENCRYPTED FILE-----")
      ? age.armor.decode(raw.toString("utf8"))
      : new Uint8Array(raw);
  } catch (e) {
    throw new InputError([`${file}: not a valid ASCII-armored age file: ${(e as Error).message}`]);
  }
  const d = new age.Decrypter();
  for (const id of ids) d.addIdentity(id);
  let text: string;
  try {
    text = await readStreamText(await d.decrypt(streamOf(ciphertext)));
  } catch (e) {
    throw new InputError([`${file}: cannot decrypt the vault with the given identity: ${(e as Error).message}`]);
  }
  return parseVaultText(file, text);
}

// The decryption runs on streams read here: age's own whole-file decrypt reads its output with
// `new Response(stream)`, which loads Node's fetch implementation (undici, ~50 ms) for nothing.
const streamOf = (bytes: Uint8Array): ReadableStream<Uint8Array> =>
  new ReadableStream({
    start(c) {
      c.enqueue(bytes);
      c.close();
    },
  });

async function readStreamText(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>)
    text += decoder.decode(chunk, { stream: true });
  return text + decoder.decode();
}

/** Parse decrypted vault text. Every scalar stays a string (failsafe schema: 0123 stays "0123"). */
export function parseVaultText(file: string, text: string): Record<string, string> {
  // Only the error code: a message could quote a secret.
  const doc = parseYamlDocument(text, file, {
    failsafe: true,
    describe: (err, line, col) => `the decrypted vault is not valid YAML (line ${line}, column ${col}: ${err.code})`,
  });
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) return {};
  if (typeof data !== "object" || Array.isArray(data)) {
    throw new InputError([`${file}: the decrypted vault must be a YAML map of key: secret`]);
  }
  const problems: string[] = [];
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
    if (!VAULT_KEY.test(k)) problems.push(`${file}: vault key ${shown(k)}: expected letters, digits, _ . - only`);
    else if (typeof v !== "string")
      problems.push(`${file}: vault key ${k}: expected a string value, not a nested map or list`);
    else out[k] = v;
  }
  if (problems.length > 0) throw new InputError(problems);
  return out;
}
