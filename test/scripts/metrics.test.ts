// check-backups' Prometheus textfile (lib/metrics.sh) against real backups made by the installed
// jobs: validated by Debian's `promtool check metrics`, written atomically, fed by the drill's
// state file and the off-site check's array, and changed when a backup goes stale.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { startLab, seedDatabase, type Lab } from "./backup-harness.ts";

let lab: Lab;
let textfileDir: string;
let prom: string;

beforeAll(async () => {
  lab = await startLab("metrics", {
    patch: (v) => {
      v.metrics = {};
      v.check = { ...v.check, disk_warning_percent: 100, disk_critical_percent: 101 };
    },
  });
  textfileDir = join(lab.root, "node-exporter");
  mkdirSync(textfileDir);
  lab.install((v) => (v.metrics = { textfile_dir: textfileDir }));
  prom = join(textfileDir, "cepcomunicacion_backup.prom");
  await seedDatabase(lab);
  writeFileSync(join(lab.vars.paths.app_dir, ".env"), "SECRET=1\n".repeat(30));
  mkdirSync(join(lab.vars.paths.media_dir, "2025"), { recursive: true });
  writeFileSync(join(lab.vars.paths.media_dir, "a.jpg"), "jpeg");
  writeFileSync(join(lab.vars.paths.media_dir, "2025", "b.png"), "png data");
  for (const s of ["backup-database.sh", "backup-database-weekly.sh", "backup-config.sh", "backup-media.sh"]) {
    const r = await lab.run(s);
    expect(r.exitCode, `${s}: ${r.stderr}`).toBe(0);
  }
});
afterAll(async () => {
  await lab?.teardown();
});

/** `promtool check metrics` on a text: its exit code and what it said. */
async function promtool(text: string): Promise<{ code: number; out: string }> {
  const r = await execa("promtool", ["check", "metrics"], { input: text, reject: false });
  return { code: r.exitCode ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** The samples of a textfile: "name{labels}" → value. */
function samples(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

const at = (s: Map<string, number>, key: string) => {
  const v = s.get(key);
  if (v === undefined) throw new Error(`no sample ${key} in:\n${[...s.keys()].join("\n")}`);
  return v;
};

describe("metrics textfile", () => {
  it("is written by check-backups, passes promtool check metrics, and holds every kind, check, job, the drill and the disk", async () => {
    writeFileSync(
      join(lab.vars.paths.state_dir, "last-drill.json"),
      JSON.stringify({
        finished_at: "2026-03-01T10:00:00Z",
        verdict: "PASSED",
        rto_ms_total: 312_000,
        rpo_seconds_max: 7200,
      }),
    );
    const r = await lab.run("check-backups.sh", ["--no-alert"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const text = readFileSync(prom, "utf8");
    expect(statSync(prom).mode & 0o777).toBe(0o644);
    // Written through a temp file and a rename in the same directory: nothing else is left there.
    expect(readdirSync(textfileDir)).toEqual(["cepcomunicacion_backup.prom"]);
    const check = await promtool(text);
    expect(check.out).toBe("");
    expect(check.code).toBe(0);

    const families = text.split("\n").filter((l) => l.startsWith("# TYPE ")).length;
    const s = samples(text);
    console.log(`[figures] metrics textfile: ${families} families, ${s.size} samples; promtool check metrics: OK`);
    expect(text).toMatch(
      /^# HELP cep_backup_age_seconds Age of the newest backup of a kind\.\n# TYPE cep_backup_age_seconds gauge\n/m,
    );
    const app = 'app="cepcomunicacion"';
    expect(at(s, `cep_backup_overall_status{${app}}`)).toBe(0);
    for (const c of ["database", "database_weekly", "media", "config", "disk_space"])
      expect(at(s, `cep_backup_check_status{${app},check="${c}"}`), c).toBe(0);
    const now = Date.now() / 1000;
    expect(Math.abs(at(s, `cep_backup_check_timestamp_seconds{${app}}`) - now)).toBeLessThan(120);
    for (const kind of ["database", "database_weekly", "media", "config"]) {
      const k = `${app},kind="${kind}"`;
      expect(at(s, `cep_backup_age_seconds{${k}}`), kind).toBeLessThan(600);
      expect(Math.abs(at(s, `cep_backup_last_success_timestamp_seconds{${k}}`) - now), kind).toBeLessThan(600);
      expect(at(s, `cep_backup_size_bytes{${k}}`), kind).toBeGreaterThan(0);
      expect(at(s, `cep_backup_kept{${k}}`), kind).toBe(1);
    }
    // Sizes and counts are the backups' own: the media snapshot's manifest, the dump's file.
    const dbDir = join(lab.vars.paths.backup_dir, "database");
    const dump = readdirSync(dbDir).find((f) => f.endsWith(".dump"))!;
    expect(at(s, `cep_backup_size_bytes{${app},kind="database"}`)).toBe(statSync(join(dbDir, dump)).size);
    expect(at(s, `cep_backup_database_tables{${app},kind="database"}`)).toBe(14);
    expect(at(s, `cep_backup_files{${app},kind="media"}`)).toBe(2);
    expect(at(s, `cep_backup_size_bytes{${app},kind="media"}`)).toBe(4 + 8);
    expect(at(s, `cep_backup_files{${app},kind="config"}`)).toBeGreaterThanOrEqual(1);
    for (const job of ["backup-database", "backup-database-weekly", "backup-media", "backup-config"])
      expect(at(s, `cep_backup_job_consecutive_failures{${app},job="${job}"}`), job).toBe(0);
    expect(at(s, `cep_backup_drill_last_timestamp_seconds{${app}}`)).toBe(Date.parse("2026-03-01T10:00:00Z") / 1000);
    expect(at(s, `cep_backup_drill_passed{${app}}`)).toBe(1);
    expect(at(s, `cep_backup_drill_rto_seconds{${app}}`)).toBe(312);
    expect(at(s, `cep_backup_drill_rpo_seconds{${app}}`)).toBe(7200);
    expect(at(s, `cep_backup_disk_used_percent{${app}}`)).toBeGreaterThanOrEqual(0);
    expect(at(s, `cep_backup_disk_avail_bytes{${app}}`)).toBeGreaterThan(0);
    // No off-site check has set its ages on this host: no off-site series (absent, not 0).
    expect(text).not.toContain("cep_backup_offsite_");
  });

  it("changes when a backup goes stale: the dump's age, its check and the overall status", async () => {
    const before = samples(readFileSync(prom, "utf8"));
    // Make the daily dump three days old: its name, its manifest's times and its mtime.
    const dbDir = join(lab.vars.paths.backup_dir, "database");
    const dump = readdirSync(dbDir).find((f) => f.endsWith(".dump"))!;
    const old = new Date(Date.now() - 3 * 86400_000);
    const stamp = old.toISOString().slice(0, 19).replace("T", "_").replace(/:/g, "-");
    const name = `cepcomunicacion_${stamp}.dump`;
    renameSync(join(dbDir, dump), join(dbDir, name));
    writeFileSync(
      join(dbDir, `${name}.sha256`),
      readFileSync(join(dbDir, `${dump}.sha256`), "utf8").replace(dump, name),
    );
    const manifest = readFileSync(join(dbDir, `${dump}.manifest.json`), "utf8").replace(
      /"(started_at|created_at)": *"[^"]*"/g,
      `"$1": "${old.toISOString()}"`,
    );
    writeFileSync(join(dbDir, `${name}.manifest.json`), manifest);
    await execa("rm", ["-f", join(dbDir, `${dump}.sha256`), join(dbDir, `${dump}.manifest.json`)]);
    await execa("touch", [
      "-d",
      old.toISOString(),
      ...[name, `${name}.sha256`, `${name}.manifest.json`].map((f) => join(dbDir, f)),
    ]);

    const r = await lab.run("check-backups.sh", ["--no-alert"]);
    expect(r.exitCode).toBe(2);
    const text = readFileSync(prom, "utf8");
    expect((await promtool(text)).code).toBe(0);
    const after = samples(text);
    const app = 'app="cepcomunicacion"';
    expect(at(before, `cep_backup_age_seconds{${app},kind="database"}`)).toBeLessThan(600);
    expect(at(after, `cep_backup_age_seconds{${app},kind="database"}`)).toBeGreaterThan(3 * 86400 - 600);
    expect(at(after, `cep_backup_check_status{${app},check="database"}`)).toBe(2);
    expect(at(after, `cep_backup_overall_status{${app}}`)).toBe(2);
    expect(at(after, `cep_backup_check_status{${app},check="media"}`)).toBe(0);
  });

  it("exports the off-site check's ages when it sets OFFSITE_NEWEST_EPOCH, and a directory it cannot write is a warning only", async () => {
    const lib = (body: string, env: Record<string, string> = {}) =>
      execa(
        "bash",
        [
          "-c",
          `set -Eeuo pipefail; source "${lab.scripts}/backup-lib.sh"; lib_init metrics-test; declare -A STATUS=([database]=OK) ISSUES=(); ${body}`,
        ],
        { reject: false, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, extendEnv: false },
      );
    // And a job that is failing (lib/alerts.sh's count) shows its count.
    writeFileSync(join(lab.vars.paths.state_dir, "backup-media.failures"), "count=2\nfirst_failure=x\n");
    const r = await lib(
      `declare -A OFFSITE_NEWEST_EPOCH=([database]=$(($(date +%s) - 3600)) [media]=$(($(date +%s) - 7200))); metrics_text OK`,
    );
    expect(r.exitCode, r.stderr).toBe(0);
    // (execa drops the output's final newline, which the exposition format requires)
    expect(await promtool(`${r.stdout}\n`)).toEqual({ code: 0, out: "" });
    const s = samples(r.stdout);
    const app = 'app="cepcomunicacion"';
    expect(Math.abs(at(s, `cep_backup_offsite_age_seconds{${app},kind="database"}`) - 3600)).toBeLessThan(60);
    expect(Math.abs(at(s, `cep_backup_offsite_age_seconds{${app},kind="media"}`) - 7200)).toBeLessThan(60);
    expect(r.stdout).toMatch(/^# TYPE cep_backup_offsite_last_success_timestamp_seconds gauge$/m);
    expect(at(s, `cep_backup_job_consecutive_failures{${app},job="backup-media"}`)).toBe(2);
    expect(at(s, `cep_backup_job_consecutive_failures{${app},job="backup-config"}`)).toBe(0);

    const w = await lib(
      `METRICS_TEXTFILE_DIR="$1"; write_metrics OK; echo "rc=$?"`.replace("$1", join(lab.root, "nowhere")),
    );
    expect(w.stdout).toBe("rc=0");
    expect(w.stderr).toMatch(
      /\[WARNING\] \[metrics-test\] metrics: cannot write to .*nowhere \(missing or not writable/,
    );
  });
});
