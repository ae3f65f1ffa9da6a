// The restore drill end to end on the lab: real sshd and PostgreSQL hosts with real backups, the
// real CLI; exit codes, report files, scratch space gone, live data untouched.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
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
import { psqlSuper } from "../../src/lab/postgres.ts";
import { formatAge, formatMs } from "../../src/format.ts";

let lab: TestLab;
const reportFiles: string[] = [];

/** Run the drill; remember its report files for removal. */
async function drill(args: string[]) {
  const r = await cli("drill", args);
  const files = r.report?.drill?.report_files;
  if (files) reportFiles.push(files.markdown, files.json);
  return r;
}

beforeAll(async () => {
  lab = await startTestLab(2);
  await provisionWithBackups(lab);
});
afterAll(async () => {
  for (const f of reportFiles) rmSync(f, { force: true });
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
      const before = existsSync(join(REPO, "reports", "drills")) ? readdirSync(join(REPO, "reports", "drills")) : [];
      for (const args of [[inv, "--force"], [inv]]) {
        const r = await drill(args);
        expect(r.code, r.stdout + r.stderr).toBe(1);
        expect(r.stderr).toMatch(
          /prod-drill\.yml: environment: production: restore drills never run against production/,
        );
        expect(r.report).toBeUndefined();
      }
      expect(counter.count()).toBe(0);
      const after = existsSync(join(REPO, "reports", "drills")) ? readdirSync(join(REPO, "reports", "drills")) : [];
      expect(after.filter((f) => f.startsWith("prod-drill-"))).toEqual(
        before.filter((f) => f.startsWith("prod-drill-")),
      );
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
      expect(h.commands).toBe(1);
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
      expect(h.drill.rto_ms_total).toBe(database.rto_ms + media.rto_ms + config.rto_ms);
    }
    // Scratch databases and temporary folders are gone; live data is as it was.
    for (const [i, h] of lab.state.hosts.entries()) {
      expect(await databases(h)).toEqual(dbsBefore[i]);
      expect((await databases(h)).filter((d) => d.includes("_drill_"))).toEqual([]);
      expect(drillLeftovers(h)).toEqual([]);
      expect(await liveRowCounts(h)).toEqual(liveBefore[i]);
    }
    // The report files: reports/drills/<inventory name>-<UTC stamp>.{md,json}.
    const files = r.report.drill.report_files;
    expect(files.markdown).toMatch(new RegExp(`^${REPO}/reports/drills/inventory-\\d{8}T\\d{6}Z(-\\d+)?\\.md$`));
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
      const d = r.report.hosts[0].drill;
      for (const c of Object.values<any>(d.components)) expect(c.status).toBe("passed");
      expect(d.cleanup.status).toBe("passed");
      expect((await databases(h)).filter((x) => x.includes("_drill_"))).toEqual([]);
      expect(drillLeftovers(h)).toEqual([]);

      const st = await cli("status", [inv, "--limit", h.name]);
      expect(st.code, st.stdout + st.stderr).toBe(0);
      expect(st.report.hosts[0].backup_status.overall_status).toBe("OK");
    } finally {
      await execa("userdel", [user], { reject: false });
    }
  });
});
