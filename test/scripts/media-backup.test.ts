// backup-media.sh, installed and run for real on a temp tree: snapshots with hard links to the
// previous one (same inode for unchanged files), exclusions, non-ASCII names, manifest and
// checksum list, atomic `latest`, no partial left (also after a failure), lock, retention.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import {
  mkdirSync,
  writeFileSync,
  readFileSync,
  readdirSync,
  statSync,
  readlinkSync,
  existsSync,
  utimesSync,
  cpSync,
  rmSync,
  lstatSync,
} from "node:fs";
import { join } from "node:path";
import { execa, type Result } from "execa";
import { renderOnlyLab } from "./backup-harness.ts";
import type { ResolvedVars } from "../../src/inventory/types.ts";
import { nextSecond } from "../helpers/files.ts";

const STAMP = /^\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d$/;
const NON_ASCII = "fotografía ñandú 日本 #1.jpg";

let lab: { root: string; vars: ResolvedVars; cleanup: () => void };
let media: string;
let dest: string;
const logFile = () => join(lab.vars.paths.log_dir, "backup-media.log");

function run(args: string[] = [], env: Record<string, string> = {}): Promise<Result> {
  return execa(join(lab.vars.paths.scripts_dir, "backup-media.sh"), args, {
    reject: false,
    stdin: "ignore",
    extendEnv: false,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C.UTF-8", ...env },
  });
}

function snapshots(): string[] {
  return readdirSync(dest)
    .filter((f) => STAMP.test(f))
    .sort();
}

function leftovers(): string[] {
  return readdirSync(dest).filter((f) => f.startsWith("."));
}

beforeAll(() => {
  lab = renderOnlyLab("media-backup");
  media = lab.vars.paths.media_dir;
  dest = join(lab.vars.paths.backup_dir, "media");
  mkdirSync(join(media, "2025", "10"), { recursive: true });
  writeFileSync(join(media, "unchanged.png"), "never changes\n".repeat(100));
  writeFileSync(join(media, "changes.txt"), "version 1\n");
  writeFileSync(join(media, "deleted-later.txt"), "soon gone\n");
  writeFileSync(join(media, "2025", "10", NON_ASCII), "ñ\n");
  // The spec's exclusions: .DS_Store, Thumbs.db, *.tmp (at any depth).
  writeFileSync(join(media, ".DS_Store"), "x");
  writeFileSync(join(media, "2025", "Thumbs.db"), "x");
  writeFileSync(join(media, "2025", "10", "upload.tmp"), "x");
});

afterAll(() => lab?.cleanup());

describe("backup-media.sh", () => {
  it("prints its usage on --help and rejects arguments with exit 1", async () => {
    const help = await run(["--help"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/^Usage: backup-media\.sh \[--help\]/);
    const bad = await run(["--now"]);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toContain("unexpected argument: --now");
  });

  it("first run: a full copy with manifest and checksum list, exclusions applied, latest set", async () => {
    const r = await run();
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const [snap] = snapshots();
    expect(snapshots()).toHaveLength(1);
    const dir = join(dest, snap!);
    expect(readlinkSync(join(dest, "latest"))).toBe(snap);
    expect(leftovers()).toEqual([]);

    expect(readFileSync(join(dir, "2025", "10", NON_ASCII), "utf8")).toBe("ñ\n");
    for (const excluded of [".DS_Store", "2025/Thumbs.db", "2025/10/upload.tmp"])
      expect(existsSync(join(dir, excluded)), excluded).toBe(false);

    const manifest = JSON.parse(readFileSync(join(dest, `${snap}.manifest.json`), "utf8"));
    expect(manifest).toMatchObject({
      kind: "media",
      snapshot: snap,
      source: media,
      previous: null,
      full_copy: true,
      files: 4,
      dirs: 2,
    });
    expect(manifest.bytes).toBe(1400 + 10 + 10 + Buffer.byteLength("ñ\n"));
    // The per-file list checks out with sha256sum -c from inside the snapshot (non-ASCII name included).
    const sums = readFileSync(join(dest, `${snap}.sha256`), "utf8");
    expect(sums.trim().split("\n")).toHaveLength(4);
    expect(sums).toContain(NON_ASCII);
    const check = await execa("sha256sum", ["-c", "--strict", join(dest, `${snap}.sha256`)], {
      cwd: dir,
      reject: false,
    });
    expect(check.exitCode, String(check.stdout) + String(check.stderr)).toBe(0);

    const log = readFileSync(logFile(), "utf8");
    expect(log).toContain("no previous snapshot: this is a full copy");
    expect(log).toMatch(/rsync: Number of regular files transferred: 4/);
    expect(log).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} \[INFO\] \[backup-media\] /m);
  });

  it("second run: unchanged files are hard links to the previous snapshot, changes are new files", async () => {
    await nextSecond();
    writeFileSync(join(media, "changes.txt"), "version 2, longer\n");
    rmSync(join(media, "deleted-later.txt"));
    writeFileSync(join(media, "2025", "new.txt"), "new\n");
    const r = await run();
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const [first, second] = snapshots();
    expect(snapshots()).toHaveLength(2);
    const a = join(dest, first!);
    const b = join(dest, second!);
    expect(readlinkSync(join(dest, "latest"))).toBe(second);
    expect(leftovers()).toEqual([]);

    expect(statSync(join(b, "unchanged.png")).ino).toBe(statSync(join(a, "unchanged.png")).ino);
    expect(statSync(join(b, "2025", "10", NON_ASCII)).ino).toBe(statSync(join(a, "2025", "10", NON_ASCII)).ino);
    expect(statSync(join(b, "changes.txt")).ino).not.toBe(statSync(join(a, "changes.txt")).ino);
    expect(readFileSync(join(b, "changes.txt"), "utf8")).toBe("version 2, longer\n");
    expect(readFileSync(join(a, "changes.txt"), "utf8")).toBe("version 1\n");
    // --delete: gone from the new snapshot, still in the old one.
    expect(existsSync(join(b, "deleted-later.txt"))).toBe(false);
    expect(existsSync(join(a, "deleted-later.txt"))).toBe(true);
    expect(readFileSync(join(b, "2025", "new.txt"), "utf8")).toBe("new\n");

    const manifest = JSON.parse(readFileSync(join(dest, `${second}.manifest.json`), "utf8"));
    expect(manifest).toMatchObject({ previous: first, full_copy: false, files: 4, files_transferred: 2 });
    const log = readFileSync(logFile(), "utf8");
    expect(log).toContain(`previous snapshot: ${first} (unchanged files become hard links to it)`);
    expect(log).toMatch(/rsync: Number of regular files transferred: 2/);
  });

  it("a third run reuses the recorded checksums of unchanged (hard-linked) files and hashes only what changed", async () => {
    await nextSecond();
    writeFileSync(join(media, "2025", "new.txt"), "changed again\n");
    const before = snapshots().at(-1)!;
    // Mark the recorded checksum of an unchanged file in the previous list: a reused line carries
    // the mark into the new list; a re-read file would not.
    const prevSums = join(dest, `${before}.sha256`);
    const marked = readFileSync(prevSums, "utf8").replace(/^[0-9a-f]{64}(  unchanged\.png)$/m, `${"0".repeat(64)}$1`);
    writeFileSync(prevSums, marked);
    // Without the spot check, so the mark shows that the line was reused rather than re-read.
    const r = await run([], { MEDIA_REUSE_SAMPLE: "0" });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const third = snapshots().at(-1)!;
    const sums = readFileSync(join(dest, `${third}.sha256`), "utf8");
    expect(sums).toMatch(new RegExp(`^${"0".repeat(64)}  unchanged\\.png$`, "m"));
    // The changed file was hashed from its new content.
    const { createHash } = await import("node:crypto");
    expect(sums).toContain(`${createHash("sha256").update("changed again\n").digest("hex")}  2025/new.txt`);
    expect(sums.trim().split("\n")).toHaveLength(4);
    // Put the true checksum back: verification of the third snapshot passes with sha256sum -c.
    writeFileSync(
      join(dest, `${third}.sha256`),
      sums.replace(
        `${"0".repeat(64)}  unchanged.png`,
        `${createHash("sha256").update("never changes\n".repeat(100)).digest("hex")}  unchanged.png`,
      ),
    );
    const check = await execa("sha256sum", ["-c", "--quiet", join(dest, `${third}.sha256`)], {
      cwd: join(dest, third),
      reject: false,
    });
    expect(check.exitCode, check.stdout).toBe(0);
  });

  it("a damaged reused checksum is caught by the spot check: every file is hashed afresh, with a warning", async () => {
    await nextSecond();
    const before = snapshots().at(-1)!;
    const prevSums = join(dest, `${before}.sha256`);
    writeFileSync(
      prevSums,
      readFileSync(prevSums, "utf8").replace(/^[0-9a-f]{64}(  unchanged\.png)$/m, `${"0".repeat(64)}$1`),
    );
    const r = await run();
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stderr)).toContain("a reused checksum of");
    const latest = snapshots().at(-1)!;
    const check = await execa("sha256sum", ["-c", "--quiet", join(dest, `${latest}.sha256`)], {
      cwd: join(dest, latest),
      reject: false,
    });
    expect(check.exitCode, check.stdout).toBe(0);
  });

  it("exits 75 at once while a media restore or backup holds the lock", async () => {
    const lock = join(lab.vars.paths.backup_dir, ".locks", "media.lock");
    const holder = execa("bash", ["-c", 'exec 9>>"$1"; flock 9; exec sleep 20', "holder", lock], { reject: false });
    await new Promise((r) => setTimeout(r, 300));
    try {
      const before = snapshots();
      const t0 = Date.now();
      const r = await run();
      expect(r.exitCode).toBe(75);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(r.stderr).toContain("another media run is in progress");
      expect(snapshots()).toEqual(before);
    } finally {
      holder.kill("SIGTERM");
      await holder;
    }
  });

  it("a failed run (missing source) leaves no partial and keeps latest", async () => {
    const before = snapshots();
    const latest = readlinkSync(join(dest, "latest"));
    const r = await run([], { SOURCE_DIR: join(lab.root, "not-mounted") });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("does not exist");
    expect(snapshots()).toEqual(before);
    expect(readlinkSync(join(dest, "latest"))).toBe(latest);
    expect(leftovers()).toEqual([]);
  });

  it("a failing rsync leaves no partial snapshot or sidecar and keeps latest", async () => {
    // An rsync that copies everything and then reports a partial transfer (exit 23), as it does
    // when a file cannot be read or the disk fills up.
    const bin = join(lab.root, "fakebin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      join(bin, "rsync"),
      '#!/bin/bash\n/usr/bin/rsync "$@"\necho "rsync: some files could not be transferred" >&2\nexit 23\n',
      { mode: 0o755 },
    );
    const before = snapshots();
    const latest = readlinkSync(join(dest, "latest"));
    await nextSecond();
    const r = await run([], { PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("rsync failed with exit code 23");
    expect(r.stderr).toMatch(/removed partial \.\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d\.partial/);
    expect(snapshots()).toEqual(before);
    expect(readlinkSync(join(dest, "latest"))).toBe(latest);
    expect(leftovers()).toEqual([]);
  });

  it("retention: deletes old verified snapshots, keeps keep_min, unverified ones and pre-restore copies", async () => {
    const [, second] = snapshots();
    const old = (d: string) => {
      const t = new Date(Date.now() - 40 * 86400_000);
      utimesSync(d, t, t);
    };
    // Three old verified snapshots (copies of the second with their sidecars), one old unverified
    // one (no manifest), and an old pre-restore copy.
    const names = ["2020-01-01_03-00-00", "2020-01-02_03-00-00", "2020-01-03_03-00-00"];
    for (const n of names) {
      cpSync(join(dest, second!), join(dest, n), { recursive: true });
      cpSync(join(dest, `${second}.sha256`), join(dest, `${n}.sha256`));
      cpSync(join(dest, `${second}.manifest.json`), join(dest, `${n}.manifest.json`));
      old(join(dest, n));
    }
    mkdirSync(join(dest, "2019-12-31_03-00-00"));
    writeFileSync(join(dest, "2019-12-31_03-00-00", "x"), "x");
    old(join(dest, "2019-12-31_03-00-00"));
    const pre = join(dest, "pre-restore", "2020-01-01_10-00-00");
    cpSync(join(dest, second!), pre, { recursive: true });
    cpSync(join(dest, `${second}.sha256`), `${pre}.sha256`);
    cpSync(join(dest, `${second}.manifest.json`), `${pre}.manifest.json`);
    old(pre);

    await nextSecond();
    const r = await run();
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const all = snapshots();
    // Today's snapshots stay (the four earlier runs and this one: none is old); the old verified go.
    for (const n of names) {
      expect(all, n).not.toContain(n);
      expect(existsSync(join(dest, `${n}.manifest.json`))).toBe(false);
      expect(existsSync(join(dest, `${n}.sha256`))).toBe(false);
    }
    expect(all).toContain("2019-12-31_03-00-00");
    expect(all.filter((n) => !n.startsWith("2019"))).toHaveLength(5);
    expect(lstatSync(join(dest, "pre-restore")).isDirectory()).toBe(true);
    expect(existsSync(pre)).toBe(true);
    const log = readFileSync(logFile(), "utf8");
    expect(log).toContain("retention: deleted 2020-01-01_03-00-00");
    expect(log).toContain("keeping unverified backup 2019-12-31_03-00-00");
  });

  it("an empty source while the previous snapshot had files fails the job (an unmounted volume); --allow-empty records it", async () => {
    const empty = join(lab.root, "unmounted");
    mkdirSync(empty, { recursive: true });
    const before = snapshots();
    const latest = readlinkSync(join(dest, "latest"));
    await nextSecond();
    const r = await run([], { SOURCE_DIR: empty });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/media directory .*unmounted is empty but the previous snapshot .* has \d+ files/);
    expect(r.stderr).toMatch(/--allow-empty/);
    expect(r.stderr).toMatch(/FAILED/);
    expect(snapshots()).toEqual(before);
    expect(readlinkSync(join(dest, "latest"))).toBe(latest);
    expect(leftovers()).toEqual([]);
    // The media really are gone: said once, on purpose; from then on an empty source is the state.
    const deliberate = await run(["--allow-empty"], { SOURCE_DIR: empty });
    expect(deliberate.exitCode, String(deliberate.stderr)).toBe(0);
    expect(deliberate.stderr).toMatch(/--allow-empty/);
    const made = readlinkSync(join(dest, "latest"));
    expect(JSON.parse(readFileSync(join(dest, `${made}.manifest.json`), "utf8")).files).toBe(0);
    await nextSecond();
    const again = await run([], { SOURCE_DIR: empty });
    expect(again.exitCode, String(again.stderr)).toBe(0);
  });

  it("the installed script passes shellcheck", async () => {
    const r = await execa("shellcheck", ["-x", "backup-media.sh"], { cwd: lab.vars.paths.scripts_dir, reject: false });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
  });
});
