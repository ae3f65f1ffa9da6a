// restore-config.sh, installed and run for real on an archive made by backup-config.sh: refusals
// (no terminal, bad or missing checksum) change nothing; a restore takes a pre-restore archive of
// the files it replaces, extracts, verifies against the archive and makes .env files 0600.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import {
  mkdirSync,
  writeFileSync,
  readFileSync,
  readdirSync,
  statSync,
  chmodSync,
  copyFileSync,
  rmSync,
  existsSync,
  chownSync,
} from "node:fs";
import { join, basename } from "node:path";
import { execa, type Result } from "execa";
import { renderOnlyLab } from "./backup-harness.ts";
import type { ResolvedVars } from "../../src/inventory/types.ts";

const SECRET = "PAYLOAD_SECRET=do-not-print-me-7f3a";
const ORIGINAL: Record<string, string> = {
  ".env": `DATABASE_URL=postgres://app@db/app\n${SECRET}\n`,
  "docker-compose.yml": "services:\n  web: {}\n",
  "nginx/site.conf": "server { listen 80; }\n",
  "migrations/001 init.sql": "select 1;\n",
};

let lab: { root: string; vars: ResolvedVars; cleanup: () => void };
let app: string;
let archive: string;
const cfgDir = () => join(lab.vars.paths.backup_dir, "config");
const preDir = () => join(cfgDir(), "pre-restore");

function run(args: string[] = []): Promise<Result> {
  return execa(join(lab.vars.paths.scripts_dir, "restore-config.sh"), args, {
    reject: false,
    stdin: "ignore",
    extendEnv: false,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C.UTF-8" },
  });
}

function read(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of Object.keys(ORIGINAL)) if (existsSync(join(dir, f))) out[f] = readFileSync(join(dir, f), "utf8");
  return out;
}

function preArchives(): string[] {
  return existsSync(preDir())
    ? readdirSync(preDir())
        .filter((f) => f.endsWith(".tar.gz"))
        .sort()
    : [];
}

beforeAll(async () => {
  lab = renderOnlyLab("restore-config");
  app = lab.vars.paths.app_dir;
  mkdirSync(join(app, "nginx"), { recursive: true });
  mkdirSync(join(app, "migrations"), { recursive: true });
  for (const [f, c] of Object.entries(ORIGINAL)) writeFileSync(join(app, f), c);
  // Archived with a loose mode: the restore must tighten it.
  chmodSync(join(app, ".env"), 0o644);
  const b = await execa(join(lab.vars.paths.scripts_dir, "backup-config.sh"), [], { reject: false, stdin: "ignore" });
  expect(b.exitCode, String(b.stderr)).toBe(0);
  const archives = readdirSync(cfgDir()).filter((f) => /^config_.*\.tar\.gz$/.test(f));
  expect(archives).toHaveLength(1);
  archive = join(cfgDir(), archives[0]!);
  // A bad deploy afterwards.
  writeFileSync(join(app, ".env"), "DATABASE_URL=wrong\n");
  rmSync(join(app, "docker-compose.yml"));
});

afterAll(() => lab?.cleanup());

describe("restore-config.sh", () => {
  it("prints its usage on --help and rejects bad arguments with exit 1", async () => {
    const help = await run(["--help"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/^Usage: restore-config\.sh <archive> \[--force\] \[--target DIR\]/);
    const none = await run();
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toContain("which archive?");
    const bad = await run([archive, "--bogus"]);
    expect(bad.exitCode).toBe(1);
  });

  it("refuses without a terminal and without --force; nothing changes", async () => {
    const before = read(app);
    const r = await run([archive]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain("no terminal to confirm on and no --force");
    // The files it would restore were listed first.
    expect(r.stderr).toContain(".env (replaces the current file)");
    expect(r.stderr).toContain("docker-compose.yml (new)");
    expect(read(app)).toEqual(before);
    expect(preArchives()).toEqual([]);
  });

  it("refuses a corrupted archive and one without a checksum", async () => {
    const before = read(app);
    const bad = join(cfgDir(), "config_2000-01-01_00-00-00.tar.gz");
    copyFileSync(archive, bad);
    const buf = readFileSync(bad);
    const at = Math.floor(buf.length / 2);
    buf[at] = buf[at]! ^ 0xff;
    writeFileSync(bad, buf);
    writeFileSync(`${bad}.sha256`, readFileSync(`${archive}.sha256`, "utf8").replace(basename(archive), basename(bad)));
    const r = await run([bad, "--force"]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain("checksum MISMATCH");

    rmSync(`${bad}.sha256`);
    copyFileSync(archive, bad);
    const r2 = await run([bad, "--force"]);
    expect(r2.exitCode).not.toBe(0);
    expect(r2.stderr).toContain("no valid checksum file");
    expect(read(app)).toEqual(before);
    expect(preArchives()).toEqual([]);
    rmSync(bad);
  });

  it("restores into --target: files equal the archive, .env 0600, report, no secret printed", async () => {
    const target = join(lab.root, "restored-config");
    const r = await run([basename(archive), "--force", "--target", target]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(read(target)).toEqual(ORIGINAL);
    expect(statSync(join(target, ".env")).mode & 0o777).toBe(0o600);
    expect(r.stdout).toContain("CONFIGURATION RESTORE REPORT");
    expect(r.stdout).toContain("Status: SUCCESS");
    expect(r.stdout).toContain(`Restored From: ${basename(archive)}`);
    expect(r.stdout).toContain("Files Restored: 4");
    expect(r.stdout).toContain("Pre-Restore Backup: none");
    expect(r.stdout).toContain("IMPORTANT: review the .env files");
    const log = readFileSync(join(lab.vars.paths.log_dir, "restore-config.log"), "utf8");
    expect(log).toContain("verified: all");
    for (const text of [r.stdout, r.stderr, log]) expect(text).not.toContain(SECRET);
  });

  it("restores over the app dir after archiving the current files in pre-restore", async () => {
    const r = await run([archive, "--force"]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(read(app)).toEqual(ORIGINAL);
    expect(statSync(join(app, ".env")).mode & 0o777).toBe(0o600);
    const pre = preArchives();
    expect(pre).toHaveLength(1);
    expect(pre[0]).toMatch(/^pre-restore_config_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d\.tar\.gz$/);
    expect(r.stdout).toContain(`Pre-Restore Backup: ${join(preDir(), pre[0]!)}`);
    expect(statSync(join(preDir(), pre[0]!)).mode & 0o777).toBe(0o600);
    expect((await execa("sha256sum", ["-c", `${pre[0]}.sha256`], { cwd: preDir(), reject: false })).exitCode).toBe(0);
    // It holds the replaced versions (the bad .env), not the files that did not exist.
    const list = (await execa("tar", ["-tzf", join(preDir(), pre[0]!)])).stdout.split("\n").sort();
    expect(list).toEqual([".env", "migrations/001 init.sql", "nginx/site.conf"]);
    const env = await execa("tar", ["-xzOf", join(preDir(), pre[0]!), ".env"]);
    expect(env.stdout).toBe("DATABASE_URL=wrong");
  });

  it("a failed extraction exits non-zero with a FAILED report", async () => {
    // A target where an archived file cannot be written: a non-empty directory in its place.
    const target = join(lab.root, "blocked");
    mkdirSync(join(target, "docker-compose.yml", "sub"), { recursive: true });
    const r = await run([archive, "--force", "--target", target]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout).toContain("Status: FAILED");
  });

  it("a pre-restore name already taken (restores in the same seconds) never loses the new copy or another's checksum", async () => {
    const target = join(lab.root, "collide");
    mkdirSync(join(target, "nginx"), { recursive: true });
    writeFileSync(join(target, ".env"), "CURRENT=1\n");
    writeFileSync(join(target, "nginx", "site.conf"), "server { current; }\n");
    // The names of this second and the next three are taken, with their checksums.
    const now = Number((await execa("date", ["+%s"])).stdout);
    const planted: string[] = [];
    for (let i = 0; i < 4; i++) {
      const stamp = (await execa("date", ["-d", `@${now + i}`, "+%Y-%m-%d_%H-%M-%S"])).stdout;
      const name = `pre-restore_config_${stamp}.tar.gz`;
      mkdirSync(preDir(), { recursive: true });
      writeFileSync(join(preDir(), name), `another restore's copy ${i}`);
      writeFileSync(join(preDir(), `${name}.sha256`), `${"a".repeat(64)}  ${name}\n`);
      planted.push(name);
    }
    const r = await run([archive, "--force", "--target", target]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    for (const [i, name] of planted.entries()) {
      expect(readFileSync(join(preDir(), name), "utf8")).toBe(`another restore's copy ${i}`);
      expect(readFileSync(join(preDir(), `${name}.sha256`), "utf8")).toBe(`${"a".repeat(64)}  ${name}\n`);
    }
    const fresh = preArchives().filter((f) => !planted.includes(f) && f > planted[0]!);
    expect(fresh).toHaveLength(1);
    expect(r.stdout).toContain(`Pre-Restore Backup: ${join(preDir(), fresh[0]!)}`);
    expect((await execa("sha256sum", ["-c", `${fresh[0]}.sha256`], { cwd: preDir(), reject: false })).exitCode).toBe(0);
    expect((await execa("tar", ["-xzOf", join(preDir(), fresh[0]!), ".env"])).stdout).toBe("CURRENT=1");
    for (const name of [...planted, fresh[0]!])
      (rmSync(join(preDir(), name)), rmSync(join(preDir(), `${name}.sha256`)));
  });

  it("restores an old pre-restore archive: pruning comes after the restore and spares it", async () => {
    // Four verified pre-restore archives, 40 to 43 days old (by name and mtime); keep_min is 3.
    mkdirSync(preDir(), { recursive: true });
    const names: string[] = [];
    for (let i = 0; i < 4; i++) {
      const when = Math.floor(Date.now() / 1000) - (40 + i) * 86400;
      const name = `pre-restore_config_${(await execa("date", ["-d", `@${when}`, "+%Y-%m-%d_%H-%M-%S"])).stdout}.tar.gz`;
      copyFileSync(archive, join(preDir(), name));
      const hash = (await execa("sha256sum", [join(preDir(), name)])).stdout.slice(0, 64);
      writeFileSync(join(preDir(), `${name}.sha256`), `${hash}  ${name}\n`);
      await execa("touch", ["-d", `@${when}`, join(preDir(), name), join(preDir(), `${name}.sha256`)]);
      names.push(name);
    }
    const oldest = join(preDir(), names[3]!);
    const r = await run([oldest, "--force"]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(read(app)).toEqual(ORIGINAL);
    expect(existsSync(oldest)).toBe(true);
    expect(existsSync(`${oldest}.sha256`)).toBe(true);
    // The restore's own copy counts now: of the other three, the oldest (42 days) is past keep_min.
    expect(existsSync(join(preDir(), names[2]!))).toBe(false);
    for (const n of names) for (const f of [n, `${n}.sha256`]) rmSync(join(preDir(), f), { force: true });
  });

  it("a failure midway (a read-only folder in the app dir) puts back every replaced file and removes what it created", async () => {
    // Sorted, the archive's entries are .env, docker-compose.yml, migrations/..., nginx/...: the
    // first three are replaced or created, then nginx (immutable) fails.
    writeFileSync(join(app, ".env"), "BROKEN=1\n");
    chmodSync(join(app, ".env"), 0o640);
    chownSync(join(app, ".env"), 65534, 65534);
    rmSync(join(app, "docker-compose.yml"), { force: true });
    rmSync(join(app, "migrations"), { recursive: true, force: true });
    writeFileSync(join(app, "nginx", "site.conf"), "server { broken; }\n");
    const before = read(app);
    const envStat = statSync(join(app, ".env"));
    const locked = join(app, "nginx");
    await execa("chattr", ["+i", locked]);
    let r: Result;
    try {
      r = await run([archive, "--force"]);
    } finally {
      await execa("chattr", ["-i", locked]);
    }
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout).toContain("Status: FAILED");
    expect(r.stdout).toContain(
      `Rollback: done: ${app} is as it was before the restore (1 replaced file(s) put back, 3 created entries removed)`,
    );
    expect(read(app)).toEqual(before);
    const after = statSync(join(app, ".env"));
    expect([after.mode, after.uid, after.gid]).toEqual([envStat.mode, envStat.uid, envStat.gid]);
    expect(existsSync(join(app, "docker-compose.yml"))).toBe(false);
    expect(existsSync(join(app, "migrations"))).toBe(false);
    expect(readdirSync(app).filter((f) => f.includes("cep-restore") || f.includes("cep-rollback"))).toEqual([]);
  });

  it("the installed script passes shellcheck", async () => {
    const r = await execa("shellcheck", ["-x", "restore-config.sh"], {
      cwd: lab.vars.paths.scripts_dir,
      reject: false,
    });
    expect(r.stdout + r.stderr).toBe("");
  });
});
