// The --live drill end to end on a 2-host staging lab: real sshd and PostgreSQL hosts with real
// backups, the real CLI. The recovery goes over the live data with the installed restore scripts:
// what changed after the backup is back, the pre-restore backups are there, drill.verify_command ran
// on the restored host; a restore that fails puts the live data back and fails only its host; a
// production inventory is refused before any host is contacted.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { tmpdir } from "node:os";
import { startTestLab, cli, type TestLab } from "../helpers/lab.ts";
import { connectionCounter } from "../helpers/ports.ts";
import { cliAtTerminal } from "../helpers/pty.ts";
import {
  provisionWithBackups,
  liveRowCounts,
  databases,
  newestDump,
  drillLeftovers,
  cluster,
  backupDir,
  APP,
} from "../helpers/backups.ts";
import { psqlSuper } from "../../src/lab/postgres.ts";
import type { LabHost } from "../../src/lab/lab.ts";

const PROMPT = "Type the inventory's name";
let lab: TestLab;
let inv: string;
const reportDir = mkdtempSync(join(tmpdir(), "drill-live-reports-"));
/** Per host: the row counts, the media file removed and the .env content as the backups have them. */
const atBackup = new Map<string, { rows: Record<string, number>; mediaFile: string; env: string }>();

const marker = (h: LabHost) => join(h.dir, "verify-marker");
const total = (rows: Record<string, number>) => Object.values(rows).reduce((a, b) => a + b, 0);

/** The first file under a folder (depth first, by name). */
function firstFile(dir: string): string {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isFile()) return p;
    if (e.isDirectory()) {
      const f = firstFile(p);
      if (f) return f;
    }
  }
  return "";
}

/** What happens on a host after its backups: rows deleted, a media file removed, the .env edited. */
async function changeAfterBackup(h: LabHost, rows: number): Promise<void> {
  await psqlSuper(cluster(h), `DELETE FROM leads WHERE ctid IN (SELECT ctid FROM leads LIMIT ${rows});`, APP);
  rmSync(atBackup.get(h.name)!.mediaFile);
  writeFileSync(join(h.appDir, ".env"), `${atBackup.get(h.name)!.env}CHANGED_AFTER_BACKUP=1\n`);
}

beforeAll(async () => {
  lab = await startTestLab(2);
  await provisionWithBackups(lab);
  const base = lab.inventory();
  base.environment = "staging";
  for (const h of lab.state.hosts) {
    // A file the snapshot holds (not one of media_excludes, which are never backed up).
    const snapshots = join(backupDir(h), "media");
    const newest = readdirSync(snapshots)
      .filter((f) => /^\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}$/.test(f))
      .sort()
      .pop()!;
    const inSnapshot = firstFile(join(snapshots, newest));
    expect(inSnapshot).not.toBe("");
    const mediaFile = join(h.mediaDir, relative(join(snapshots, newest), inSnapshot));
    expect(existsSync(mediaFile)).toBe(true);
    atBackup.set(h.name, {
      rows: await liveRowCounts(h),
      mediaFile,
      env: readFileSync(join(h.appDir, ".env"), "utf8"),
    });
    // The app's check after the recovery: the removed media file must be back before it says ok.
    base.hosts[h.name].vars.drill = {
      verify_command: `test -f '${mediaFile}' && date -u +%s > '${marker(h)}' && echo verify-ok on ${h.name}`,
    };
  }
  inv = lab.writeInventory("staging-live.yml", base);
});
afterAll(async () => {
  rmSync(reportDir, { recursive: true, force: true });
  await lab?.down();
});

describe("drill --live", () => {
  it("refused (exit 1): a production inventory before any host is contacted, with or without --force; staging without --force and a terminal, or with a yes typed instead of its name", async () => {
    const counter = await connectionCounter();
    try {
      const base = lab.inventory();
      base.environment = "production";
      for (const h of Object.values<any>(base.hosts)) h.ssh.port = counter.port;
      const prod = lab.writeInventory("prod-live.yml", base);
      for (const args of [
        [prod, "--live", "--force"],
        [prod, "--live"],
      ]) {
        const r = await cli("drill", [...args, "--report-dir", reportDir]);
        expect(r.code, r.stdout + r.stderr).toBe(1);
        expect(r.stderr).toMatch(
          /prod-live\.yml: environment: production: restore drills never run against production/,
        );
        expect(r.report).toBeUndefined();
      }
      expect(counter.count()).toBe(0);
      expect(readdirSync(reportDir)).toEqual([]);
      // Staging without --force and without a terminal: refused too (exit 1), nothing restored.
      const r = await cli("drill", [inv, "--live", "--report-dir", reportDir]);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stderr).toMatch(/--live: refusing to run without --force: there is no terminal to confirm on/);
      expect(readdirSync(reportDir)).toEqual([]);
      // At a terminal a "yes" is not enough for live data: the inventory's name is.
      const yes = await cliAtTerminal("drill", [inv, "--live", "--report-dir", reportDir], "yes", PROMPT);
      expect(yes.code, yes.output).toBe(1);
      expect(yes.output).toContain("Their live database, media and app config are REPLACED by the newest backups");
      expect(yes.output).toMatch(/drill: cancelled \(the answer was not the inventory's name, staging-live\)/);
      expect(readdirSync(reportDir)).toEqual([]);
      for (const h of lab.state.hosts) expect(readdirSync(join(backupDir(h), "database", "pre-restore"))).toEqual([]);
    } finally {
      counter.close();
    }
  });

  it("restores over the live data: deleted rows, a removed media file and an edited config file are back; pre-restore backups kept; verify_command ran", async () => {
    for (const h of lab.state.hosts) {
      await changeAfterBackup(h, 5);
      expect(total(await liveRowCounts(h))).toBe(total(atBackup.get(h.name)!.rows) - 5);
    }
    const t0 = Date.now();
    // At a terminal, confirmed by typing the inventory's name (the failure test below uses --force).
    const r = await cliAtTerminal("drill", [inv, "--live", "--report-dir", reportDir], "staging-live", PROMPT);
    expect(r.code, r.output).toBe(0);
    expect(r.report.drill).toMatchObject({ verdict: "PASSED", mode: "live", hosts_passed: 2 });
    for (const h of lab.state.hosts) {
      const hr = r.report.hosts.find((x: any) => x.name === h.name);
      const d = hr.drill;
      expect(d.mode).toBe("live");
      const was = atBackup.get(h.name)!;
      // The live data is the backup's again.
      expect(await liveRowCounts(h)).toEqual(was.rows);
      expect(existsSync(was.mediaFile)).toBe(true);
      expect(readFileSync(join(h.appDir, ".env"), "utf8")).toBe(was.env);
      const { database, media, config, monthly } = d.components;
      expect(database).toMatchObject({ status: "passed", backup: newestDump(h), live: { target: APP } });
      expect(database.restored).toEqual({ tables: Object.keys(was.rows).length, rows: total(was.rows) });
      expect(media).toMatchObject({ status: "passed", live: { target: h.mediaDir } });
      expect(media.details).toMatch(/diff -r identical/);
      expect(config).toMatchObject({ status: "passed", live: { target: h.appDir } });
      // The pre-restore backups: copies of the live data the drill replaced (rows deleted, file gone, .env edited).
      const pre = database.live.pre_restore;
      expect(pre).toMatch(new RegExp(`^${backupDir(h)}/database/pre-restore/pre-restore_${APP}_[0-9_-]+\\.dump$`));
      expect(JSON.parse(readFileSync(`${pre}.manifest.json`, "utf8")).total_rows).toBe(total(was.rows) - 5);
      const preMedia = media.live.pre_restore;
      expect(preMedia.startsWith(`${backupDir(h)}/media/pre-restore/`)).toBe(true);
      expect(statSync(preMedia).isDirectory()).toBe(true);
      expect(existsSync(join(preMedia, relative(h.mediaDir, was.mediaFile)))).toBe(false);
      expect(config.live.pre_restore).toMatch(new RegExp(`^${backupDir(h)}/config/pre-restore/pre-restore_config_`));
      expect(existsSync(config.live.pre_restore)).toBe(true);
      for (const c of [database, media, config]) expect(c.live.pre_restore_exists).toBe(true);
      // verify_command ran on the restored host (the media file was back: its marker is new).
      expect(Number(readFileSync(marker(h), "utf8"))).toBeGreaterThanOrEqual(Math.floor(t0 / 1000) - 1);
      expect(d.verify_command).toMatchObject({ status: "passed", exit_code: 0, output: [`verify-ok on ${h.name}`] });
      expect(d.phases.verification_ms).toBe(media.verify_ms + config.verify_ms + d.verify_command.duration_ms);
      // The older tiers still go to scratch, and the scratch space is gone.
      expect(monthly.status).toBe("passed");
      expect(monthly.live).toBeUndefined();
      expect(monthly.details).toMatch(/scratch database dropped/);
      expect((await databases(h)).filter((x) => x.includes("_drill_") || x.includes("_pre_restore_"))).toEqual([]);
      expect(drillLeftovers(h)).toEqual([]);
      // last-drill.json: the mode and where the pre-restore backups are.
      const last = JSON.parse(readFileSync(`${h.prefix}/var/lib/${APP}-backup/last-drill.json`, "utf8"));
      expect(last).toMatchObject({
        verdict: "PASSED",
        mode: "live",
        pre_restore: { database: pre, media: preMedia, config: config.live.pre_restore },
      });
    }
    // Three report files: the JSON, the Markdown and the history page, each saying it was live.
    const files = readdirSync(reportDir).sort();
    expect(files).toHaveLength(3);
    const { markdown, json } = r.report.drill.report_files;
    expect(files).toEqual([json, markdown, join(reportDir, "index.html")].map((f) => relative(reportDir, f)).sort());
    expect(JSON.parse(readFileSync(json, "utf8")).drill.mode).toBe("live");
    const md = readFileSync(markdown, "utf8");
    expect(md).toContain("| Mode | **live**: restored over the live database, media and app config |");
    expect(md).toMatch(/The weekly and monthly dumps went into a scratch database/);
    expect(md).toMatch(/## Pre-restore backups\n/);
    for (const h of lab.state.hosts) {
      expect(md).toMatch(
        new RegExp(
          `\\| ${h.name} \\| database \\| ${APP} \\| ${backupDir(h)}/database/pre-restore/\\S+ \\| yes \\| - \\|`,
        ),
      );
      expect(md).toMatch(
        new RegExp(`\\| ${h.name} \\| test -f .* \\| passed \\| 0 \\| [^|]+ \\| verify-ok on ${h.name} \\|`),
      );
    }
    expect(readFileSync(join(reportDir, "index.html"), "utf8")).toContain('<td data-mode="live">live</td>');
  });

  it("a live restore that fails puts the host's live database back and fails only that host (exit 2); the other passes", async () => {
    const [h1, h2] = lab.state.hosts as [LabHost, LabHost];
    for (const h of [h1, h2]) await changeAfterBackup(h, 3);
    rmSync(marker(h1));
    rmSync(marker(h2));
    const before = await liveRowCounts(h2);
    const envBefore = readFileSync(join(h2.appDir, ".env"), "utf8");
    // One table's recorded row count off by one: restore-database.sh restores over the live
    // database, its verification fails, and it puts the original database back.
    const manifest = `${newestDump(h2)}.manifest.json`;
    const good = readFileSync(manifest, "utf8");
    // A new file, not a write through the hard link the monthly point shares with the daily dump.
    rmSync(manifest);
    writeFileSync(
      manifest,
      good.replace(/("rows": )(\d+)/, (_m, k: string, n: string) => `${k}${Number(n) + 1}`),
      { mode: 0o600 },
    );
    try {
      const r = await cli("drill", [inv, "--live", "--force", "--report-dir", reportDir]);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.report.drill).toMatchObject({ verdict: "FAILED", mode: "live", hosts_passed: 1 });
      const [r1, r2] = r.report.hosts;
      expect(r1).toMatchObject({ name: h1.name, status: "ok", drill: { verdict: "PASSED" } });
      expect(await liveRowCounts(h1)).toEqual(atBackup.get(h1.name)!.rows);
      expect(existsSync(marker(h1))).toBe(true);

      expect(r2).toMatchObject({ name: h2.name, status: "failed", drill: { verdict: "FAILED" } });
      const c = r2.drill.components;
      expect(c.database.status).toBe("failed");
      expect(c.database.details).toMatch(/does not match the manifest/);
      expect(c.database.details).toMatch(
        /rollback: none needed: the original database was put back as cepcomunicacion/,
      );
      expect(c.database.live.pre_restore_exists).toBe(true);
      // Nothing after the failed restore went over the live data, and the app check did not run.
      expect(c.media).toMatchObject({ status: "skipped" });
      expect(c.config).toMatchObject({ status: "skipped" });
      expect(c.media.details).toMatch(/the database restore did not pass/);
      expect(r2.drill.verify_command).toMatchObject({ status: "skipped" });
      expect(r2.tasks.filter((t: any) => t.status === "failed").map((t: any) => t.name)).toEqual(["drill database"]);
      // h2's live data is as it was before the drill (the deleted rows still deleted, the .env as edited).
      expect(await liveRowCounts(h2)).toEqual(before);
      expect(existsSync(atBackup.get(h2.name)!.mediaFile)).toBe(false);
      expect(readFileSync(join(h2.appDir, ".env"), "utf8")).toBe(envBefore);
      expect(existsSync(marker(h2))).toBe(false);
      expect((await databases(h2)).filter((x) => x.includes("_drill_") || x.includes("_pre_restore_"))).toEqual([]);
      const md = readFileSync(r.report.drill.report_files.markdown, "utf8");
      expect(md).toMatch(new RegExp(`\\| ${h2.name} \\| media \\| skipped \\|`));
      expect(md).toMatch(new RegExp(`- ${h2.name} database: failed: restore-database.sh exit 1: `));
    } finally {
      rmSync(manifest);
      writeFileSync(manifest, good, { mode: 0o600 });
    }
  });
});
