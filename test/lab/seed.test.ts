// The lab's seed data (src/lab/seed/): the app folder against the default config_files globs, the
// per-host .env files, and the SQL script. No processes: the database itself is checked in lab.test.ts.
import { afterAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import picomatch from "picomatch";
import { DEFAULT_VARS } from "../../src/inventory/defaults.ts";
import {
  APP_FILES,
  APP_OTHER_FILES,
  CONFIG_FILES,
  SEED_DIR,
  SEED_ROW_COUNTS,
  UPLOAD_FILES,
  appFileContent,
  seedSql,
  writeAppFiles,
} from "../../src/lab/seed.ts";

const tmp = mkdtempSync(join(tmpdir(), "cep-seed-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("the lab's app folder", () => {
  it("has a file for every default config_files glob, so the list cannot drift from the lab", () => {
    for (const glob of DEFAULT_VARS.config_files)
      expect(
        APP_FILES.filter((f) => picomatch(glob)(f)),
        `${glob} matches no file in ${SEED_DIR}/app`,
      ).not.toEqual([]);
  });

  it("names as config exactly what bash expands the default globs to (as backup-config.sh does)", async () => {
    const dir = join(tmp, "bash");
    writeAppFiles(dir, { host: "lab1", pgPort: 25431 });
    const r = await execa(
      "bash",
      [
        "-c",
        'cd "$1" && shift && IFS= && shopt -s nullglob && for p; do m=($p); for f in "${m[@]}"; do [[ -e $f ]] && printf "%s\\n" "$f"; done; done',
        "_",
        dir,
        ...DEFAULT_VARS.config_files,
      ],
      { stdin: "ignore" },
    );
    expect([...new Set(r.stdout.split("\n"))].sort()).toEqual([...CONFIG_FILES].sort());
  });

  it("also holds files that are not config, which a config backup must leave out", () => {
    expect(APP_OTHER_FILES).toEqual(expect.arrayContaining(["package.json", "README.md"]));
    expect(APP_FILES.length).toBe(CONFIG_FILES.length + APP_OTHER_FILES.length);
  });

  it("fills each host's port and secrets into the .env files, which are 0600", () => {
    const a = appFileContent(".env.production", { host: "lab1", pgPort: 25431 });
    const b = appFileContent(".env.production", { host: "lab2", pgPort: 25432 });
    expect(a).toContain("@127.0.0.1:25431/cepcomunicacion\n");
    expect(b).toContain("@127.0.0.1:25432/cepcomunicacion\n");
    const secrets = (t: string) => [...t.matchAll(/^(PAYLOAD_SECRET|SMTP_PASS|REVALIDATE_TOKEN)=([0-9a-f]{48})$/gm)];
    expect(secrets(a)).toHaveLength(3);
    expect(new Set([...secrets(a), ...secrets(b)].map((m) => m[2])).size).toBe(6);
    expect(appFileContent(".env.production", { host: "lab1", pgPort: 25431 })).toBe(a); // deterministic
    for (const f of APP_FILES) expect(appFileContent(f, { host: "lab1", pgPort: 1 }), f).not.toMatch(/\{\{/);
    const dir = join(tmp, "modes");
    writeAppFiles(dir, { host: "lab1", pgPort: 25431 });
    for (const f of APP_FILES)
      expect((statSync(join(dir, f)).mode & 0o777).toString(8), f).toBe(f.startsWith(".env") ? "600" : "644");
    expect(readFileSync(join(dir, "docker-compose.yml"), "utf8")).toBe(
      readFileSync(join(SEED_DIR, "app/docker-compose.yml"), "utf8"),
    );
  });
});

describe("the seed SQL", () => {
  it("runs payload.sql as the app role, with one seed_uploads row per uploaded file", () => {
    const sql = seedSql("cepcomunicacion");
    expect(sql.startsWith('SET ROLE "cepcomunicacion";\n')).toBe(true);
    expect(sql.trimEnd().endsWith("RESET ROLE;")).toBe(true);
    expect(sql).toContain(readFileSync(join(SEED_DIR, "payload.sql"), "utf8").trimEnd());
    const rows = sql.slice(
      sql.indexOf("INSERT INTO seed_uploads"),
      sql.indexOf(";\n", sql.indexOf("INSERT INTO seed_uploads")),
    );
    const kept = UPLOAD_FILES.filter((f) => !f.excluded);
    expect(rows.match(/^ {2}\(\d+, /gm)).toHaveLength(kept.length);
    expect(SEED_ROW_COUNTS.media).toBe(kept.length);
    expect(rows).toContain(`(1, '${kept[0]!.path}', ${kept[0]!.bytes})`);
    expect(rows).not.toContain(".DS_Store");
  });
});
