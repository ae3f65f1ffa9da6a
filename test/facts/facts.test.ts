// Fact commands run for real with bash on this machine; parsers also checked on recorded output.
import { describe, it, expect } from "vitest";
import { execa } from "execa";
import { mkdtempSync, writeFileSync, mkdirSync, chmodSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { filesCommand, parseFiles } from "../../src/facts/files.ts";
import { packagesCommand, parsePackages } from "../../src/facts/packages.ts";
import { usersCommand, parseUsers } from "../../src/facts/users.ts";
import { gatherScript, splitSections } from "../../src/facts/gather.ts";

const bash = async (script: string) => (await execa("bash", ["-s"], { input: script })).stdout;

describe("files fact", () => {
  it("reports type, mode, owner, sha256 and content of differing files, for odd names too", async () => {
    const d = mkdtempSync(join(tmpdir(), "facts-"));
    const f = join(d, 'año ñandú\'s "file".conf');
    writeFileSync(f, "hello\n");
    chmodSync(f, 0o640);
    mkdirSync(join(d, "sub"), { mode: 0o700 });
    symlinkSync(f, join(d, "link"));
    const paths = [f, join(d, "sub"), join(d, "missing"), join(d, "link")];
    const out = await bash(
      filesCommand(paths, { wantSha: ["different", undefined, undefined, undefined], withContent: true }),
    );
    const facts = parseFiles(out, paths);
    expect(facts.get(f)).toEqual({
      exists: true,
      type: "file",
      mode: 0o640,
      owner: "root",
      group: "root",
      sha256: "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
      content: "hello\n",
    });
    expect(facts.get(join(d, "sub"))).toMatchObject({ exists: true, type: "directory", mode: 0o700 });
    expect(facts.get(join(d, "missing"))).toEqual({ exists: false });
    expect(facts.get(join(d, "link"))).toMatchObject({ exists: true, type: "file" }); // followed
  });

  it("batched (no --diff): one stat and one sha256sum for all paths, names with | and \\ included", async () => {
    const d = mkdtempSync(join(tmpdir(), "facts-"));
    const odd = join(d, "a|b\\c ñ.conf");
    writeFileSync(odd, "hello\n");
    writeFileSync(join(d, "target"), "via link\n");
    symlinkSync(join(d, "target"), join(d, "link"));
    mkdirSync(join(d, "realdir"));
    symlinkSync(join(d, "realdir"), join(d, "dirlink"));
    const paths = [odd, join(d, "missing"), join(d, "link"), join(d, "dirlink")];
    const script = filesCommand(paths);
    expect(script.match(/\b(stat|sha256sum)\b/g)).toEqual(["stat", "sha256sum"]);
    const facts = parseFiles(await bash(script), paths);
    expect(facts.get(odd)).toMatchObject({
      exists: true,
      type: "file",
      sha256: "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
    });
    expect(facts.get(join(d, "missing"))).toEqual({ exists: false });
    // Symlinks are followed: a linked file is compared by its content, a linked dir is a directory.
    expect(facts.get(join(d, "link"))).toMatchObject({
      exists: true,
      type: "file",
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(facts.get(join(d, "dirlink"))).toMatchObject({ exists: true, type: "directory" });
  });

  it("sends no content when the hash matches", async () => {
    const d = mkdtempSync(join(tmpdir(), "facts-"));
    writeFileSync(join(d, "a"), "hello\n");
    const out = await bash(
      filesCommand([join(d, "a")], {
        wantSha: ["5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"],
        withContent: true,
      }),
    );
    expect(out).not.toContain("C|");
  });
});

describe("packages and users facts", () => {
  it("parses recorded dpkg-query output", () => {
    const f = parsePackages("DPKG|yes\nPKG|rsync|ii \nPKG|curl|rc \n");
    expect(f.dpkg).toBe(true);
    expect([...f.installed]).toEqual(["rsync"]);
    expect(parsePackages("DPKG|no\n").dpkg).toBe(false);
  });
  it("runs for real: bash is installed, a made-up package is not; root exists, a made-up user does not", async () => {
    const out = await bash(
      gatherScript([
        { name: "packages", command: packagesCommand(["bash", "no-such-package-xyz"]) },
        { name: "users", command: usersCommand(["root", "nosuchuserxyz"]) },
      ]),
    );
    const s = splitSections(out);
    const p = parsePackages(s.get("packages")!);
    expect(p.installed.has("bash")).toBe(true);
    expect(p.installed.has("no-such-package-xyz")).toBe(false);
    expect(parseUsers(s.get("users")!)).toEqual(
      new Map([
        ["root", true],
        ["nosuchuserxyz", false],
      ]),
    );
  });
});
