// The restore drill end to end on the lab: real sshd and PostgreSQL hosts with real backups, the
// real CLI; exit codes, report files, scratch space gone, live data untouched.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { startTestLab, cli, REPO, type TestLab } from "../helpers/lab.ts";
import { connectionCounter } from "../helpers/ports.ts";
import {
  provisionWithBackups,
  liveRowCounts,
  databases,
  newestDump,
  drillLeftovers,
  cluster,
  backupDir,
  corruptFile,
} from "../helpers/backups.ts";
import { openInChromium } from "../helpers/chromium.ts";
import { psqlSuper } from "../../src/lab/postgres.ts";
import { formatAge, formatMs } from "../../src/format.ts";

let lab: TestLab;
const reportFiles: string[] = [];
/** The --report-dir of the target and weekly tests: two drills, one history page. */
const reportDir = mkdtempSync(join(tmpdir(), "drill-reports-"));
let dedicatedFolder: string | undefined;

/** Run the drill; remember its report files for removal. */
async function drill(args: string[]) {
  const r = await cli("drill", args);
  const files = r.report?.drill?.report_files;
  if (files) reportFiles.push(files.markdown, files.json);
  return r;
}

/** The newest weekly dump of a host. */
function newestWeekly(h: { prefix: string }): string {
  const dir = join(backupDir(h as any), "database", "weekly");
  const dumps = readdirSync(dir)
    .filter((f) => f.endsWith(".dump"))
    .sort();
  return join(dir, dumps[dumps.length - 1]!);
}

beforeAll(async () => {
  lab = await startTestLab(2);
  await provisionWithBackups(lab);
  // A weekly dump too (the daily job kept its first dump of the month as the monthly one).
  const { execa } = await import("execa");
  await Promise.all(
    lab.state.hosts.map((h) =>
      execa(`${h.prefix}/infra/backup/scripts/backup-database-weekly.sh`, [], { stdin: "ignore" }),
    ),
  );
});
afterAll(async () => {
  for (const f of reportFiles) rmSync(f, { force: true });
  // The default folder's history page, when this file's reports were the only ones in it.
  const folder = join(REPO, "reports", "drills", "inventory");
  if (existsSync(folder) && readdirSync(folder).every((f) => f === "index.html"))
    rmSync(folder, { recursive: true, force: true });
  rmSync(reportDir, { recursive: true, force: true });
  if (dedicatedFolder && readdirSync(dedicatedFolder).every((f) => f === "index.html"))
    rmSync(dedicatedFolder, { recursive: true, force: true });
  await lab?.down();
});

describe("drill", () => {
  it("refuses a production inventory with exit 1, before contacting any host", async () => {
    const counter = await connectionCounter();
    const port = counter.port;
    try {
      const base = lab.inventory();
      base.environment = "production";
      for (const h of Object.values<any>(base.hosts)) h.ssh.port = port;
      const inv = lab.writeInventory("prod-drill.yml", base);
      const folder = join(REPO, "reports", "drills", "prod-drill");
      const before = existsSync(folder) ? readdirSync(folder) : [];
      for (const args of [[inv, "--force"], [inv]]) {
        const r = await drill(args);
        expect(r.code, r.stdout + r.stderr).toBe(1);
        expect(r.stderr).toMatch(
          /prod-drill\.yml: environment: production: restore drills never run against production/,
        );
        expect(r.report).toBeUndefined();
      }
      expect(counter.count()).toBe(0);
      expect(existsSync(folder) ? readdirSync(folder) : []).toEqual(before);
    } finally {
      counter.close();
    }
  });

  it("without --force and without a terminal it refuses (exit 1)", async () => {
    const r = await drill([lab.state.files.inventory]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toMatch(/refusing to run without --force/);
  });

  it("passes on the lab: verified restores, RTO/RPO in the reports, scratch space gone, live data untouched", async () => {
    const liveBefore = await Promise.all(lab.state.hosts.map((h) => liveRowCounts(h)));
    const dbsBefore = await Promise.all(lab.state.hosts.map((h) => databases(h)));
    const t0 = Date.now();
    const r = await drill([lab.state.files.inventory, "--force"]);
    const took = Date.now() - t0;
    expect(r.stderr).toBe("");
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.report.playbook).toBe("drill");
    expect(r.report.drill.verdict).toBe("PASSED");
    expect(r.report.summary.exit_code).toBe(0);
    for (const [i, h] of r.report.hosts.entries()) {
      expect(h.status).toBe("ok");
      // The drill, then its result on the host (last-drill.json, for the metrics).
      expect(h.commands).toBe(2);
      const last = JSON.parse(
        readFileSync(
          `${lab.state.hosts.find((x) => x.name === h.name)!.prefix}/var/lib/cepcomunicacion-backup/last-drill.json`,
          "utf8",
        ),
      );
      expect(last).toMatchObject({ verdict: "PASSED", rto_ms_total: h.drill.rto_ms_total });
      expect(h.drill.verdict).toBe("PASSED");
      expect(h.drill.cleanup.status).toBe("passed");
      const { database, media, config } = h.drill.components;
      for (const c of [database, media, config]) {
        expect(c.status).toBe("passed");
        expect(c.rto_ms).toBeGreaterThan(0);
        expect(c.rpo_seconds).toBeGreaterThanOrEqual(0);
        expect(c.rpo_seconds).toBeLessThan(3600);
        expect(c.size_bytes).toBeGreaterThan(0);
        expect(Date.parse(c.backup_time)).toBeLessThanOrEqual(t0);
      }
      expect(database.backup).toBe(newestDump(lab.state.hosts[i]!));
      expect(database.kind).toBe("daily");
      // Row counts: restored = manifest = the live database (unchanged since the backup).
      const live = liveBefore[i]!;
      expect(database.restored).toEqual({
        tables: Object.keys(live).length,
        rows: Object.values(live).reduce((a, b) => a + b, 0),
      });
      expect(database.manifest.tables).toBe(database.restored.tables);
      expect(database.manifest.rows).toBe(database.restored.rows);
      expect(media.restored.files).toBe(media.manifest.files);
      expect(media.restored.bytes).toBe(media.manifest.bytes);
      expect(media.details).toMatch(/diff -r identical/);
      expect(config.restored.files).toBeGreaterThanOrEqual(5);
      // The recovery's RTO: its phases (the three restores and the drill's own verification).
      const p = h.drill.phases;
      expect(p.fetch_ms).toBe(0);
      expect([p.database_ms, p.media_ms, p.config_ms]).toEqual([database.rto_ms, media.rto_ms, config.rto_ms]);
      expect(p.verification_ms).toBe(media.verify_ms + config.verify_ms);
      expect(h.drill.rto_ms_total).toBe(database.rto_ms + media.rto_ms + config.rto_ms + p.verification_ms);
      expect(h.drill.targets).toMatchObject({ rto_minutes: 60, rpo_hours: 26, rto_met: true, rpo_met: true });
      // The older tiers: the newest weekly and monthly dumps restored and verified too.
      const { weekly, monthly } = h.drill.components;
      expect(weekly).toMatchObject({ status: "passed", kind: "weekly", backup: newestWeekly(lab.state.hosts[i]!) });
      expect(monthly).toMatchObject({ status: "passed", kind: "monthly" });
      expect(monthly.backup).toMatch(/\/database\/monthly\/cepcomunicacion_[0-9_-]+\.dump$/);
      for (const c of [weekly, monthly]) expect(c.restored).toEqual(database.restored);
    }
    // Scratch databases and temporary folders are gone; live data is as it was.
    for (const [i, h] of lab.state.hosts.entries()) {
      expect(await databases(h)).toEqual(dbsBefore[i]);
      expect((await databases(h)).filter((d) => d.includes("_drill_"))).toEqual([]);
      expect(drillLeftovers(h)).toEqual([]);
      expect(await liveRowCounts(h)).toEqual(liveBefore[i]);
    }
    // The report files: reports/drills/<inventory name>/<UTC stamp>.{md,json}, and the folder's index.html.
    const files = r.report.drill.report_files;
    expect(files.markdown).toMatch(new RegExp(`^${REPO}/reports/drills/inventory/\\d{8}T\\d{6}Z(-\\d+)?\\.md$`));
    expect(readFileSync(join(REPO, "reports", "drills", "inventory", "index.html"), "utf8")).toContain(
      `data-drill="${r.report.started_at}"`,
    );
    expect(files.json).toBe(files.markdown.replace(/\.md$/, ".json"));
    const md = readFileSync(files.markdown, "utf8");
    expect(md).toContain("**PASSED**: 2 of 2 hosts passed");
    // The worst RPO/RTO as the JSON report has them, in the report's own words.
    const worst = r.report.drill;
    expect(worst.worst_rpo.seconds).toBeGreaterThan(0);
    expect(md).toContain(`| Worst RPO | ${formatAge(worst.worst_rpo.seconds)} (${worst.worst_rpo.host} `);
    expect(md).toContain(`| Worst RTO | ${formatMs(worst.worst_rto.ms)} (${worst.worst_rto.host}, all components)`);
    for (const h of lab.state.hosts) {
      expect(md).toMatch(new RegExp(`\\| ${h.name} \\| database \\| passed \\| cepcomunicacion_`));
      expect(md).toMatch(new RegExp(`\\| ${h.name} \\| media \\| passed \\|`));
      expect(md).toMatch(new RegExp(`\\| ${h.name} \\| config \\| passed \\|`));
    }
    const json = JSON.parse(readFileSync(files.json, "utf8"));
    expect(json.drill.verdict).toBe("PASSED");
    expect(json.hosts[0].drill.components.database.rto_ms).toBe(r.report.hosts[0].drill.components.database.rto_ms);
    // No secret anywhere.
    const pw = await (await import("../../src/lab/lab.ts")).labDbPassword(lab.dir);
    expect(r.stdout + md + readFileSync(files.json, "utf8")).not.toContain(pw);
    console.log(`drill of 2 lab hosts: ${took} ms`);
  });

  it("status shows each host's last drill: drilled today OK, a last report 93 days old a WARNING", async () => {
    const json = readdirSync(join(REPO, "reports", "drills", "inventory")).filter((f) => f.endsWith(".json"));
    const passed = json
      .map((f) => JSON.parse(readFileSync(join(REPO, "reports", "drills", "inventory", f), "utf8")))
      .find((r) => r.drill.verdict === "PASSED");
    const [a, b] = lab.state.hosts as [any, any];
    const dir = mkdtempSync(join(tmpdir(), "drill-status-"));
    try {
      const only = (name: string) => passed.hosts.filter((h: any) => h.name === name);
      writeFileSync(join(dir, "today.json"), JSON.stringify({ ...passed, hosts: only(a.name) }));
      const old = new Date(Date.parse(passed.started_at) - 93 * 86400_000).toISOString();
      writeFileSync(join(dir, "old.json"), JSON.stringify({ ...passed, started_at: old, hosts: only(b.name) }));
      const st = await cli("status", [lab.state.files.inventory, "--report-dir", dir]);
      expect(st.code, st.stdout + st.stderr).toBe(0);
      const [sa, sb] = st.report.hosts;
      expect(sa.drill_status).toMatchObject({ status: "OK", verdict: "PASSED", report: "today.json" });
      expect(sa.drill_status.age_seconds).toBeLessThan(3600);
      expect(sb.drill_status).toMatchObject({ status: "WARNING", verdict: "PASSED", report: "old.json" });
      expect(sb.drill_status.message).toMatch(/^the last drill is 93d 0h old \(older than 92 days\)$/);
      const lines = st.stdout.split("\n");
      expect(lines.find((l) => l.startsWith(`${a.name} `) && l.includes(passed.started_at))).toMatch(/PASSED .* OK/);
      expect(lines.find((l) => l.startsWith(`${b.name} `) && l.includes(old))).toMatch(/PASSED\s+93d 0h\s+WARNING/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("an RTO target of 0 minutes fails every host (exit 2) and says by how much it was missed", async () => {
    const base = lab.inventory();
    base.vars.drill = { rto_minutes: 0 };
    const inv = lab.writeInventory("drill-rto0.yml", base);
    const r = await drill([inv, "--force", "--report-dir", reportDir]);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.report.drill.verdict).toBe("FAILED");
    for (const h of r.report.hosts) {
      expect(h.status).toBe("failed");
      for (const c of Object.values<any>(h.drill.components)) expect(c.status).toBe("passed");
      expect(h.drill.targets).toMatchObject({ rto_minutes: 0, rto_met: false, rpo_met: true });
      expect(h.drill.targets.rto_missed_by_ms).toBe(h.drill.rto_ms_total);
      const t = h.tasks.find((x: any) => x.name === "drill targets");
      expect(t.status).toBe("failed");
      expect(t.message).toContain(`missed by ${formatMs(h.drill.rto_ms_total)}`);
    }
    expect(r.stdout).toMatch(/missed by/);
    const md = readFileSync(r.report.drill.report_files.markdown, "utf8");
    expect(md).toMatch(
      new RegExp(`\\| ${lab.state.hosts[0]!.name} \\| RTO \\| [^|]+ \\| 0 min \\| \\*\\*MISSED\\*\\* by `),
    );
  });

  it("a weekly dump corrupted after its checksum was written fails that host with the reason; the other passes", async () => {
    const [h1, h2] = lab.state.hosts as [any, any];
    const weekly = newestWeekly(h2);
    const putBack = corruptFile(weekly, 1000, 16);
    try {
      const live = await liveRowCounts(h2);
      const r = await drill([lab.state.files.inventory, "--force", "--report-dir", reportDir]);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      const [r1, r2] = r.report.hosts;
      expect(r1.name).toBe(h1.name);
      expect(r1.drill.verdict).toBe("PASSED");
      expect(r2.status).toBe("failed");
      const w = r2.drill.components.weekly;
      expect(w).toMatchObject({ status: "failed", kind: "weekly", backup: weekly });
      expect(w.details).toMatch(/checksum MISMATCH/);
      for (const n of ["database", "media", "config", "monthly"]) expect(r2.drill.components[n].status).toBe("passed");
      expect(r2.tasks.filter((t: any) => t.status === "failed").map((t: any) => t.name)).toEqual(["drill weekly"]);
      expect((await databases(h2)).filter((d: string) => d.includes("_drill_"))).toEqual([]);
      expect(await liveRowCounts(h2)).toEqual(live);
    } finally {
      putBack();
    }
  });

  it("--report-dir: each drill's Markdown and JSON, and index.html with one point per host per drill (Chromium)", async () => {
    const names = readdirSync(reportDir).sort();
    const json = names.filter((f) => f.endsWith(".json"));
    expect(json).toHaveLength(2);
    for (const f of json) expect(f).toMatch(/^\d{8}T\d{6}Z(-\d+)?\.json$/);
    expect(names).toEqual([...json.flatMap((f) => [f, f.replace(/\.json$/, ".md")])].concat("index.html").sort());
    // Each Markdown stands alone: its verdict, which backups, their checksums, where restored, targets.
    for (const f of json) {
      const md = readFileSync(join(reportDir, f.replace(/\.json$/, ".md")), "utf8");
      expect(md).toMatch(/^# Restore drill: /);
      expect(md).toMatch(/\| Verdict \| \*\*FAILED\*\*/);
      expect(md).toMatch(
        /## Backups restored\n\n.*\n.*\n\| \S+ \| database \| \/\S+\.dump \| sha256 [0-9a-f]{64} \| scratch database \S+_drill_[0-9a-f]{8} \(dropped\) \|/,
      );
      expect(md).toMatch(/## Targets\n/);
    }
    const r = await openInChromium(join(reportDir, "index.html"), reportDir);
    expect(r.consoleLines).toEqual([]);
    for (const chart of ["rto", "rpo"]) {
      const svg = new RegExp(`<svg class="chart" data-chart="${chart}"[\\s\\S]*?</svg>`).exec(r.dom)![0];
      for (const h of lab.state.hosts)
        expect(svg.match(new RegExp(`<circle data-host="${h.name}" data-drill=`, "g"))).toHaveLength(2);
    }
  }, 120_000);

  it("removes what a killed drill left behind (scratch database and folder)", async () => {
    const h = lab.state.hosts[0]!;
    await psqlSuper(cluster(h), `CREATE DATABASE cepcomunicacion_drill_deadbeef OWNER cepcomunicacion;`);
    const stale = `${h.prefix}/var/backups/.cepcomunicacion-drill-Stale1`;
    mkdirSync(stale);
    writeFileSync(join(stale, "x"), "x");
    const r = await drill([lab.state.files.inventory, "--force", "--limit", h.name]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.report.hosts[0].drill.stale_removed).toBe(2);
    expect(existsSync(stale)).toBe(false);
    expect((await databases(h)).filter((d) => d.includes("_drill_"))).toEqual([]);
  });

  it("a restore that fails after creating the scratch database (rows differ from the manifest): host fails, scratch database dropped", async () => {
    const h = lab.state.hosts[0]!;
    const manifest = `${newestDump(h)}.manifest.json`;
    const good = readFileSync(manifest, "utf8");
    // One table's recorded row count off by one: the restore succeeds, its verification does not.
    const bad = good.replace(/("rows": )(\d+)/, (_m, k: string, n: string) => `${k}${Number(n) + 1}`);
    expect(bad).not.toBe(good);
    writeFileSync(manifest, bad);
    try {
      const r = await drill([lab.state.files.inventory, "--force", "--limit", h.name]);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      const d = r.report.hosts[0].drill;
      expect(d.components.database.status).toBe("failed");
      expect(d.components.database.details).toMatch(/does not match the manifest/);
      expect(d.components.database.rto_ms).toBeGreaterThan(0);
      expect(d.cleanup.status).toBe("passed");
      expect(d.cleanup.scratch_db).toMatch(/^gone: cepcomunicacion_drill_[0-9a-f]{8}$/);
      expect((await databases(h)).filter((x) => x.includes("_drill_"))).toEqual([]);
      expect(drillLeftovers(h)).toEqual([]);
    } finally {
      writeFileSync(manifest, good);
    }
  });

  it("a corrupted newest dump fails that host (exit 2); the other host passes; cleanup still done", async () => {
    const [h1, h2] = lab.state.hosts as [any, any];
    const dump = newestDump(h2);
    const putBack = corruptFile(dump, 1000, 16);
    try {
      const live = await liveRowCounts(h2);
      const r = await drill([lab.state.files.inventory, "--force"]);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.report.drill.verdict).toBe("FAILED");
      const [r1, r2] = r.report.hosts;
      expect(r1.name).toBe(h1.name);
      expect(r1.status).toBe("ok");
      expect(r1.drill.verdict).toBe("PASSED");
      expect(r2.status).toBe("failed");
      expect(r2.drill.verdict).toBe("FAILED");
      expect(r2.drill.components.database.status).toBe("failed");
      expect(r2.drill.components.database.details).toMatch(/checksum MISMATCH/);
      expect(r2.drill.components.database.backup).toBe(dump);
      expect(r2.drill.components.media.status).toBe("passed");
      expect(r2.drill.components.config.status).toBe("passed");
      expect(r2.drill.cleanup.status).toBe("passed");
      const md = readFileSync(r.report.drill.report_files.markdown, "utf8");
      expect(md).toContain("**FAILED**: 1 of 2 hosts passed");
      expect(md).toMatch(
        new RegExp(`## Failures\\n\\n- ${h2.name} database: failed: restore-database.sh exit 1: checksum MISMATCH`),
      );
      for (const h of [h1, h2]) {
        expect((await databases(h)).filter((d: string) => d.includes("_drill_"))).toEqual([]);
        expect(drillLeftovers(h)).toEqual([]);
      }
      expect(await liveRowCounts(h2)).toEqual(live);
      expect(readdirSync(`${backupDir(h2)}/database/pre-restore`)).toEqual([]);
    } finally {
      putBack();
    }
  });
  // Last: it re-provisions the second host for a dedicated backup user.
  it("works with a dedicated (non-root) backup user: restores run as that user, scratch space removed; status OK", async () => {
    const { execa } = await import("execa");
    const user = `cepdr${process.pid % 100000}`;
    const h = lab.state.hosts[1]!;
    try {
      const base = lab.inventory();
      base.hosts[h.name].vars.backup_user = user;
      const inv = lab.writeInventory("drill-dedicated.yml", base);
      const first = await cli("provision", [inv, "--limit", h.name, "--skip-smoke"]);
      expect(first.code, first.stdout + first.stderr).toBe(0);
      // The lab's .env files are 0600 root: the operator grants the backup user read access.
      for (const f of [".env", ".env.production"]) {
        await execa("chgrp", [user, `${h.appDir}/${f}`]);
        await execa("chmod", ["0640", `${h.appDir}/${f}`]);
      }
      const second = await cli("provision", [inv, "--limit", h.name]);
      expect(second.code, second.stdout + second.stderr).toBe(0);

      const r = await drill([inv, "--force", "--limit", h.name]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      dedicatedFolder = join(REPO, "reports", "drills", "drill-dedicated");
      const d = r.report.hosts[0].drill;
      for (const c of Object.values<any>(d.components)) expect(c.status).toBe("passed");
      expect(d.cleanup.status).toBe("passed");
      expect((await databases(h)).filter((x) => x.includes("_drill_"))).toEqual([]);
      expect(drillLeftovers(h)).toEqual([]);

      const st = await cli("status", [inv, "--limit", h.name]);
      expect(st.code, st.stdout + st.stderr).toBe(0);
      expect(st.report.hosts[0].backup_status.overall_status).toBe("OK");
      expect(st.report.hosts[0].drill_status).toMatchObject({ status: "OK", verdict: "PASSED" });
    } finally {
      await execa("userdel", [user], { reject: false });
    }
  });
});
