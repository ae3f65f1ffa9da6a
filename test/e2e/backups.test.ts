// `npm run backups` end to end on the lab: 2 hosts with daily, weekly, media and config backups, the
// real CLI; counts, the newest of each kind verified, --verify-all finding a corrupted dump,
// --kind, and --offsite refused until issue 8.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { basename } from "node:path";
import { execa } from "execa";
import { startTestLab, cli, type TestLab } from "../helpers/lab.ts";
import { provisionWithBackups, corruptFile, newestDump, liveRowCounts, APP } from "../helpers/backups.ts";
import type { LabHost } from "../../src/lab/lab.ts";
import { nextSecond } from "../helpers/files.ts";

let lab: TestLab;
const olderDump: Record<string, string> = {};

const script = (h: LabHost, name: string) => execa(`${h.prefix}/infra/backup/scripts/${name}`, [], { stdin: "ignore" });

beforeAll(async () => {
  lab = await startTestLab(2);
  await provisionWithBackups(lab);
  for (const h of lab.state.hosts) olderDump[h.name] = newestDump(h);
  await nextSecond();
  await Promise.all(
    lab.state.hosts.map(
      async (h) => (await script(h, "backup-database.sh"), await script(h, "backup-database-weekly.sh")),
    ),
  );
});
afterAll(async () => {
  await lab?.down();
});

describe("backups", () => {
  it("lists daily, weekly, media and config restore points of every host, the newest of each verified", async () => {
    const t0 = Date.now();
    const r = await cli("backups", [lab.state.files.inventory]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.report.playbook).toBe("backups");
    for (const h of r.report.hosts) {
      expect(h.commands).toBe(1);
      const b = h.backups;
      expect(b.counts).toEqual({ database: 2, weekly: 1, monthly: 1, media: 1, config: 1 });
      const byKind = (k: string) => b.points.filter((p: any) => p.kind === k);
      const [newest, older] = byKind("database");
      expect(newest.name).toBe(basename(newestDump(lab.state.hosts.find((x) => x.name === h.name)!)));
      expect(older.name).toBe(basename(olderDump[h.name]!));
      expect(newest.epoch).toBeGreaterThan(older.epoch);
      expect(newest.checksum).toBe("yes");
      expect(older.checksum).toBe("not checked");
      for (const k of ["weekly", "monthly", "media", "config"]) expect(byKind(k)[0].checksum, k).toBe("yes");
      // The monthly tier: the first dump of the month, a hard link of the older daily one.
      expect(byKind("monthly")[0].name).toBe(older.name);
      expect(byKind("weekly")[0].name).toMatch(new RegExp(`^${APP}_weekly_\\d{4}-W\\d\\d_`));
      const live = await liveRowCounts(lab.state.hosts.find((x) => x.name === h.name)!);
      expect(newest.manifest.tables).toBe(Object.keys(live).length);
      expect(newest.manifest.rows).toBe(Object.values(live).reduce((a, b) => a + b, 0));
      expect(newest.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(byKind("media")[0].manifest.files).toBeGreaterThan(0);
      expect(byKind("config")[0].manifest.files).toBeGreaterThanOrEqual(5);
      for (const p of b.points) {
        expect(p.encrypted).toBe(false);
        expect(p.where).toBe("local");
        expect(p.age_seconds).toBeLessThan(600);
        expect(Date.parse(p.time)).toBeLessThanOrEqual(t0);
      }
      // The table: one per host, a row per restore point.
      expect(r.stdout).toContain(`${h.name}: 6 restore points (2 database, 1 weekly, 1 monthly, 1 media, 1 config)`);
      expect(r.stdout).toMatch(
        new RegExp(
          `database +${newest.name} .* yes +no +local +${newest.manifest.tables} tables, ${newest.manifest.rows} rows`,
        ),
      );
    }
    expect(r.stdout).toMatch(/2 hosts, 12 restore points: 2 listed, 0 failed, 0 unreachable/);
    console.log(`backups of 2 lab hosts: ${Date.now() - t0} ms`);
  });

  it("--verify-all finds a corrupted older dump (exit 2); --kind lists one kind", async () => {
    const h = lab.state.hosts[0]!;
    const restore = corruptFile(olderDump[h.name]!, 100, 4);
    try {
      // Daily dumps only: the newest is checked, the corrupted older one is not.
      const quick = await cli("backups", [lab.state.files.inventory, "--limit", h.name, "--kind", "database"]);
      expect(quick.code, quick.stdout + quick.stderr).toBe(0);
      // All kinds: the older daily dump is also the newest monthly one (a hard link), checked.
      const withMonthly = await cli("backups", [lab.state.files.inventory, "--limit", h.name]);
      expect(withMonthly.code, withMonthly.stdout + withMonthly.stderr).toBe(2);
      const all = await cli("backups", [lab.state.files.inventory, "--limit", h.name, "--verify-all"]);
      expect(all.code, all.stdout + all.stderr).toBe(2);
      const points = all.report.hosts[0].backups.points;
      const bad = points.filter((p: any) => p.name === basename(olderDump[h.name]!));
      expect(bad.map((p: any) => [p.kind, p.checksum])).toEqual([
        ["database", "no"],
        ["monthly", "no"],
      ]);
      expect(points.filter((p: any) => p.checksum === "yes")).toHaveLength(points.length - 2);
      expect(all.stdout).toContain(`checksum does not match: ${basename(olderDump[h.name]!)}`);
    } finally {
      restore();
    }
    const weekly = await cli("backups", [lab.state.files.inventory, "--kind", "weekly"]);
    expect(weekly.code, weekly.stdout + weekly.stderr).toBe(0);
    for (const host of weekly.report.hosts) expect(host.backups.points.map((p: any) => p.kind)).toEqual(["weekly"]);
  });

  it("--offsite on hosts without the off-site copy lists their local points and says so; a bad --kind is exit 1 before contacting any host", async () => {
    const off = await cli("backups", [lab.state.files.inventory, "--offsite"]);
    expect(off.code, off.stdout + off.stderr).toBe(0);
    expect(off.stdout).toContain("off-site: not enabled for this host (offsite.enabled): local points only");
    for (const host of off.report.hosts) {
      expect(host.backups.offsite).toBeNull();
      expect(host.backups.points.every((p: any) => p.where === "local" && p.offsite === null)).toBe(true);
    }
    const bad = await cli("backups", [lab.state.files.inventory, "--kind", "hourly"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(
      'arguments: --kind: expected one of database, weekly, monthly, media, config, got "hourly"',
    );
  });
});
