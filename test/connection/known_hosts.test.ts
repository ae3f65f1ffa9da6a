// Pure known_hosts parsing/matching, checked against files OpenSSH's own ssh-keygen writes, plus the
// one file-I/O function (creation mode, newline repair, parallel appends).
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { execa } from "execa";
import { ensureKeyPair } from "../../src/lab/sshd.ts";
import { HostKeyError } from "../../src/errors.ts";
import {
  checkHostKey,
  entryMatchesHost,
  fingerprint,
  hashHostName,
  hostLookupName,
  keyTypeOf,
  knownHostLine,
  knownKeyTypes,
  parseKnownHosts,
  preferredHostKeyAlgorithms,
  verifyHostKey,
  wildcardMatch,
} from "../../src/connection/known_hosts.ts";

let dir: string;
let keyA: { line: string; type: string; b64: string; blob: Buffer };
let keyB: { line: string; type: string; b64: string; blob: Buffer };
let rsa: { line: string; type: string; b64: string; blob: Buffer };

async function makeKey(name: string, type = "ed25519") {
  const path = join(dir, name);
  if (type === "ed25519") await ensureKeyPair(path);
  else await execa("ssh-keygen", ["-q", "-t", type, "-b", "2048", "-N", "", "-f", path]);
  const line = readFileSync(`${path}.pub`, "utf8").trim();
  const [t, b64] = line.split(" ") as [string, string];
  return { line, type: t, b64, blob: Buffer.from(b64, "base64") };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cep-kh-"));
  [keyA, keyB, rsa] = await Promise.all([makeKey("a"), makeKey("b"), makeKey("r", "rsa")]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("parsing", () => {
  it("reads plain, bracketed, listed, marked and hashed entries; skips comments and junk", () => {
    const salt = randomBytes(20);
    const text = [
      "# a comment",
      "",
      `web1.example.com,198.51.100.7 ${keyA.type} ${keyA.b64} comment here`,
      `[127.0.0.1]:2222 ${keyB.type} ${keyB.b64}`,
      `@revoked * ${rsa.type} ${rsa.b64}`,
      `@cert-authority *.example.com ${keyA.type} ${keyA.b64}`,
      `@bogus host ${keyA.type} ${keyA.b64}`,
      "justonefield",
      `host ${keyA.type} not*base64`,
      `${hashHostName("[10.0.0.1]:22022", salt)} ${keyA.type} ${keyA.b64}`,
      "   ",
    ].join("\n");
    const entries = parseKnownHosts(text);
    expect(entries.map((e) => e.line)).toEqual([3, 4, 5, 6, 10]);
    expect(entries[0]!.hosts).toEqual({ kind: "patterns", patterns: ["web1.example.com", "198.51.100.7"] });
    expect(entries[0]!.key.equals(keyA.blob)).toBe(true);
    expect(entries[2]!.marker).toBe("revoked");
    expect(entries[3]!.marker).toBe("cert-authority");
    expect(entries[4]!.hosts.kind).toBe("hashed");
  });

  it("names hosts the way ssh looks them up", () => {
    expect(hostLookupName("Host.Example", 22)).toBe("host.example");
    expect(hostLookupName("127.0.0.1", 2222)).toBe("[127.0.0.1]:2222");
    expect(knownHostLine("10.1.2.3", 22, keyA.blob)).toBe(`10.1.2.3 ${keyA.type} ${keyA.b64}`);
    expect(knownHostLine("127.0.0.1", 2201, keyA.blob)).toBe(`[127.0.0.1]:2201 ${keyA.type} ${keyA.b64}`);
  });

  it("reads key types and fingerprints as ssh-keygen does", async () => {
    expect(keyTypeOf(keyA.blob)).toBe("ssh-ed25519");
    expect(keyTypeOf(rsa.blob)).toBe("ssh-rsa");
    expect(keyTypeOf(Buffer.from([1, 2]))).toBe("unknown");
    const { stdout } = await execa("ssh-keygen", ["-l", "-E", "sha256", "-f", join(dir, "a.pub")]);
    expect(stdout.split(" ")[1]).toBe(fingerprint(keyA.blob));
  });
});

describe("matching", () => {
  const e = (patterns: string[]) => ({ hosts: { kind: "patterns" as const, patterns } });
  it("matches exact names, port brackets, lists, wildcards and negations", () => {
    expect(entryMatchesHost(e(["198.51.100.7"]), "198.51.100.7", 22)).toBe(true);
    expect(entryMatchesHost(e(["198.51.100.7"]), "198.51.100.7", 2222)).toBe(false);
    expect(entryMatchesHost(e(["[198.51.100.7]:2222"]), "198.51.100.7", 2222)).toBe(true);
    expect(entryMatchesHost(e(["[198.51.100.7]:2222"]), "198.51.100.7", 22)).toBe(false);
    expect(entryMatchesHost(e(["a", "B.example"]), "b.EXAMPLE", 22)).toBe(true);
    expect(entryMatchesHost(e(["*.example.com", "!bad.example.com"]), "good.example.com", 22)).toBe(true);
    expect(entryMatchesHost(e(["*.example.com", "!bad.example.com"]), "bad.example.com", 22)).toBe(false);
    expect(entryMatchesHost(e(["[127.0.0.1]:22??"]), "127.0.0.1", 2201)).toBe(true);
    expect(wildcardMatch("web?.example.com", "web1.example.com")).toBe(true);
    expect(wildcardMatch("web?.example.com", "web12.example.com")).toBe(false);
    expect(wildcardMatch("a.b", "axb")).toBe(false); // the dot is literal
  });

  it("matches entries hashed by ssh-keygen -H (and not other hosts or ports)", async () => {
    const file = join(dir, "hashed_kh");
    writeFileSync(file, `[127.0.0.1]:2222 ${keyA.type} ${keyA.b64}\nweb1.example.com ${keyB.type} ${keyB.b64}\n`);
    await execa("ssh-keygen", ["-H", "-f", file]);
    const text = readFileSync(file, "utf8");
    expect(text).not.toContain("127.0.0.1");
    expect(text).not.toContain("web1");
    const entries = parseKnownHosts(text);
    expect(entries).toHaveLength(2);
    expect(entries.every((x) => x.hosts.kind === "hashed")).toBe(true);
    expect(checkHostKey(entries, "127.0.0.1", 2222, keyA.blob).status).toBe("known");
    expect(checkHostKey(entries, "web1.example.com", 22, keyB.blob).status).toBe("known");
    expect(checkHostKey(entries, "127.0.0.1", 2223, keyA.blob).status).toBe("unknown");
    expect(checkHostKey(entries, "127.0.0.1", 2222, keyB.blob).status).toBe("changed");
  });
});

describe("checkHostKey", () => {
  it("tells known, unknown, changed and revoked apart", () => {
    const entries = parseKnownHosts(
      [
        `[h]:2201 ${keyA.type} ${keyA.b64}`,
        `[h]:2202 ${rsa.type} ${rsa.b64}`,
        `@revoked [h]:2203 ${keyB.type} ${keyB.b64}`,
        `@cert-authority [h]:2204 ${keyA.type} ${keyA.b64}`,
      ].join("\n"),
    );
    expect(checkHostKey(entries, "h", 2201, keyA.blob)).toEqual({ status: "known", line: 1 });
    const changed = checkHostKey(entries, "h", 2201, keyB.blob);
    expect(changed.status).toBe("changed");
    expect(changed.status === "changed" && changed.line).toBe(1);
    // another key type for a host known by RSA only: CHANGED (as OpenSSH says), never "unknown":
    // a man in the middle would only have to not offer the recorded type
    const otherType = checkHostKey(entries, "h", 2202, keyA.blob);
    expect(otherType.status).toBe("changed");
    expect(otherType.status === "changed" && [otherType.line, keyTypeOf(otherType.knownKey)]).toEqual([2, "ssh-rsa"]);
    expect(checkHostKey(entries, "h", 2203, keyB.blob)).toEqual({ status: "revoked", line: 3 });
    // a CA line is not a host key
    expect(checkHostKey(entries, "h", 2204, keyA.blob)).toEqual({ status: "unknown" });
    expect(checkHostKey([], "h", 22, keyA.blob)).toEqual({ status: "unknown" });
  });

  it("prefers the recorded key types in the handshake", () => {
    const entries = parseKnownHosts(`[h]:2202 ${rsa.type} ${rsa.b64}\n`);
    expect(knownKeyTypes(entries, "h", 2202)).toEqual(["ssh-rsa"]);
    const algs = preferredHostKeyAlgorithms(["ssh-rsa"])!;
    expect(algs.slice(0, 3)).toEqual(["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]);
    expect(algs).toContain("ssh-ed25519");
    expect(new Set(algs).size).toBe(algs.length);
    expect(preferredHostKeyAlgorithms([])).toBeUndefined();
    expect(preferredHostKeyAlgorithms(["ssh-ed25519"])![0]).toBe("ssh-ed25519");
  });
});

describe("verifyHostKey (file I/O)", () => {
  it("refuses an unknown key without accept and does not create the file", async () => {
    const file = join(dir, "none", "known_hosts");
    const err = await verifyHostKey({ file, host: "127.0.0.1", port: 2222, key: keyA.blob, acceptNew: false }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(HostKeyError);
    expect(err.message).toContain(
      `host key for [127.0.0.1]:2222 (ssh-ed25519 ${fingerprint(keyA.blob)}) is not in ${file}`,
    );
    expect(err.message).toContain("--accept-new-host-keys");
    expect(() => statSync(file)).toThrow();
  });

  it("records with accept: creates the file 0600 (and its folder), repairs a missing final newline", async () => {
    const file = join(dir, "new", "known_hosts");
    expect(await verifyHostKey({ file, host: "127.0.0.1", port: 2222, key: keyA.blob, acceptNew: true })).toBe("added");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8")).toBe(`[127.0.0.1]:2222 ${keyA.type} ${keyA.b64}\n`);
    expect(await verifyHostKey({ file, host: "127.0.0.1", port: 2222, key: keyA.blob, acceptNew: false })).toBe(
      "known",
    );

    const file2 = join(dir, "nonl_known_hosts");
    writeFileSync(file2, `other ${keyB.type} ${keyB.b64}`); // no trailing newline
    await verifyHostKey({ file: file2, host: "10.0.0.9", port: 22, key: keyA.blob, acceptNew: true });
    expect(readFileSync(file2, "utf8")).toBe(`other ${keyB.type} ${keyB.b64}\n10.0.0.9 ${keyA.type} ${keyA.b64}\n`);
  });

  it("a changed key fails even with accept, and the file is left alone", async () => {
    const file = join(dir, "changed_kh");
    const before = `[127.0.0.1]:2222 ${keyA.type} ${keyA.b64}\n`;
    writeFileSync(file, before);
    const err = await verifyHostKey({ file, host: "127.0.0.1", port: 2222, key: keyB.blob, acceptNew: true }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(HostKeyError);
    expect(err.message).toMatch(/host key for \[127\.0\.0\.1\]:2222 CHANGED/);
    expect(err.message).toContain("man-in-the-middle");
    expect(err.message).toContain(fingerprint(keyA.blob));
    expect(err.message).toContain(fingerprint(keyB.blob));
    expect(readFileSync(file, "utf8")).toBe(before);
  });

  it("a key of another type for a known host fails even with accept, and the file is left alone", async () => {
    const file = join(dir, "othertype_kh");
    const before = `[127.0.0.1]:2222 ${keyA.type} ${keyA.b64}\n`;
    writeFileSync(file, before);
    const err = await verifyHostKey({ file, host: "127.0.0.1", port: 2222, key: rsa.blob, acceptNew: true }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(HostKeyError);
    expect(err.message).toMatch(/host key for \[127\.0\.0\.1\]:2222 CHANGED: .* line 1 has ssh-ed25519 /);
    expect(err.message).toContain(`the server presented ssh-rsa ${fingerprint(rsa.blob)}`);
    expect(readFileSync(file, "utf8")).toBe(before);
  });

  it("parallel accepts never corrupt the file and never duplicate a host", async () => {
    const file = join(dir, "parallel_kh");
    const keys = [keyA, keyB, rsa];
    const jobs = [];
    for (let i = 0; i < 30; i++) {
      const k = keys[i % 3]!;
      jobs.push(
        verifyHostKey({ file, host: `10.0.0.${i % 10}`, port: 2200 + (i % 10), key: k.blob, acceptNew: true }).catch(
          (e) => e,
        ),
      );
    }
    const results = await Promise.all(jobs);
    // hosts 0..9 each get three attempts, one with each key: the first records, the two others
    // (the other ed25519 key, or a key of another type) are changed keys.
    const lines = readFileSync(file, "utf8").split("\n").filter(Boolean);
    const entries = parseKnownHosts(readFileSync(file, "utf8"));
    expect(lines).toHaveLength(10);
    expect(entries).toHaveLength(10);
    expect(results.filter((r) => r instanceof HostKeyError && /CHANGED/.test(r.message))).toHaveLength(20);
    for (const l of lines) expect(l).toMatch(/^\[10\.0\.0\.\d\]:22\d\d (ssh-ed25519|ssh-rsa) [A-Za-z0-9+/=]+$/);
    const names = entries.map((e) => `${(e.hosts as { patterns: string[] }).patterns[0]} ${e.keyType}`);
    expect(new Set(names).size).toBe(names.length);
    expect(results.filter((r) => r === "added")).toHaveLength(lines.length);

    const same = join(dir, "same_kh");
    const r2 = await Promise.all(
      Array.from({ length: 12 }, () =>
        verifyHostKey({ file: same, host: "127.0.0.1", port: 2299, key: keyA.blob, acceptNew: true }),
      ),
    );
    expect(r2.filter((r) => r === "added")).toHaveLength(1);
    expect(readFileSync(same, "utf8")).toBe(`[127.0.0.1]:2299 ${keyA.type} ${keyA.b64}\n`);
  });
});
