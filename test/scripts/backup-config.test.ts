// backup-config.sh installed and run for real: globs, missing files named, tar -tzf, checksum, 0600.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { renderOnlyLab } from "./backup-harness.ts";
import type { ResolvedVars } from "../../src/inventory/types.ts";

let lab: ReturnType<typeof renderOnlyLab>;
let vars: ResolvedVars;
const run = (args: string[] = []) =>
  execa(join(vars.paths.scripts_dir, "backup-config.sh"), args, {
    reject: false,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    extendEnv: false,
    stdin: "ignore",
  });

beforeAll(() => {
  lab = renderOnlyLab("config");
  vars = lab.vars;
  const app = vars.paths.app_dir;
  mkdirSync(join(app, "nginx"), { recursive: true });
  mkdirSync(join(app, "migrations"), { recursive: true });
  writeFileSync(join(app, ".env"), "DATABASE_URL=postgres://x\n");
  writeFileSync(join(app, "docker-compose.yml"), "services: {}\n");
  writeFileSync(join(app, "nginx", "site.conf"), "server {}\n");
  writeFileSync(join(app, "nginx", "other file.conf"), "server {}\n");
  writeFileSync(join(app, "nginx", "ignored.txt"), "x\n");
  writeFileSync(join(app, "Dockerfile"), "FROM scratch\n");
  writeFileSync(join(app, "Dockerfile.prod"), "FROM scratch\n");
  writeFileSync(join(app, "migrations", "001.sql"), "select 1;\n");
});
afterAll(() => lab?.cleanup());

describe("backup-config.sh", () => {
  it("--help prints the usage; an argument is a usage error", async () => {
    expect((await run(["--help"])).stdout).toMatch(/^Usage: backup-config\.sh/);
    const bad = await run(["x"]);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/Usage:/);
  });

  it("archives the configured files (globs), names the missing ones, 0600, tar -tzf, sha256sum -c, manifest", async () => {
    const r = await run();
    expect(r.exitCode, r.stderr).toBe(0);
    const dir = join(vars.paths.backup_dir, "config");
    const archives = readdirSync(dir).filter((f) => f.endsWith(".tar.gz"));
    expect(archives).toHaveLength(1);
    const name = archives[0]!;
    expect(name).toMatch(/^config_\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}\.tar\.gz$/);
    expect(statSync(join(dir, name)).mode & 0o777).toBe(0o600);
    const list = (await execa("tar", ["-tzf", join(dir, name)])).stdout.split("\n").sort();
    expect(list).toEqual([
      ".env",
      "Dockerfile",
      "Dockerfile.prod",
      "docker-compose.yml",
      "migrations/001.sql",
      "nginx/other file.conf",
      "nginx/site.conf",
    ]);
    expect((await execa("sha256sum", ["-c", `${name}.sha256`], { cwd: dir, reject: false })).exitCode).toBe(0);
    const m = JSON.parse(readFileSync(join(dir, `${name}.manifest.json`), "utf8"));
    expect(m.files.sort()).toEqual(list);
    expect(m.missing).toEqual(
      expect.arrayContaining([
        ".env.production",
        "docker-compose.prod.yml",
        "payload.config.ts",
        ".github/workflows/*.yml",
      ]),
    );
    const log = readFileSync(join(vars.paths.log_dir, "backup-config.log"), "utf8");
    expect(log).toMatch(/skipped, not present in .*: .*\.env\.production.*payload\.config\.ts/);
    expect(readdirSync(dir).filter((f) => f.startsWith(".") && f !== "pre-restore")).toEqual([]);
  });

  it("fails (exit 1, nothing written) when none of the files exist", async () => {
    const dir = join(vars.paths.backup_dir, "config");
    const before = readdirSync(dir).sort();
    const { writeFileSync: w } = await import("node:fs");
    const conf = readFileSync(vars.paths.config_file, "utf8").replace(
      /^CONFIG_FILES=\(.*\)$/m,
      "CONFIG_FILES=(nothing-here 'nope/*')",
    );
    w(vars.paths.config_file, conf);
    const r = await run();
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/none of the configured files exist/);
    expect(readdirSync(dir).sort()).toEqual(before);
  });
});
