// The off-site leg end to end on the lab: provision + smoke copy every backup to a real S3 server
// (s3rver on loopback) and read it back; encrypted backups are test-restored with the identity,
// which is found nowhere on the hosts afterwards; a wrong key, a missing bucket and an
// unreachable endpoint fail that host's smoke with the reason; status shows the off-site age (and
// a stale copy as a WARNING); a drill restores from the bucket after the local backups are gone.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { startTestLab, cli, type TestLab } from "../helpers/lab.ts";
import { startS3, S3_KEY, type S3Server } from "../helpers/s3.ts";
import { tmpFilesHolding } from "../helpers/traces.ts";
import { freePort } from "../helpers/ports.ts";
import { backupDir, liveRowCounts } from "../helpers/backups.ts";

let lab: TestLab;
let s3: S3Server;
let identity = "";
let recipient = "";
let marker = "";
const reportFiles: string[] = [];
const env = (): Record<string, string> => ({
  S3_ID: S3_KEY.accessKeyId,
  S3_SECRET: S3_KEY.secretAccessKey,
  S3_WRONG_ID: "NOT-A-KEY",
  ENC_ID: identity,
});
const mode = (p: string) => statSync(p).mode & 0o7777;

/** The lab's inventory with the off-site copy on (lab1 encrypted, lab2 with a wrong access key). */
function inventory(edit: (inv: any) => void = () => {}): string {
  const inv = lab.inventory();
  inv.vars.offsite = {
    enabled: true,
    endpoint: s3.endpoint,
    bucket: s3.bucket,
    access_key_id: { env: "S3_ID" },
    secret_access_key: { env: "S3_SECRET" },
  };
  inv.hosts.lab1.vars.encryption = {
    recipients: [recipient],
    identity: { env: "ENC_ID" },
    scope: ["database", "media"],
  };
  inv.hosts.lab2.vars.offsite = { access_key_id: { env: "S3_WRONG_ID" } };
  edit(inv);
  return lab.writeInventory("offsite.yml", inv);
}

beforeAll(async () => {
  [lab, s3] = await Promise.all([startTestLab(2), startS3()]);
  marker = join(lab.dir, "started");
  writeFileSync(marker, "");
  const k = (await execa("age-keygen", [], { env: { PATH: process.env.PATH! }, extendEnv: false })).stdout;
  identity = k.split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"))!;
  recipient = (await execa("age-keygen", ["-y"], { input: identity })).stdout.trim();
});
afterAll(async () => {
  for (const f of reportFiles) rmSync(f, { force: true });
  // The report folder's history page, when these were its only reports.
  for (const d of new Set(reportFiles.map((f) => dirname(f))))
    if (readdirSync(d).every((f) => f === "index.html")) rmSync(d, { recursive: true, force: true });
  await lab?.down();
  await s3?.destroy();
});

describe("off-site copy on the lab", () => {
  it("provision + smoke: lab1's backups land in the bucket (encrypted), read back and verified; lab2's wrong key fails its smoke with the reason", async () => {
    const r = await cli("provision", [inventory()], { env: env() });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const [a, b] = r.report.hosts;
    expect(Object.keys(a.smoke)).toEqual(["database", "config", "media", "offsite", "check"]);
    for (const [name, c] of Object.entries<any>(a.smoke)) expect(c.status, `lab1 ${name}: ${c.details}`).toBe("passed");
    expect(a.smoke.database.details).toMatch(
      /\.dump\.age decrypted with the identity and restored into a scratch database/,
    );
    expect(a.smoke.config.details).toMatch(/files identical \(the archive is encrypted: decrypted with the identity\)/);
    expect(a.smoke.offsite.details).toMatch(
      /^read back and verified: database cepcomunicacion_[\d_-]+\.dump\.age \(.*decrypted with the identity\);monthly .*;config config_[\d_-]+\.tar\.gz\.age .*;media [\d_-]+ \(\d+ files, every object present, \d+ sampled objects verified, \d+ decrypted with the identity\)$/,
    );
    expect(b.status).toBe("failed");
    expect(b.smoke.offsite.status).toBe("failed");
    expect(b.smoke.offsite.details).toMatch(
      /database: the upload failed: access denied by http:\/\/127\.0\.0\.1:\d+: check offsite\.access_key_id and offsite\.secret_access_key \(.*InvalidAccessKeyId/,
    );
    expect(b.smoke.check.status).toBe("skipped");

    // The bucket, in the spec's layout under the host's name.
    const h1 = lab.state.hosts[0]!;
    const keys = (await s3.list("lab1")).map((o) => o.key);
    const local = (sub: string, re: RegExp) => readdirSync(join(backupDir(h1), sub)).filter((f) => re.test(f));
    const [dump] = local("database", /\.dump\.age$/);
    const [archive] = local("config", /\.tar\.gz\.age$/);
    const [snap] = local("media", /^\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d$/);
    for (const k of [
      `lab1/database/${dump}`,
      `lab1/database/${dump}.sha256`,
      `lab1/database/${dump}.manifest.json`,
      `lab1/database/monthly/${dump}`,
      `lab1/config/${archive}`,
      `lab1/config/${archive}.sha256`,
      `lab1/config/${archive}.manifest.json`,
      `lab1/media/${snap}.sha256`,
      `lab1/media/${snap}.manifest.json`,
      `lab1/media/${snap}.dirs`,
    ])
      expect(keys).toContain(k);
    const objects = keys.filter((k) => k.startsWith("lab1/media/objects/"));
    expect(objects.length).toBeGreaterThan(10);
    for (const o of objects) expect(o).toMatch(/^lab1\/media\/objects\/[0-9a-f]{2}\/[0-9a-f]{64}\.[0-9a-f]{64}\.age$/);
    expect(await s3.list("lab2")).toEqual([]);

    // Credentials: only in the backup user's 0600 rclone config, never in backup.conf.
    for (const h of lab.state.hosts) {
      const etc = `${h.prefix}/etc/cepcomunicacion`;
      expect(mode(`${etc}/backup-offsite.rclone.conf`)).toBe(0o600);
      expect(readFileSync(`${etc}/backup.conf`, "utf8")).not.toContain(S3_KEY.secretAccessKey);
    }
    expect(readFileSync(`${h1.prefix}/etc/cepcomunicacion/backup-offsite.rclone.conf`, "utf8")).toMatch(
      /^secret_access_key = S3RVER$/m,
    );
    // The identity: nowhere on the hosts (their trees, the lab's files), nor in /tmp, nor in any output.
    const tree = await execa("grep", ["-rlF", "--", identity, lab.dir], { reject: false });
    expect(tree.stdout).toBe("");
    expect(await tmpFilesHolding(marker, identity)).toBe("");
    expect(r.stdout + r.stderr + JSON.stringify(r.report)).not.toContain(identity);
  });

  it("status shows the off-site age; a stale off-site copy and a failed upload are WARNINGs", async () => {
    const h1 = lab.state.hosts[0]!;
    const state = join(backupDir(h1), ".offsite", "config.state");
    const old = Math.floor(Date.now() / 1000) - 30 * 3600;
    writeFileSync(state, readFileSync(state, "utf8").replace(/^newest_epoch=\d+$/m, `newest_epoch=${old}`));
    const r = await cli("status", [inventory()], { env: env() });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const [a, b] = r.report.hosts.map((h: any) => h.backup_status);
    expect(a.overall_status).toBe("WARNING");
    expect(a.checks).toMatchObject({ offsite: "WARNING", database_monthly: "OK" });
    expect(a.offsite.kinds.config).toMatchObject({ status: "WARNING", age_hours: 30 });
    expect(a.offsite.kinds.database).toMatchObject({ status: "OK", age_hours: 0 });
    expect(a.issues).toContainEqual(
      expect.objectContaining({
        check: "offsite",
        message: expect.stringMatching(/config copy .* is 30 hours old \(limit 26 hours\)/),
      }),
    );
    expect(b.offsite.status).toBe("WARNING");
    expect(b.offsite.kinds.database.last_error).toMatch(/access denied/);
    const row = (name: string) => r.stdout.split("\n").find((l) => l.startsWith(`${name} `))!;
    expect(row("lab1")).toMatch(/ 30h \d\dm \(WARNING\) /);
    expect(row("lab2")).toMatch(/ none \(WARNING\) /);
    expect(r.stdout.split("\n")[0]).toMatch(/ OFFSITE /);
  });

  it("drill --from offsite restores lab1 from the bucket after its local backup directory was emptied", async () => {
    const h1 = lab.state.hosts[0]!;
    const dir = backupDir(h1);
    for (const e of readdirSync(dir)) rmSync(join(dir, e), { recursive: true, force: true });
    const live = await liveRowCounts(h1);
    const r = await cli("drill", [inventory(), "--limit", "lab1", "--from", "offsite", "--force"], { env: env() });
    const files = r.report?.drill?.report_files;
    if (files) reportFiles.push(files.markdown, files.json);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const d = r.report.hosts[0].drill;
    expect(d.verdict).toBe("PASSED");
    // The newest monthly dump came from the bucket too; there is no weekly one on the lab.
    expect(d.components.monthly).toMatchObject({ status: "passed", kind: "monthly", source: "offsite" });
    expect(d.components.weekly).toMatchObject({ status: "none", source: "offsite" });
    for (const c of Object.values<any>(d.components).filter((x) => x.status !== "none")) {
      expect(c.source).toBe("offsite");
      expect(c.fetch_ms).toBeGreaterThan(0);
      expect(c.rto_ms).toBeGreaterThanOrEqual(c.fetch_ms);
      expect(c.details).toMatch(/^fetched from the off-site copy and verified/);
      expect(c.backup).toContain(d.workdir);
    }
    expect(d.components.database.restored).toEqual({
      tables: Object.keys(live).length,
      rows: Object.values(live).reduce((x, y) => x + y, 0),
    });
    expect(d.cleanup.status).toBe("passed");
    // Nothing came back into the (emptied) backup directory but logs and locks of the restores.
    expect(readdirSync(dir).filter((e) => ![".locks", "database"].includes(e))).toEqual([]);
    expect(r.stdout + JSON.stringify(r.report)).not.toContain(identity);
  });

  it("a missing bucket and an unreachable endpoint fail that host's smoke with the reason (exit 2)", async () => {
    const closed = await freePort();
    const inv = inventory((i) => {
      i.hosts.lab1.vars.offsite = { endpoint: `http://127.0.0.1:${closed}` };
      i.hosts.lab2.vars.offsite = { bucket: "no-such-bucket" };
    });
    const r = await cli("provision", [inv, "--tags", "config,smoke"], { env: env() });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const [a, b] = r.report.hosts;
    expect(a.smoke.offsite.details).toMatch(
      new RegExp(`database: the upload failed: cannot reach http://127\\.0\\.0\\.1:${closed} \\(.*connection refused`),
    );
    expect(b.smoke.offsite.details).toMatch(
      /database: the upload failed: bucket no-such-bucket not found at http:\/\/127\.0\.0\.1:\d+/,
    );
    for (const h of [a, b]) {
      expect(h.status).toBe("failed");
      // The local backups are there and were test-restored all the same.
      expect(h.smoke.database.status).toBe("passed");
    }
  });
});
