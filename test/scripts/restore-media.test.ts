// restore-media.sh, installed and run for real: a snapshot from backup-media.sh restored into a
// --target directory equals the snapshot (with the owner and permissions the web server needs);
// over the live media a pre-restore copy is taken first; refusals and a tampered snapshot leave
// the target untouched.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import {
  mkdirSync,
  writeFileSync,
  readFileSync,
  readdirSync,
  statSync,
  readlinkSync,
  existsSync,
  chownSync,
  chmodSync,
  rmSync,
  cpSync,
  utimesSync,
} from "node:fs";
import { join } from "node:path";
import { execa, type Result } from "execa";
import { renderOnlyLab } from "./backup-harness.ts";
import type { ResolvedVars } from "../../src/inventory/types.ts";
import { fileHashes } from "../helpers/files.ts";

const NON_ASCII = "fotografía ñandú 日本.jpg";
// nobody:nogroup on Debian: an owner that is clearly not root's.
const NOBODY = { uid: 65534, gid: 65534 };

let lab: { root: string; vars: ResolvedVars; cleanup: () => void };
let media: string;
let dest: string;
let snapshot: string;

function run(script: string, args: string[] = [], env: Record<string, string> = {}): Promise<Result> {
  return execa(join(lab.vars.paths.scripts_dir, script), args, {
    reject: false,
    stdin: "ignore",
    extendEnv: false,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C.UTF-8", ...env },
  });
}

function allPaths(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      out.push(p);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

function preRestoreCopies(): string[] {
  const d = join(dest, "pre-restore");
  return existsSync(d)
    ? readdirSync(d)
        .filter((f) => /^\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d$/.test(f))
        .sort()
    : [];
}

beforeAll(async () => {
  lab = renderOnlyLab("restore-media");
  media = lab.vars.paths.media_dir;
  dest = join(lab.vars.paths.backup_dir, "media");
  // The web server's owner is taken from the app dir (media_owner is empty by default).
  chownSync(lab.vars.paths.app_dir, NOBODY.uid, NOBODY.gid);
  mkdirSync(join(media, "2025", "10"), { recursive: true });
  writeFileSync(join(media, "logo.png"), Buffer.alloc(5000, 7));
  writeFileSync(join(media, "2025", "10", NON_ASCII), "ñ\n");
  writeFileSync(join(media, "2025", "private.pdf"), "pdf");
  chmodSync(join(media, "2025", "private.pdf"), 0o600);
  chmodSync(join(media, "2025"), 0o700);
  const r = await run("backup-media.sh");
  expect(r.exitCode, String(r.stderr)).toBe(0);
  snapshot = join(dest, readlinkSync(join(dest, "latest")));
});

afterAll(() => lab?.cleanup());

describe("restore-media.sh", () => {
  it("prints its usage on --help and rejects bad arguments with exit 1", async () => {
    const help = await run("restore-media.sh", ["--help"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/^Usage: restore-media\.sh <snapshot\|latest> \[--force\] \[--target DIR\]/);
    const none = await run("restore-media.sh");
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toContain("which snapshot?");
    const two = await run("restore-media.sh", ["latest", "other"]);
    expect(two.exitCode).toBe(1);
    const noDir = await run("restore-media.sh", ["latest", "--target"]);
    expect(noDir.exitCode).toBe(1);
    expect(noDir.stderr).toContain("--target needs a directory");
  });

  it("refuses without a terminal and without --force; the target is untouched", async () => {
    // The live media directory (a non-empty folder elsewhere is refused for another reason).
    const target = media;
    const before = fileHashes(target);
    const r = await run("restore-media.sh", ["latest", "--target", target]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain("no terminal to confirm on and no --force");
    expect(fileHashes(target)).toEqual(before);
    expect(preRestoreCopies()).toEqual([]);
  });

  it("restores latest into --target: equal to the snapshot, app dir's owner, dirs 755 and files 644", async () => {
    const target = join(lab.root, "restored");
    const r = await run("restore-media.sh", ["latest", "--force", "--target", target], { RESTORE_VERIFY_SAMPLE: "0" });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(fileHashes(target)).toEqual(fileHashes(snapshot));
    expect(fileHashes(target)).toEqual(fileHashes(media));
    expect(readFileSync(join(target, "2025", "10", NON_ASCII), "utf8")).toBe("ñ\n");
    for (const p of [target, ...allPaths(target)]) {
      const st = statSync(p);
      expect(st.uid, p).toBe(NOBODY.uid);
      expect(st.gid, p).toBe(NOBODY.gid);
      expect(st.mode & 0o777, p).toBe(st.isDirectory() ? 0o755 : 0o644);
    }
    // The snapshot itself keeps its recorded modes (hard links elsewhere must not change).
    expect(statSync(join(snapshot, "2025", "private.pdf")).mode & 0o777).toBe(0o600);
    expect(r.stdout).toContain("MEDIA RESTORE REPORT");
    expect(r.stdout).toContain(`Target Directory: ${target}`);
    expect(r.stdout).toContain("Status: SUCCESS");
    expect(r.stdout).toContain(`Restored From: ${readlinkSync(join(dest, "latest"))}`);
    expect(r.stdout).toContain("Files Restored: 3");
    expect(r.stdout).toContain("Directories: 2");
    expect(r.stdout).toContain("Pre-Restore Backup: none (the target was empty)");
    expect(r.stdout).toContain("3 checksums match");
    expect(readFileSync(join(lab.vars.paths.log_dir, "restore-media.log"), "utf8")).toContain("Status: SUCCESS");
  });

  it("restores over the live media: a verified pre-restore copy first, extra files removed", async () => {
    writeFileSync(join(media, "logo.png"), "broken by a bad deploy");
    writeFileSync(join(media, "stray.txt"), "not in the snapshot");
    const live = fileHashes(media);
    const r = await run("restore-media.sh", [snapshot, "--force"], { RESTORE_VERIFY_SAMPLE: "0" });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(fileHashes(media)).toEqual(fileHashes(snapshot));
    expect(existsSync(join(media, "stray.txt"))).toBe(false);

    const copies = preRestoreCopies();
    expect(copies).toHaveLength(1);
    const pre = join(dest, "pre-restore", copies[0]!);
    expect(fileHashes(pre)).toEqual(live);
    expect(r.stdout).toContain(`Pre-Restore Backup: ${pre}`);
    const manifest = JSON.parse(readFileSync(`${pre}.manifest.json`, "utf8"));
    expect(manifest).toMatchObject({ kind: "media", files: 4, pre_restore: true });
    const check = await execa("sha256sum", ["-c", "--strict", `${pre}.sha256`], { cwd: pre, reject: false });
    expect(check.exitCode, String(check.stdout)).toBe(0);
    // The pre-restore copy is itself restorable (the rollback the report prints).
    const target = join(lab.root, "rollback");
    const back = await run("restore-media.sh", [pre, "--force", "--target", target]);
    expect(back.exitCode, String(back.stderr)).toBe(0);
    expect(fileHashes(target)).toEqual(live);
  });

  it("refuses a snapshot whose files no longer match their checksums or its manifest", async () => {
    // A second, independent snapshot to damage (not hard-linked content: a changed file).
    writeFileSync(join(media, "logo.png"), "version for the damaged snapshot");
    const s = Math.floor(Date.now() / 1000);
    while (Math.floor(Date.now() / 1000) === s) await new Promise((res) => setTimeout(res, 50));
    const b = await run("backup-media.sh");
    expect(b.exitCode, String(b.stderr)).toBe(0);
    const damaged = join(dest, readlinkSync(join(dest, "latest")));
    const target = media;
    const before = fileHashes(target);

    // Same size, different bytes: only the checksums can tell.
    writeFileSync(join(damaged, "logo.png"), "VERSION FOR THE DAMAGED SNAPSHOT");
    const r = await run("restore-media.sh", ["latest", "--force", "--target", target], { RESTORE_VERIFY_SAMPLE: "0" });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain("do not match their recorded SHA-256");
    expect(fileHashes(target)).toEqual(before);

    // A file gone from the snapshot: the manifest's count tells.
    rmSync(join(damaged, "logo.png"));
    const r2 = await run("restore-media.sh", ["latest", "--force", "--target", target]);
    expect(r2.exitCode).not.toBe(0);
    expect(r2.stderr).toContain("does not match its manifest");
    expect(fileHashes(target)).toEqual(before);

    // Nothing without a manifest (a partial or foreign directory).
    const foreign = join(dest, "2001-01-01_00-00-00");
    mkdirSync(foreign);
    const r3 = await run("restore-media.sh", [foreign, "--force", "--target", target]);
    expect(r3.exitCode).not.toBe(0);
    expect(r3.stderr).toContain("has no manifest");
    rmSync(foreign, { recursive: true });
  });

  it("refuses the app directory itself and a non-empty folder that is not the media directory", async () => {
    const app = lab.vars.paths.app_dir;
    const r1 = await run("restore-media.sh", ["latest", "--force", "--target", app]);
    expect(r1.exitCode).not.toBe(0);
    expect(r1.stderr).toContain("is or contains the application directory");
    const other = join(lab.root, "someone-elses");
    mkdirSync(other);
    writeFileSync(join(other, "keep.txt"), "mine");
    const r2 = await run("restore-media.sh", ["latest", "--force", "--target", other]);
    expect(r2.exitCode).not.toBe(0);
    expect(r2.stderr).toContain("not the media directory");
    expect(readFileSync(join(other, "keep.txt"), "utf8")).toBe("mine");
  });

  it("refuses targets that would let rsync --delete reach the backups or the app", async () => {
    // Should the guard ever break, this rsync only records that it was called: the test can fail
    // without copying or deleting anything.
    const bin = join(lab.root, "fakebin");
    const marker = join(lab.root, "rsync-was-called");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "rsync"), `#!/bin/sh\necho "$*" >> '${marker}'\nexit 99\n`, { mode: 0o755 });
    const parentOfApp = join(lab.vars.paths.app_dir, "..");
    for (const t of [
      "/",
      "//",
      lab.vars.paths.backup_dir,
      join(lab.vars.paths.backup_dir, "media", "x"),
      lab.root,
      parentOfApp,
    ]) {
      const r = await run("restore-media.sh", [snapshot, "--force", "--target", t], {
        PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
      });
      expect(r.exitCode, t).toBe(1);
      expect(r.stderr, t).toMatch(/refusing to restore into/);
    }
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(snapshot)).toBe(true);
  });

  it("restores an old pre-restore copy: pruning comes after the restore and spares it", async () => {
    // Four verified pre-restore copies, 40 to 43 days old (by name and by mtime); keep_min is 3, so
    // the oldest is past retention, and it is the one restored.
    const pre = join(dest, "pre-restore");
    mkdirSync(pre, { recursive: true });
    const names: string[] = [];
    for (let i = 0; i < 4; i++) {
      const when = new Date(Date.now() - (40 + i) * 86400_000);
      const name = (await execa("date", ["-d", `@${Math.floor(when.getTime() / 1000)}`, "+%Y-%m-%d_%H-%M-%S"])).stdout;
      cpSync(snapshot, join(pre, name), { recursive: true });
      cpSync(`${snapshot}.sha256`, join(pre, `${name}.sha256`));
      cpSync(`${snapshot}.manifest.json`, join(pre, `${name}.manifest.json`));
      utimesSync(join(pre, name), when, when);
      names.push(name);
    }
    const oldest = join(pre, names[3]!);
    const r = await run("restore-media.sh", [oldest, "--force", "--target", media], { RESTORE_VERIFY_SAMPLE: "0" });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(fileHashes(media)).toEqual(fileHashes(snapshot));
    // Still there: restored from, so never pruned by this restore.
    expect(existsSync(oldest)).toBe(true);
    expect(existsSync(`${oldest}.manifest.json`)).toBe(true);
    for (const n of names) rmSync(join(pre, n), { recursive: true, force: true });
  });

  it("exits 75 while a media backup holds the lock", async () => {
    const lock = join(lab.vars.paths.backup_dir, ".locks", "media.lock");
    const holder = execa("bash", ["-c", 'exec 9>>"$1"; flock 9; exec sleep 20', "holder", lock], { reject: false });
    await new Promise((r) => setTimeout(r, 300));
    try {
      const target = join(lab.root, "locked");
      const r = await run("restore-media.sh", [snapshot, "--force", "--target", target]);
      expect(r.exitCode).toBe(75);
      expect(existsSync(target)).toBe(false);
    } finally {
      holder.kill("SIGTERM");
      await holder;
    }
  });

  it("a failure midway (a read-only folder in the target) puts the target back as it was, from the pre-restore copy", async () => {
    // The live media differ from the snapshot at the top level (restored, deleted) and in 2025/10,
    // which is made immutable: rsync changes the rest, then fails there.
    writeFileSync(join(media, "logo.png"), "changed since the snapshot");
    chmodSync(join(media, "logo.png"), 0o640);
    writeFileSync(join(media, "new-upload.jpg"), "uploaded after the snapshot");
    writeFileSync(join(media, "2025", "10", NON_ASCII), "changed too\n");
    const before = fileHashes(media);
    const modes = Object.fromEntries(allPaths(media).map((p) => [p, statSync(p).mode]));
    const copies = preRestoreCopies().length;
    const locked = join(media, "2025", "10");
    await execa("chattr", ["+i", locked]);
    let r: Result;
    try {
      r = await run("restore-media.sh", [snapshot, "--force"], { RESTORE_VERIFY_SAMPLE: "0" });
    } finally {
      await execa("chattr", ["-i", locked]);
    }
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout).toContain("Status: FAILED");
    expect(r.stdout).toMatch(/Rollback: done: .* is as it was before the restore, from .*pre-restore/);
    expect(fileHashes(media)).toEqual(before);
    expect(Object.fromEntries(allPaths(media).map((p) => [p, statSync(p).mode]))).toEqual(modes);
    // The pre-restore copy stays (it is what the rollback read).
    expect(preRestoreCopies()).toHaveLength(copies + 1);
  });

  it("a failure into a new folder (the owner cannot be set) removes the folder again", async () => {
    const conf = lab.vars.paths.config_file;
    const original = readFileSync(conf, "utf8");
    writeFileSync(conf, original.replace(/^MEDIA_OWNER=.*$/m, "MEDIA_OWNER=no-such-user-cep:no-such-group-cep"));
    const target = join(lab.root, "fresh-media");
    let r: Result;
    try {
      r = await run("restore-media.sh", [snapshot, "--force", "--target", target]);
    } finally {
      writeFileSync(conf, original);
    }
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout).toContain("Status: FAILED");
    expect(r.stdout).toContain(`Rollback: done: ${target} is gone again`);
    expect(existsSync(target)).toBe(false);
  });

  it("the installed script passes shellcheck", async () => {
    const r = await execa("shellcheck", ["-x", "restore-media.sh"], { cwd: lab.vars.paths.scripts_dir, reject: false });
    expect(r.stdout + r.stderr).toBe("");
  });
});
