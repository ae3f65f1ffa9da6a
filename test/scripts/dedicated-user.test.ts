// The installed scripts with a dedicated backup user, as provision sets one up (its trees, its pgpass
// file, backup.conf read through its group), run as root the way an operator does.
//
// Root restores: restore-media and restore-config stay root (they write the live directories) and
// run their pre-restore copy as the backup user. What the target holds is decided by root, never by
// that user: a target it cannot list must not look empty (rsync --delete then removed the live
// uploads with no copy, and the report said "none (the target was empty)"). A root restore that
// cannot take its pre-restore copy stops before changing anything, and says so.
//
// Backups: a config file in a directory the backup user cannot read is an error naming it, never
// "not present" with the job OK.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdirSync, writeFileSync, readFileSync, readdirSync, chmodSync, existsSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { execa, type Result } from "execa";
import { renderOnlyLab, createBackupUser } from "./backup-harness.ts";
import type { ResolvedVars } from "../../src/inventory/types.ts";

let user: Awaited<ReturnType<typeof createBackupUser>>;
let lab: { root: string; vars: ResolvedVars; cleanup: () => void };

function run(script: string, args: string[] = []): Promise<Result> {
  return execa(join(lab.vars.paths.scripts_dir, script), args, {
    reject: false,
    stdin: "ignore",
    cwd: "/root",
    extendEnv: false,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C.UTF-8" },
  });
}

const entries = (d: string) => (existsSync(d) ? readdirSync(d).filter((f) => !f.startsWith(".")) : []);

beforeAll(async () => {
  user = await createBackupUser("du");
  lab = renderOnlyLab("dedicated-user", (v) => (v.backup_user = user.name));
});
afterAll(async () => {
  lab?.cleanup();
  await user?.remove();
});

describe("a root restore for a dedicated backup user", () => {
  it("restore-media: a target the backup user cannot list is not empty; without its copy nothing changes", async () => {
    const media = lab.vars.paths.media_dir;
    mkdirSync(join(media, "2025"), { recursive: true });
    writeFileSync(join(media, "logo.png"), "logo v1");
    writeFileSync(join(media, "2025", "a.jpg"), "jpeg v1");
    const b = await run("backup-media.sh");
    expect(b.exitCode, String(b.stderr)).toBe(0);
    const dest = join(lab.vars.paths.backup_dir, "media");
    const snapshot = join(dest, readlinkSync(join(dest, "latest")));
    // Later the uploads become the web server's alone (root here), 0700, with new uploads in them.
    writeFileSync(join(media, "uploaded-since.jpg"), "only here");
    chmodSync(media, 0o700);
    try {
      const r = await run("restore-media.sh", [snapshot, "--force"]);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/pre-restore copy .*failed.*nothing was changed/);
      expect(String(r.stdout) + String(r.stderr)).not.toContain("the target was empty");
      // Nothing was changed: the upload made since is still there, no copy claims to exist.
      expect(readFileSync(join(media, "uploaded-since.jpg"), "utf8")).toBe("only here");
      expect(entries(join(dest, "pre-restore"))).toEqual([]);
    } finally {
      chmodSync(media, 0o755);
    }
  });

  it("restore-config: files in a directory the backup user cannot search are listed by root; no copy, no restore", async () => {
    const app = lab.vars.paths.app_dir;
    mkdirSync(join(app, "nginx"), { recursive: true });
    writeFileSync(join(app, ".env"), "A=1\n");
    writeFileSync(join(app, "nginx", "site.conf"), "server { v1; }\n");
    chmodSync(join(app, ".env"), 0o644);
    const b = await run("backup-config.sh");
    expect(b.exitCode, String(b.stderr)).toBe(0);
    const cfg = join(lab.vars.paths.backup_dir, "config");
    const archive = join(
      cfg,
      readdirSync(cfg).find((f) => /^config_.*\.tar\.gz$/.test(f))!,
    );
    // A deploy changes the site config and closes the directory to everyone but root.
    writeFileSync(join(app, "nginx", "site.conf"), "server { v2, the one in production; }\n");
    chmodSync(join(app, "nginx"), 0o700);
    try {
      const r = await run("restore-config.sh", [archive, "--force"]);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/nginx\/site\.conf \(replaces the current file\)/);
      expect(r.stderr).toMatch(/pre-restore (archive|copy) .*failed.*nothing was changed/);
      expect(readFileSync(join(app, "nginx", "site.conf"), "utf8")).toBe("server { v2, the one in production; }\n");
      expect(entries(join(cfg, "pre-restore"))).toEqual([]);
    } finally {
      chmodSync(join(app, "nginx"), 0o755);
    }
    // Readable again: the copy is taken (by the backup user, who owns it) and the restore goes ahead.
    const ok = await run("restore-config.sh", [archive, "--force"]);
    expect(ok.exitCode, String(ok.stderr)).toBe(0);
    expect(readFileSync(join(app, "nginx", "site.conf"), "utf8")).toBe("server { v1; }\n");
    const pre = entries(join(cfg, "pre-restore")).filter((f) => f.endsWith(".tar.gz"));
    expect(pre).toHaveLength(1);
    const list = (await execa("tar", ["-tzf", join(cfg, "pre-restore", pre[0]!)])).stdout.split("\n").sort();
    expect(list).toEqual([".env", "nginx/site.conf"]);
    const owner = (await execa("stat", ["-c", "%U", join(cfg, "pre-restore", pre[0]!)])).stdout;
    expect(owner).toBe(user.name);
  });
});

describe("backup-config.sh as a dedicated backup user", () => {
  it("names the files of a directory it cannot read as an error (exit 1, alert), never 'not present'", async () => {
    const app = lab.vars.paths.app_dir;
    mkdirSync(join(app, "nginx"), { recursive: true });
    mkdirSync(join(app, ".github", "workflows"), { recursive: true });
    writeFileSync(join(app, ".env"), "A=1\n");
    chmodSync(join(app, ".env"), 0o644);
    writeFileSync(join(app, "nginx", "site.conf"), "server {}\n");
    writeFileSync(join(app, ".github", "workflows", "ci.yml"), "on: push\n");
    const cfg = join(lab.vars.paths.backup_dir, "config");
    const archives = () => readdirSync(cfg).filter((f) => /^config_.*\.tar\.gz$/.test(f));
    const before = archives();
    // nginx/ is root's alone (0700): the backup user cannot list it, so nginx/*.conf matches nothing.
    // .github is searchable but its workflows folder cannot be listed.
    chmodSync(join(app, "nginx"), 0o700);
    chmodSync(join(app, ".github", "workflows"), 0o711);
    try {
      const r = await run("backup-config.sh");
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/cannot read .*nginx.*\(nginx\/\*\.conf\)/);
      expect(r.stderr).toMatch(/cannot read .*\.github\/workflows.*\(\.github\/workflows\/\*\.yml\)/);
      expect(r.stderr).not.toMatch(/not present in [^:]*: .*nginx/);
      expect(archives()).toEqual(before);
    } finally {
      chmodSync(join(app, "nginx"), 0o755);
      chmodSync(join(app, ".github", "workflows"), 0o755);
    }
    const ok = await run("backup-config.sh");
    expect(ok.exitCode, String(ok.stderr)).toBe(0);
  });
});
