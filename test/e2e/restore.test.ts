// `npm run restore` end to end on the lab: real sshd and PostgreSQL hosts with real backups, the
// real CLI; the plan, the confirmation (none, --force, a terminal), --at, database, media and
// config restores, failures midway that leave the live data as it was, and the audit log.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { existsSync, readdirSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { join, basename } from "node:path";
import { execa } from "execa";
import { startTestLab, cli, type TestLab } from "../helpers/lab.ts";
import { cliAtTerminal } from "../helpers/pty.ts";
import { provisionWithBackups, liveRowCounts, newestDump, cluster, backupDir, APP } from "../helpers/backups.ts";
import { psqlSuper } from "../../src/lab/postgres.ts";
import { labDbPassword } from "../../src/lab/lab.ts";
import type { LabHost } from "../../src/lab/lab.ts";
import { fileHashes, nextSecond } from "../helpers/files.ts";

let lab: TestLab;
let h: LabHost;
let inv: string;
/** Restore attempts made after connecting: each must be one line of the audit log. */
let attempts = 0;
let dumpA: string;
let countsA: Record<string, number>;
let between: string;

const appDir = (x: LabHost) => `${x.prefix}/var/www/${APP}`;
const mediaDir = (x: LabHost) => `${appDir(x)}/uploads`;
const auditLog = (x: LabHost) => `${x.prefix}/var/log/${APP}/restore-audit.log`;
const auditLines = (x: LabHost) =>
  existsSync(auditLog(x)) ? readFileSync(auditLog(x), "utf8").trim().split("\n").filter(Boolean) : [];

const sql = (x: LabHost, q: string) => psqlSuper(cluster(x), q, APP);
/** The app's tables with rows, largest first. */
async function tablesWithRows(x: LabHost): Promise<string[]> {
  const c = await liveRowCounts(x);
  return Object.entries(c)
    .filter(([, n]) => n > 1)
    .sort((a, b) => b[1] - a[1])
    .map(([t]) => t);
}

const restore = (args: string[]) => cli("restore", [inv, "--limit", h.name, ...args]);

beforeAll(async () => {
  lab = await startTestLab(2);
  h = lab.state.hosts[0]!;
  inv = lab.state.files.inventory;
  await provisionWithBackups(lab);
  // Dump A (provisionWithBackups), then changed data, then dump B a second later.
  dumpA = newestDump(h);
  countsA = await liveRowCounts(h);
  const [t] = await tablesWithRows(h);
  await sql(h, `DELETE FROM ${t} WHERE ctid IN (SELECT ctid FROM ${t} LIMIT 1);`);
  between = new Date().toISOString();
  await nextSecond();
  await execa(`${h.prefix}/infra/backup/scripts/backup-database.sh`, [], { stdin: "ignore" });
});
afterAll(async () => {
  await lab?.down();
});

describe("restore", () => {
  it("refuses bad input with exit 1 before contacting any host: several hosts, no --limit, --from offsite, --backup with --at", async () => {
    const several = await cli("restore", [inv, "--limit", "lab*", "--component", "database", "--force"]);
    expect(several.code).toBe(1);
    expect(several.stderr).toContain(
      `matches 2 hosts (${lab.state.hosts.map((x) => x.name).join(", ")}); a restore takes exactly one`,
    );
    const none = await cli("restore", [inv, "--component", "database", "--force"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("--limit HOST: a restore needs exactly one host");
    const off = await restore(["--component", "database", "--from", "offsite", "--force"]);
    expect(off.code).toBe(1);
    expect(off.stderr).toContain(
      `--from offsite: ${h.name} has no off-site copy (offsite.enabled is false in its inventory)`,
    );
    const both = await restore(["--component", "config", "--backup", "x", "--at", "2d", "--force"]);
    expect(both.code).toBe(1);
    expect(both.stderr).toContain("--backup and --at: give one of them");
    const at = await restore(["--component", "config", "--at", "2026-11-30T02:00", "--force"]);
    expect(at.code).toBe(1);
    expect(at.stderr).toContain("has no time zone");
    expect(auditLines(h)).toEqual([]);
  });

  it("without a terminal and without --force: exit 1, nothing changed; --check shows the plan and stops", async () => {
    const rows = await liveRowCounts(h);
    const media = fileHashes(mediaDir(h));
    const r = await restore(["--component", "database"]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toContain("without --force: there is no terminal to type the host name at (nothing was changed)");
    const check = await restore(["--component", "database", "--check"]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toContain(`RESTORE PLAN: database on ${h.name} (lab)`);
    expect(check.stdout).toContain(`Backup:      ${basename(newestDump(h))} (database, the newest)`);
    const live = Object.values(rows);
    expect(check.stdout).toContain(`${live.length} tables, ${live.reduce((a, b) => a + b, 0)} rows`);
    expect(check.stdout).toContain(
      `Pre-restore: a backup of what is replaced goes to ${backupDir(h)}/database/pre-restore/`,
    );
    expect(check.report.restore.result).toBe("planned");
    expect(check.report.hosts[0].commands).toBe(1);
    expect(await liveRowCounts(h)).toEqual(rows);
    expect(fileHashes(mediaDir(h))).toEqual(media);
    expect(auditLines(h)).toEqual([]);
  });

  it("--force after rows were deleted brings them back, with a pre-restore dump; --at between two dumps restores the older", async () => {
    const countsB = await liveRowCounts(h);
    const tables = await tablesWithRows(h);
    for (const t of tables.slice(0, 2)) await sql(h, `DELETE FROM ${t};`);
    expect(await liveRowCounts(h)).not.toEqual(countsB);
    const r = await restore(["--component", "database", "--force"]);
    attempts++;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await liveRowCounts(h)).toEqual(countsB);
    expect(r.stdout).toContain("DATABASE RESTORE REPORT");
    expect(r.stdout).toContain("Status: SUCCESS");
    expect(r.stdout).toMatch(/RTO: [\d.]+m?s \(database from cepcomunicacion_/);
    const rec = r.report.restore;
    expect(rec.result).toBe("restored");
    expect(rec.plan.backup.name).toBe(basename(newestDump(h)));
    expect(rec.rto_ms).toBeGreaterThan(0);
    expect(rec.audit.written).toBe(true);
    expect(r.report.hosts[0].commands).toBe(2);
    const pre = readdirSync(`${backupDir(h)}/database/pre-restore`).filter((f) => f.endsWith(".dump"));
    expect(pre).toHaveLength(1);
    expect(rec.run.pre_restore).toBe(`${backupDir(h)}/database/pre-restore/${pre[0]}`);

    const older = await restore(["--component", "database", "--at", between, "--force"]);
    attempts++;
    expect(older.code, older.stdout + older.stderr).toBe(0);
    expect(older.report.restore.plan.backup.name).toBe(basename(dumpA));
    const atSecond = new Date(Math.floor(Date.parse(between) / 1000) * 1000).toISOString();
    expect(older.stdout).toContain(`(database, the newest at or before ${atSecond})`);
    expect(await liveRowCounts(h)).toEqual(countsA);
    expect(countsA).not.toEqual(countsB);
  });

  it("at a terminal: a wrong host name cancels (exit 1, nothing changed), the right one restores", async () => {
    const archive = readdirSync(`${backupDir(h)}/config`).find((f) => /^config_.*\.tar\.gz$/.test(f))!;
    writeFileSync(join(appDir(h), "docker-compose.yml"), "broken: true\n");
    const before = fileHashes(appDir(h));
    const wrong = await cliAtTerminal("restore", [inv, "--limit", h.name, "--component", "config"], "lab9");
    attempts++;
    expect(wrong.code, wrong.output).toBe(1);
    expect(wrong.output).toContain("RESTORE PLAN: config on");
    expect(wrong.output).toContain(`CANCELLED: the answer "lab9" is not the host name ${h.name} (nothing was changed)`);
    expect(fileHashes(appDir(h))).toEqual(before);
    expect(JSON.parse(auditLines(h).at(-1)!)).toMatchObject({ result: "cancelled", component: "config" });

    const right = await cliAtTerminal("restore", [inv, "--limit", h.name, "--component", "config"], h.name);
    attempts++;
    expect(right.code, right.output).toBe(0);
    expect(right.output).toContain("CONFIGURATION RESTORE REPORT");
    expect(right.report.restore.plan.backup.name).toBe(archive);
    expect(readFileSync(join(appDir(h), "docker-compose.yml"), "utf8")).not.toBe("broken: true\n");
    expect(JSON.parse(auditLines(h).at(-1)!)).toMatchObject({
      result: "success",
      component: "config",
      backup: archive,
      forced: false,
    });
  });

  it("media and config: restored from the control machine; a failure midway (a read-only folder) leaves the target as it was", async () => {
    // Media: a stray upload and a changed file; then the same with the changed file's folder immutable.
    const media = mediaDir(h);
    const files = Object.keys(fileHashes(media)).filter((f) => f.includes("/"));
    const inner = join(media, files[0]!);
    const snapshot = fileHashes(
      join(
        backupDir(h),
        "media",
        readdirSync(join(backupDir(h), "media")).find((f) => /^\d{4}-/.test(f))!,
      ),
    );
    writeFileSync(join(media, "stray.txt"), "not in the snapshot");
    const ok = await restore(["--component", "media", "--force"]);
    attempts++;
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(fileHashes(media)).toEqual(snapshot);
    expect(ok.stdout).toContain("MEDIA RESTORE REPORT");

    writeFileSync(join(media, "stray.txt"), "not in the snapshot");
    writeFileSync(inner, "changed since the snapshot");
    const before = fileHashes(media);
    await execa("chattr", ["+i", join(inner, "..")]);
    let bad;
    try {
      bad = await restore(["--component", "media", "--force"]);
    } finally {
      await execa("chattr", ["-i", join(inner, "..")]);
    }
    attempts++;
    expect(bad.code, bad.stdout + bad.stderr).toBe(2);
    expect(bad.stdout).toContain("Status: FAILED");
    expect(bad.stdout).toMatch(/Live data: done: .* is as it was before the restore/);
    expect(bad.report.restore.result).toBe("failed");
    expect(fileHashes(media)).toEqual(before);
    rmSync(join(media, "stray.txt"));

    // Config: the archive's last file in a subfolder is made immutable; the first (.env) was changed.
    const archive = join(
      backupDir(h),
      "config",
      readdirSync(join(backupDir(h), "config")).find((f) => /^config_.*\.tar\.gz$/.test(f))!,
    );
    const members = (await execa("tar", ["-tzf", archive])).stdout
      .split("\n")
      .filter((m) => !m.endsWith("/"))
      .sort();
    const nested = members.filter((m) => m.includes("/")).at(-1)!;
    writeFileSync(join(appDir(h), ".env"), "BROKEN=1\n");
    const cfgBefore = fileHashes(appDir(h));
    await execa("chattr", ["+i", join(appDir(h), nested, "..")]);
    let cfg;
    try {
      cfg = await restore(["--component", "config", "--force"]);
    } finally {
      await execa("chattr", ["-i", join(appDir(h), nested, "..")]);
    }
    attempts++;
    expect(cfg.code, cfg.stdout + cfg.stderr).toBe(2);
    expect(cfg.stdout).toMatch(/Live data: done: .* is as it was before the restore/);
    expect(fileHashes(appDir(h))).toEqual(cfgBefore);
    const fixed = await restore(["--component", "config", "--force"]);
    attempts++;
    expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0);
    expect(readFileSync(join(appDir(h), ".env"), "utf8")).not.toBe("BROKEN=1\n");
  });

  it("the audit log has one line per attempt, each a JSON object with who, when, what and the result, and no secret", async () => {
    const lines = auditLines(h);
    expect(lines).toHaveLength(attempts);
    const pw = await labDbPassword(lab.dir);
    for (const l of lines) {
      expect(l).not.toContain(pw);
      const a = JSON.parse(l);
      expect(a).toMatchObject({ host: h.name, environment: "lab", from: "local" });
      expect(a.who).toBeTruthy();
      expect(a.control_host).toBeTruthy();
      expect(Date.parse(a.when)).toBeGreaterThan(0);
      expect(["success", "failed", "cancelled", "refused"]).toContain(a.result);
      expect(typeof a.duration_ms).toBe("number");
    }
    expect(lines.map((l) => JSON.parse(l).result)).toEqual([
      "success",
      "success",
      "cancelled",
      "success",
      "success",
      "failed",
      "failed",
      "success",
    ]);
    expect(auditLines(lab.state.hosts[1]!)).toEqual([]);
  });
});
