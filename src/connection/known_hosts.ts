// Host-key verification against an OpenSSH known_hosts file. Everything here is a pure function of
// its arguments except `verifyHostKey`, the one small function that reads and appends the file.
//
// Supported: plain entries (`host`, `[host]:port`, comma lists, `*`/`?` wildcards, `!negation`),
// hashed entries (`|1|base64(salt)|base64(HMAC-SHA1(salt, name))`, as `ssh-keygen -H` writes them),
// `#` comments and blank lines, `@revoked` (a matching key always fails) and `@cert-authority`
// (ignored: we do not verify host certificates). Lines we cannot parse are skipped, as ssh does.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { HostKeyError } from "../errors.ts";

export type HostSpec = { kind: "hashed"; salt: Buffer; hash: Buffer } | { kind: "patterns"; patterns: string[] };

export interface KnownHostEntry {
  /** 1-based line number in the file, for messages. */
  line: number;
  marker?: "revoked" | "cert-authority";
  hosts: HostSpec;
  keyType: string;
  /** The key blob (base64-decoded). */
  key: Buffer;
}

/** The name ssh looks a host up by: `host` for port 22, `[host]:port` otherwise (lowercased). */
export function hostLookupName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

// The last text parsed and its entries: a run reads the same file for every host it connects to.
let lastParsed: { text: string; entries: readonly KnownHostEntry[] } | undefined;

/** Parse known_hosts text into entries; malformed lines are skipped. The entries are not to be changed. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  if (lastParsed?.text === text) return lastParsed.entries as KnownHostEntry[];
  const entries = parseKnownHostsText(text);
  lastParsed = { text, entries };
  return entries;
}

function parseKnownHostsText(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === "" || raw.startsWith("#")) continue;
    const fields = raw.split(/\s+/);
    let marker: KnownHostEntry["marker"];
    if (fields[0]!.startsWith("@")) {
      const m = fields.shift()!;
      if (m === "@revoked") marker = "revoked";
      else if (m === "@cert-authority") marker = "cert-authority";
      else continue; // unknown marker: ssh ignores the line
    }
    const [hostField, keyType, keyB64] = fields;
    if (!hostField || !keyType || !keyB64 || !BASE64.test(keyB64)) continue;
    const hosts = parseHostField(hostField);
    if (!hosts) continue;
    const key = Buffer.from(keyB64, "base64");
    if (key.length === 0) continue;
    entries.push({ line: i + 1, ...(marker ? { marker } : {}), hosts, keyType, key });
  }
  return entries;
}

function parseHostField(field: string): HostSpec | undefined {
  if (field.startsWith("|1|")) {
    const [, , salt, hash] = field.split("|");
    if (!salt || !hash || !BASE64.test(salt) || !BASE64.test(hash)) return undefined;
    const s = Buffer.from(salt, "base64");
    const h = Buffer.from(hash, "base64");
    if (s.length !== 20 || h.length !== 20) return undefined;
    return { kind: "hashed", salt: s, hash: h };
  }
  if (field.startsWith("|")) return undefined; // another hash format: not supported by ssh either
  const patterns = field.split(",").filter((p) => p !== "");
  return patterns.length ? { kind: "patterns", patterns } : undefined;
}

/** The `|1|salt|hash` form of a lookup name (what `ssh-keygen -H` writes); random salt unless given. */
export function hashHostName(name: string, salt: Buffer): string {
  const hash = createHmac("sha1", salt).update(name).digest();
  return `|1|${salt.toString("base64")}|${hash.toString("base64")}`;
}

/** ssh's wildcard match: `*` any run, `?` one character; case-insensitive. */
export function wildcardMatch(pattern: string, name: string): boolean {
  // Most patterns are plain names: no regex to build (a run checks every line for every host).
  if (!pattern.includes("*") && !pattern.includes("?")) return pattern.toLowerCase() === name.toLowerCase();
  const re = new RegExp(
    `^${pattern
      .toLowerCase()
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
    "s",
  );
  return re.test(name.toLowerCase());
}

/** Does this entry's host field match `host` on `port`? (Negated patterns veto a match.) */
export function entryMatchesHost(entry: Pick<KnownHostEntry, "hosts">, host: string, port: number): boolean {
  const name = hostLookupName(host, port);
  const spec = entry.hosts;
  if (spec.kind === "hashed") {
    const h = createHmac("sha1", spec.salt).update(name).digest();
    return timingSafeEqual(h, spec.hash);
  }
  let matched = false;
  for (const p of spec.patterns) {
    if (p.startsWith("!")) {
      if (wildcardMatch(p.slice(1), name)) return false;
    } else if (wildcardMatch(p, name)) matched = true;
  }
  return matched;
}

/** The key type embedded in an SSH public key blob (its first length-prefixed string). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return "unknown";
  const n = blob.readUInt32BE(0);
  if (n <= 0 || n > 64 || 4 + n > blob.length) return "unknown";
  return blob.subarray(4, 4 + n).toString("latin1");
}

/** OpenSSH-style fingerprint: "SHA256:" + unpadded base64 of the blob's SHA-256. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

export type HostKeyCheck =
  | { status: "known"; line: number }
  | { status: "unknown" }
  | { status: "changed"; line: number; knownKey: Buffer }
  | { status: "revoked"; line: number };

/**
 * Decide what `key` (a blob as the server presented it) means for host:port given the entries:
 * revoked beats everything; a matching entry with the same key is known; a host with any other key
 * recorded, of the same type or not, has a CHANGED key (as OpenSSH: a man in the middle must not
 * get in by not offering the recorded type); only a host with no key recorded is unknown.
 */
export function checkHostKey(entries: KnownHostEntry[], host: string, port: number, key: Buffer): HostKeyCheck {
  const type = keyTypeOf(key);
  const forHost = entries.filter((e) => entryMatchesHost(e, host, port));
  const revoked = forHost.find((e) => e.marker === "revoked" && e.key.equals(key));
  if (revoked) return { status: "revoked", line: revoked.line };
  const plain = forHost.filter((e) => e.marker === undefined);
  const same = plain.find((e) => e.key.equals(key));
  if (same) return { status: "known", line: same.line };
  const changed = plain.find((e) => e.keyType === type || keyTypeOf(e.key) === type) ?? plain[0];
  if (changed) return { status: "changed", line: changed.line, knownKey: changed.key };
  return { status: "unknown" };
}

/** Key types recorded for host:port (plain entries), in file order: used to prefer them in the handshake. */
export function knownKeyTypes(entries: KnownHostEntry[], host: string, port: number): string[] {
  return [
    ...new Set(entries.filter((e) => e.marker === undefined && entryMatchesHost(e, host, port)).map((e) => e.keyType)),
  ];
}

/** The line to record: `[host]:port keytype base64` (or `host keytype base64` for port 22). */
export function knownHostLine(host: string, port: number, key: Buffer): string {
  return `${hostLookupName(host, port)} ${keyTypeOf(key)} ${key.toString("base64")}`;
}

/**
 * The host-key algorithms to offer, most preferred first: the types already recorded for the host
 * (so a host known by its RSA key is not reported as "unknown" because it also has an ed25519 key),
 * then ssh2's defaults. Undefined when nothing is recorded (ssh2's default order applies).
 */
export function preferredHostKeyAlgorithms(knownTypes: string[]): string[] | undefined {
  const defaults = [
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
  ];
  const first: string[] = [];
  for (const t of knownTypes) {
    const algs = t === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [t];
    for (const a of algs) if (defaults.includes(a) && !first.includes(a)) first.push(a);
  }
  if (first.length === 0) return undefined;
  return [...first, ...defaults.filter((a) => !first.includes(a))];
}

// ---- the file I/O --------------------------------------------------------------------------

/** Per-file promise chains: appends (and the read before them) from parallel connections in this process never interleave. */
const fileLocks = new Map<string, Promise<unknown>>();

async function withFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const prev = fileLocks.get(file) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  const tail = run.catch(() => undefined);
  fileLocks.set(file, tail);
  try {
    return await run;
  } finally {
    if (fileLocks.get(file) === tail) fileLocks.delete(file);
  }
}

export async function readKnownHosts(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw e;
  }
}

/**
 * Verify `key` for host:port against `file`. Known: resolves "known". Unknown: throws HostKeyError
 * unless acceptNew, then appends the key (creating the file 0600) and resolves "added". Changed or
 * revoked: always throws HostKeyError.
 */
export async function verifyHostKey(opts: {
  file: string;
  host: string;
  port: number;
  key: Buffer;
  acceptNew: boolean;
}): Promise<"known" | "added"> {
  const file = resolve(opts.file);
  const { host, port, key } = opts;
  const name = hostLookupName(host, port);
  const type = keyTypeOf(key);
  const fp = fingerprint(key);
  return withFileLock(file, async () => {
    const text = await readKnownHosts(file);
    const check = checkHostKey(parseKnownHosts(text), host, port, key);
    switch (check.status) {
      case "known":
        return "known";
      case "revoked":
        throw new HostKeyError(
          `host key for ${name} (${type} ${fp}) is REVOKED in ${file} line ${check.line}; refusing to connect`,
        );
      case "changed":
        throw new HostKeyError(
          `host key for ${name} CHANGED: ${file} line ${check.line} has ${keyTypeOf(check.knownKey)} ` +
            `${fingerprint(check.knownKey)}, the server presented ${type} ${fp} — possible man-in-the-middle attack. ` +
            `If the change is expected, remove the old entry (ssh-keygen -R '${name}' -f ${file}) and connect again ` +
            `with --accept-new-host-keys`,
        );
      case "unknown": {
        if (!opts.acceptNew) {
          throw new HostKeyError(
            `host key for ${name} (${type} ${fp}) is not in ${file}; run with --accept-new-host-keys to record it`,
            true,
          );
        }
        await mkdir(dirname(file), { recursive: true });
        const sep = text === "" || text.endsWith("\n") ? "" : "\n";
        await appendFile(file, `${sep}${knownHostLine(host, port, key)}\n`, { mode: 0o600 });
        return "added";
      }
    }
  });
}
