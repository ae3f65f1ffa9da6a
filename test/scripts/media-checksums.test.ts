// backup-media.sh's checksum list, carried over from the previous snapshot in one walk of the tree:
// it must always equal a fresh `sha256sum` of every file of the snapshot, whatever rsync did with a
// file (copied it, hard-linked it, or made a local copy for a new mode), for any file name, and the
// retention verifier judges snapshots from their sidecars without walking their trees.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { chmodSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { renderOnlyLab } from "./backup-harness.ts";

const STAMP = /^\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d$/;
// Names sha256sum must escape (backslash, newline, carriage return) and names that look like options.
const ODD = ["back\\slash.jpg", "new\nline.jpg", "carriage\rreturn.jpg", "-starts-with-dash.jpg", "two  spaces.jpg"];

let lab: ReturnType<typeof renderOnlyLab>;
let media: string;
let dest: string;

const env = (extra: Record<string, string> = {}) => ({
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  LC_ALL: "C.UTF-8",
  ...extra,
});

async function backup(extra: Record<string, string> = {}): Promise<string> {
  const s = Math.floor(Date.now() / 1000);
  while (Math.floor(Date.now() / 1000) === s) await new Promise((r) => setTimeout(r, 50));
  const r = await execa(join(lab.vars.paths.scripts_dir, "backup-media.sh"), [], {
    reject: false,
    stdin: "ignore",
    extendEnv: false,
    env: env(extra),
  });
  expect(r.exitCode, String(r.stderr)).toBe(0);
  return readdirSync(dest)
    .filter((f) => STAMP.test(f))
    .sort()
    .at(-1)!;
}

/** A fresh sha256sum of every file of a snapshot, as sorted lines (the truth the list must equal). */
async function freshSums(snap: string): Promise<string[]> {
  const r = await execa(
    "bash",
    ["-c", `cd -- "$1" && find . -type f -printf '%P\\0' | xargs -0 -r sha256sum --`, "sums", join(dest, snap)],
    { env: env() },
  );
  return splitSums(String(r.stdout));
}

/** sha256sum -c lines; an escaped name (leading backslash) cannot hold a raw newline, so lines split on \n. */
const splitSums = (text: string): string[] =>
  text
    .split("\n")
    .filter((l) => l !== "")
    .sort();

const listOf = (snap: string) => splitSums(readFileSync(join(dest, `${snap}.sha256`), "utf8"));

function lib(body: string, args: string[]) {
  return execa(
    "bash",
    [
      "-c",
      `set -Eeuo pipefail; source "${lab.vars.paths.scripts_dir}/backup-lib.sh"; lib_init libtest; ${body}`,
      "t",
      ...args,
    ],
    { reject: false, extendEnv: false, env: env() },
  );
}

beforeAll(() => {
  lab = renderOnlyLab("media-sums");
  media = lab.vars.paths.media_dir;
  dest = join(lab.vars.paths.backup_dir, "media");
  for (let i = 0; i < 120; i++) {
    const d = join(media, `d${i % 4}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `f${i}.bin`), `file ${i}\n`.repeat(1 + (i % 7)));
  }
  for (const n of ODD) writeFileSync(join(media, n), `odd ${JSON.stringify(n)}\n`);
});

afterAll(() => lab?.cleanup());

describe("backup-media.sh checksum list", () => {
  it("a full copy: every file hashed, in sha256sum's text format, names sha256sum escapes included", async () => {
    const snap = await backup();
    const list = listOf(snap);
    expect(list).toEqual(await freshSums(snap));
    expect(list).toHaveLength(125);
    // Text mode ("<hash>  <name>"), never openssl's binary marker; escaped names start with a backslash.
    for (const l of list) expect(l).toMatch(/^\\?[0-9a-f]{64}  /);
    const check = await execa("sha256sum", ["-c", "--strict", "--quiet", join(dest, `${snap}.sha256`)], {
      cwd: join(dest, snap),
      reject: false,
    });
    expect(check.exitCode, String(check.stdout) + String(check.stderr)).toBe(0);
  });

  it("unchanged files keep the recorded checksum (plain names only); escaped names are hashed again", async () => {
    const prev = readdirSync(dest)
      .filter((f) => STAMP.test(f))
      .sort()
      .at(-1)!;
    // Mark the previous list: a reused line carries the mark, a re-read file does not.
    const zero = "0".repeat(64);
    const sums = join(dest, `${prev}.sha256`);
    const marked = readFileSync(sums, "utf8")
      .replace(/^[0-9a-f]{64}(  d1\/f1\.bin)$/m, `${zero}$1`)
      .replace(/^\\[0-9a-f]{64}(  back\\\\slash\.jpg)$/m, `\\${zero}$1`)
      .replace(/^[0-9a-f]{64}(  -starts-with-dash\.jpg)$/m, `${zero}$1`);
    expect(marked.split(zero)).toHaveLength(4);
    writeFileSync(sums, marked);
    const snap = await backup({ MEDIA_REUSE_SAMPLE: "0" });
    const list = listOf(snap);
    expect(list).toContain(`${zero}  d1/f1.bin`);
    expect(list).toContain(`${zero}  -starts-with-dash.jpg`);
    expect(list.filter((l) => l.includes("back\\\\slash.jpg"))).toEqual(
      (await freshSums(snap)).filter((l) => l.includes("back\\\\slash.jpg")),
    );
    expect(list.some((l) => l.startsWith(`\\${zero}`))).toBe(false);
    // The rest equals a fresh hash of the snapshot.
    const fresh = await freshSums(snap);
    expect(list.filter((l) => !l.startsWith(zero))).toEqual(
      fresh.filter((l) => !l.endsWith("  d1/f1.bin") && !l.endsWith("  -starts-with-dash.jpg")),
    );
    // Put the true lines back so that later runs start from a correct list.
    writeFileSync(join(dest, `${snap}.sha256`), `${fresh.join("\n")}\n`);
    writeFileSync(sums, `${(await freshSums(prev)).join("\n")}\n`);
  });

  it("same-size edits, a mode change, a rewrite that keeps size and mtime: the list equals a fresh hash of the snapshot", async () => {
    const before = readdirSync(dest)
      .filter((f) => STAMP.test(f))
      .sort()
      .at(-1)!;
    const f = (n: number) => join(media, `d${n % 4}`, `f${n}.bin`);
    // Same size, new content, new mtime: rsync copies it (quick check: the mtime differs).
    writeFileSync(f(5), readFileSync(f(5), "utf8").replace("file 5", "FILE 5"));
    // Only the mode changes: rsync cannot hard-link it (a link shares the mode) and copies it locally.
    chmodSync(f(6), 0o600);
    // Same size and the old mtime put back: rsync's quick check sees no change and hard-links the
    // previous snapshot's file, so the snapshot keeps the old content, and its list must say so.
    const st = statSync(f(7));
    writeFileSync(f(7), readFileSync(f(7), "utf8").replace("file 7", "FILE 7"));
    utimesSync(f(7), st.atime, st.mtime);
    rmSync(f(8));
    writeFileSync(join(media, "d0", "brand-new.bin"), "new\n");
    const snap = await backup({ MEDIA_REUSE_SAMPLE: "0" });
    expect(listOf(snap)).toEqual(await freshSums(snap));
    const ino = (s: string, n: number) => statSync(join(dest, s, `d${n % 4}`, `f${n}.bin`)).ino;
    expect(ino(snap, 5)).not.toBe(ino(before, 5));
    expect(ino(snap, 6)).not.toBe(ino(before, 6));
    expect(ino(snap, 7)).toBe(ino(before, 7));
    expect(readFileSync(join(dest, snap, "d3", "f7.bin"), "utf8")).toContain("file 7");
    expect(listOf(snap)).toHaveLength(125);
    const manifest = JSON.parse(readFileSync(join(dest, `${snap}.manifest.json`), "utf8"));
    expect(manifest).toMatchObject({ files: 125, dirs: 4 });
  });

  it("a file of the previous snapshot changed in place is caught when sampled: every file is hashed afresh", async () => {
    const before = readdirSync(dest)
      .filter((f) => STAMP.test(f))
      .sort()
      .at(-1)!;
    // Bit rot in the previous snapshot: the new one hard-links the same inode, so its recorded
    // checksum no longer describes it. A sample as large as the tree always catches it.
    const rotten = join(dest, before, "d2", "f10.bin");
    const st = statSync(rotten);
    writeFileSync(rotten, readFileSync(rotten, "utf8").replace("file 10", "fil3 10"));
    utimesSync(rotten, st.atime, st.mtime);
    const snap = await backup({ MEDIA_REUSE_SAMPLE: "1000" });
    expect(listOf(snap)).toEqual(await freshSums(snap));
    const log = readFileSync(join(lab.vars.paths.log_dir, "backup-media.log"), "utf8");
    expect(log).toContain(
      `a reused checksum of ${before} does not match its file: hashing every file of this snapshot`,
    );
  });

  it("the verifier reads the sidecars: counts that disagree or a gutted tree make a snapshot unverified", async () => {
    const snap = readdirSync(dest)
      .filter((f) => STAMP.test(f))
      .sort()
      .at(-1)!;
    const dir = join(dest, snap);
    const ok = async () => (await lib(`media_snapshot_ok "$1" && echo yes || echo no`, [dir])).stdout.trim();
    expect(await ok()).toBe("yes");
    const man = join(dest, `${snap}.manifest.json`);
    const text = readFileSync(man, "utf8");
    writeFileSync(man, text.replace(/"files": \d+/, '"files": 124'));
    expect(await ok()).toBe("no");
    writeFileSync(man, text);
    expect(await ok()).toBe("yes");
    // The files gone, the sidecars intact: the sampled listed files are missing.
    const moved = `${dir}.moved`;
    await execa("mv", [dir, moved]);
    mkdirSync(dir);
    try {
      expect(await ok()).toBe("no");
    } finally {
      rmSync(dir, { recursive: true });
      await execa("mv", [moved, dir]);
    }
    expect(await ok()).toBe("yes");
  });
});
