// The smoke test and the drill run as root and take their lock in the backup user's lock directory
// (issue 11, finding 8): a symlink planted there must not make root create or write the file it
// points to, and the job must say why it did not run.
import { describe, it, expect, beforeEach, afterEach } from "vitest";
import { execa } from "execa";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { remoteScript } from "../../src/render/remote.ts";

const HELPERS = ["remote/common.sh", "scripts/lib/newest.sh"];

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "cep-locks-"));
  mkdirSync(join(dir, "backups/.locks"), { recursive: true });
  mkdirSync(join(dir, "scripts"));
  // The drill checks that the restore scripts are installed before it takes its lock.
  for (const s of ["restore-database.sh", "restore-media.sh", "restore-config.sh"])
    writeFileSync(join(dir, "scripts", s), "#!/bin/bash\nexit 1\n", { mode: 0o755 });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The job script with paths in the temp dir; only what runs before and at the lock matters here. */
function run(name: "smoke.sh" | "drill.sh") {
  const values = {
    SCRIPTS: join(dir, "scripts"),
    BACKUP_DIR: join(dir, "backups"),
    LOCK_DIR: join(dir, "backups/.locks"),
    STATUS_FILE: join(dir, "status.json"),
    BACKUP_USER: "root",
    CRON_PATH: "/usr/bin:/bin",
    APP: "cep",
    DB_HOST: "127.0.0.1",
    DB_PORT: 1,
    DB_USER: "nobody",
    PGPASSFILE: join(dir, "pgpass"),
    SCRATCH_DB: "cep_scratch",
    SCRATCH_RE: "^cep_scratch",
    RUN_DB: 0,
    RUN_MEDIA: 0,
    RUN_CONFIG: 0,
    FROM: "local",
    AGE_IDENTITY: "",
  };
  return execa("bash", ["-s"], { input: remoteScript(name, values, HELPERS), reject: false, timeout: 60_000 });
}

for (const name of ["smoke.sh", "drill.sh"] as const) {
  const lock = name.replace(".sh", ".lock");
  describe(`${name}: its lock in the backup user's directory`, () => {
    it("a planted symlink to a missing file: root creates nothing there, and the job says why", async () => {
      const target = join(dir, "root-owned-new-file");
      symlinkSync(target, join(dir, "backups/.locks", lock));
      const r = await run(name);
      expect(existsSync(target)).toBe(false);
      expect(r.stdout).toMatch(/symbolic link/);
    });

    it("a planted symlink to an existing file: nothing is appended to it", async () => {
      const target = join(dir, "crontab");
      writeFileSync(target, "keep\n");
      symlinkSync(target, join(dir, "backups/.locks", lock));
      const r = await run(name);
      expect(readFileSync(target, "utf8")).toBe("keep\n");
      expect(r.stdout).toMatch(/symbolic link/);
    });

    it("a missing lock file is created as a plain file and the job gets past its lock", async () => {
      const r = await run(name);
      expect(existsSync(join(dir, "backups/.locks", lock))).toBe(true);
      expect(r.stdout).not.toMatch(/symbolic link|another .* is running/);
    });
  });
}
