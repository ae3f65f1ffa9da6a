// `status` end to end on the lab: check-backups run on real hosts, one table across the fleet, exit
// codes (WARNING → 0, CRITICAL/UNKNOWN → 2, unreachable → 4) and the backup_status in the report.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { renameSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { startTestLab, cli, type TestLab } from "../helpers/lab.ts";
import { freePort } from "../helpers/ports.ts";
import { provisionWithBackups, newestDump, corruptFile } from "../helpers/backups.ts";

let lab: TestLab;

beforeAll(async () => {
  lab = await startTestLab(2);
  await provisionWithBackups(lab);
});
afterAll(async () => {
  await lab?.down();
});

/** The table row of a host: its cells split on runs of 2+ spaces. */
function row(stdout: string, host: string): string[] {
  const line = stdout.split("\n").find((l) => l.startsWith(`${host} `));
  if (!line) throw new Error(`no row for ${host} in:\n${stdout}`);
  return line.split(/ {2,}/);
}

describe("status", () => {
  it("healthy hosts: one table, every check OK, exit 0, backup_status in the report", async () => {
    const t0 = Date.now();
    const r = await cli("status", [lab.state.files.inventory]);
    const took = Date.now() - t0;
    expect(r.stderr).toBe("");
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout.split("\n")[0]).toMatch(
      /^HOST\s+OVERALL\s+DATABASE\s+WEEKLY\s+MEDIA\s+CONFIG\s+DISK\s+NEWEST DUMP\s+DISK USED\s+OFFSITE\s+ISSUES$/,
    );
    for (const h of lab.state.hosts) {
      const cells = row(r.stdout, h.name);
      expect(cells.slice(0, 7)).toEqual([h.name, "OK", "OK", "OK", "OK", "OK", "OK"]);
      expect(cells[7]).toMatch(/^\d+[sm] \(daily\)$/);
      expect(cells[8]).toMatch(/^\d+%$/);
      // The off-site copy is disabled on the lab: "off".
      expect(cells[9]).toBe("off");
      expect(cells[10]).toBe("-");
    }
    expect(r.stdout).toMatch(/2 hosts: 2 OK, 0 WARNING, 0 CRITICAL, 0 UNKNOWN, 0 unreachable/);
    expect(r.report.playbook).toBe("status");
    expect(r.report.backup_summary).toEqual({ OK: 2, WARNING: 0, CRITICAL: 0, UNKNOWN: 0, unreachable: 0 });
    for (const [i, h] of r.report.hosts.entries()) {
      expect(h.name).toBe(lab.state.hosts[i]!.name);
      expect(h.status).toBe("ok");
      expect(h.commands).toBe(1);
      const s = h.backup_status;
      expect(s.overall_status).toBe("OK");
      expect(s.check_exit).toBe(0);
      expect(s.checks).toEqual({
        database: "OK",
        database_weekly: "OK",
        database_monthly: "OK",
        media: "OK",
        config: "OK",
        disk_space: "OK",
      });
      expect(s.offsite).toEqual({ enabled: false, status: "OK", age_seconds: null, kinds: {} });
      expect(s.issues).toEqual([]);
      expect(typeof s.disk_used_percent).toBe("number");
      expect(s.newest_dump.file).toBe(newestDump(lab.state.hosts[i]!).split("/").pop());
      expect(s.newest_dump.age_seconds).toBeLessThan(3600);
      expect(Date.parse(s.checked_at)).toBeGreaterThanOrEqual(t0 - 2000);
    }
    console.log(`status of 2 lab hosts: ${took} ms`);
  });

  it("a corrupted newest dump makes that host CRITICAL (exit 2); the other stays OK", async () => {
    const [h1, h2] = lab.state.hosts as [any, any];
    const dump = newestDump(h2);
    const putBack = corruptFile(dump, 500, 8);
    try {
      const r = await cli("status", [lab.state.files.inventory]);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(row(r.stdout, h1.name).slice(0, 2)).toEqual([h1.name, "OK"]);
      const cells = row(r.stdout, h2.name);
      expect(cells.slice(0, 3)).toEqual([h2.name, "CRITICAL", "CRITICAL"]);
      expect(cells[10]).toMatch(/^1 critical: database: checksum MISMATCH: .*\.dump is corrupt$/);
      const [r1, r2] = r.report.hosts;
      expect(r1.status).toBe("ok");
      expect(r2.status).toBe("failed");
      expect(r2.backup_status.overall_status).toBe("CRITICAL");
      expect(r2.backup_status.check_exit).toBe(2);
      expect(r2.backup_status.issues[0]).toMatchObject({ level: "CRITICAL", check: "database" });
      expect(r.report.backup_summary).toMatchObject({ OK: 1, CRITICAL: 1 });
    } finally {
      putBack();
    }
  });

  it("a WARNING (newest dump without its manifest) is shown but exits 0", async () => {
    const h = lab.state.hosts[0]!;
    const manifest = `${newestDump(h)}.manifest.json`;
    renameSync(manifest, `${manifest}.away`);
    try {
      const r = await cli("status", [lab.state.files.inventory, "--limit", h.name]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const cells = row(r.stdout, h.name);
      expect(cells.slice(0, 3)).toEqual([h.name, "WARNING", "WARNING"]);
      expect(cells[10]).toMatch(/^1 warning: database: .* has no manifest$/);
      expect(r.report.hosts[0].status).toBe("ok");
      expect(r.report.hosts[0].backup_status.check_exit).toBe(1);
      expect(r.report.backup_summary.WARNING).toBe(1);
    } finally {
      renameSync(`${manifest}.away`, manifest);
    }
  });

  it("an unreachable host: exit 4, shown as UNREACHABLE; a host without the backup system: UNKNOWN, exit 2", async () => {
    const base = lab.inventory();
    const [n1, n2] = Object.keys(base.hosts) as [string, string];
    base.hosts[n1].ssh.port = await freePort();
    const inv = lab.writeInventory("status-unreachable.yml", base);
    const r = await cli("status", [inv]);
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(row(r.stdout, n1).slice(0, 3)).toEqual([n1, "UNREACHABLE", "-"]);
    expect(row(r.stdout, n2)[1]).toBe("OK");
    expect(r.report.hosts.map((h: any) => h.status)).toEqual(["unreachable", "ok"]);

    const empty = join(lab.dir, "empty-root");
    mkdirSync(empty, { recursive: true });
    const base2 = lab.inventory();
    base2.hosts[n2].vars.prefix = empty;
    const inv2 = lab.writeInventory("status-missing.yml", base2);
    const r2 = await cli("status", [inv2, "--limit", n2]);
    expect(r2.code, r2.stdout + r2.stderr).toBe(2);
    const cells = row(r2.stdout, n2);
    expect(cells[1]).toBe("UNKNOWN");
    expect(cells[10]).toMatch(/check-backups\.sh is not installed/);
    expect(r2.report.hosts[0].backup_status.overall_status).toBe("UNKNOWN");
  });
});
