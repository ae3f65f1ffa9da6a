// `backups --offsite` and `restore` from the off-site copy end to end on the lab: one host with its
// backups encrypted and copied to a real S3 server (s3rver on loopback), the real CLI. The listing
// says where each restore point is (local, off-site, both; one only in the bucket is a point too);
// a local dump corrupted after its checksum was written fails without the off-site copy (live data
// unchanged) and with it is fetched, verified and restored (said, never silently); --from offsite
// rebuilds a media snapshot from the bucket's encrypted objects; a damaged copy in the bucket is
// refused before anything changes; the audit lines say where each backup came from; the identity
// and the work folders are left nowhere.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { execa } from "execa";
import { startTestLab, cli, type TestLab } from "../helpers/lab.ts";
import { startS3, S3_KEY, type S3Server } from "../helpers/s3.ts";
import { tmpFilesHolding } from "../helpers/traces.ts";
import { APP, backupDir, cluster, corruptFile, liveRowCounts, runBackups } from "../helpers/backups.ts";
import { psqlSuper } from "../../src/lab/postgres.ts";
import type { LabHost } from "../../src/lab/lab.ts";
import { fileHashes, nextSecond } from "../helpers/files.ts";

let lab: TestLab;
let s3: S3Server;
let h: LabHost;
let identity = "";
let recipient = "";
let marker = "";
let withOffsite = "";
let withoutOffsite = "";
/** The config archive removed from the host by the first test (still in the bucket). */
let onlyOffsite = "";
/** Everything the restores printed and reported (searched for the identity at the end). */
const outputs: string[] = [];
const env = (): Record<string, string> => ({
  S3_ID: S3_KEY.accessKeyId,
  S3_SECRET: S3_KEY.secretAccessKey,
  ENC_ID: identity,
});

const appDir = () => `${h.prefix}/var/www/${APP}`;
const auditLines = () => {
  const f = `${h.prefix}/var/log/${APP}/restore-audit.log`;
  return existsSync(f)
    ? readFileSync(f, "utf8")
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
};
const workFolders = () => readdirSync(`${h.prefix}/var/backups`).filter((f) => f.startsWith(`.${APP}-restore-`));
const local = (sub: string, re: RegExp) =>
  readdirSync(join(backupDir(h), sub))
    .filter((f) => re.test(f))
    .sort();
const restore = (inv: string, args: string[]) =>
  cli("restore", [inv, "--limit", h.name, "--force", ...args], { env: env() });

beforeAll(async () => {
  [lab, s3] = await Promise.all([startTestLab(1), startS3()]);
  h = lab.state.hosts[0]!;
  marker = join(lab.dir, "started");
  writeFileSync(marker, "");
  const k = (await execa("age-keygen", [], { env: { PATH: process.env.PATH! }, extendEnv: false })).stdout;
  identity = k.split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"))!;
  recipient = (await execa("age-keygen", ["-y"], { input: identity })).stdout.trim();
  const inv = lab.inventory();
  inv.vars.offsite = {
    enabled: true,
    endpoint: s3.endpoint,
    bucket: s3.bucket,
    access_key_id: { env: "S3_ID" },
    secret_access_key: { env: "S3_SECRET" },
  };
  inv.vars.encryption = { recipients: [recipient], identity: { env: "ENC_ID" }, scope: ["database", "media"] };
  withOffsite = lab.writeInventory("offsite.yml", inv);
  // The same host as an inventory without the off-site copy sees it: no bucket to fall back on.
  withoutOffsite = lab.writeInventory("no-offsite.yml", { ...inv, vars: { ...inv.vars, offsite: { enabled: false } } });
  const p = await cli("provision", [withOffsite, "--skip-smoke"], { env: env() });
  if (p.code !== 0) throw new Error(`provision failed (exit ${p.code}): ${p.stderr}\n${p.stdout}`);
  // Every backup job copies its backups to the bucket; a second config archive a second later.
  await runBackups(h);
  await nextSecond();
  await execa(`${h.prefix}/infra/backup/scripts/backup-config.sh`, [], { stdin: "ignore" });
}, 240_000);
afterAll(async () => {
  await lab?.down();
  await s3?.destroy();
});

describe("restore from the off-site copy", () => {
  it("backups --offsite: each point is local, off-site or both; one only in the bucket is a restore point", async () => {
    // The older config archive goes from the host: it is still in the bucket.
    const [older] = local("config", /^config_.*\.tar\.gz\.age$/);
    onlyOffsite = older!;
    for (const f of local("config", new RegExp(`^${older!.replace(/\./g, "\\.")}`)))
      rmSync(join(backupDir(h), "config", f));
    const r = await cli("backups", [withOffsite, "--offsite"], { env: env() });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const b = r.report.hosts[0].backups;
    expect(b.offsite).toEqual({ listed: true, error: null });
    const point = (kind: string, name: string) => b.points.find((p: any) => p.kind === kind && p.name === name);
    const [dump] = local("database", /\.dump\.age$/);
    const [snap] = local("media", /^\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d$/);
    const [newer] = local("config", /^config_.*\.tar\.gz\.age$/);
    expect(point("database", dump!)).toMatchObject({ where: "both", checksum: "yes", encrypted: true });
    expect(point("monthly", dump!)).toMatchObject({ where: "both" });
    expect(point("media", snap!)).toMatchObject({ where: "both", offsite: { complete: true } });
    expect(point("config", newer!)).toMatchObject({ where: "both", checksum: "yes" });
    expect(point("config", older!)).toMatchObject({
      where: "offsite",
      checksum: "not checked",
      offsite: { complete: true },
    });
    expect(r.stdout).toMatch(new RegExp(`config +${older!.replace(/\./g, "\\.")} .* off-site `));
    expect(r.stdout).toMatch(/off-site: \d+ in the bucket \(1 only there\)/);
    expect(r.report.hosts[0].commands).toBe(1);
    outputs.push(r.stdout + r.stderr + JSON.stringify(r.report));
    // Without the off-site copy in the inventory: local points only, and it says so.
    const plain = await cli("backups", [withoutOffsite, "--offsite"], { env: env() });
    expect(plain.code, plain.stdout + plain.stderr).toBe(0);
    expect(plain.stdout).toContain("off-site: not enabled for this host");
    expect(plain.report.hosts[0].backups.points.every((p: any) => p.where === "local")).toBe(true);
  });

  it("a local dump corrupted after its checksum was written: without the off-site copy it fails, data unchanged; with it the off-site copy is fetched, verified and restored", async () => {
    const dump = join(backupDir(h), "database", local("database", /\.dump\.age$/).at(-1)!);
    const before = await liveRowCounts(h);
    const [t] = Object.entries(before).sort((a, b) => b[1] - a[1])[0]!;
    await psqlSuper(cluster(h), `DELETE FROM ${t};`, APP);
    const deleted = await liveRowCounts(h);
    corruptFile(dump, 2000, 16);

    const no = await restore(withoutOffsite, ["--component", "database"]);
    expect(no.code, no.stdout + no.stderr).toBe(2);
    expect(no.report.restore.reason).toMatch(/checksum MISMATCH: .*\.dump\.age does not match/);
    expect(no.stdout).not.toContain("off-site");
    expect(await liveRowCounts(h)).toEqual(deleted);

    const r = await restore(withOffsite, ["--component", "database"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(
      "if it is missing or fails its checksum when the restore starts, the off-site copy is fetched",
    );
    expect(r.stdout).toContain(`FALLBACK: the local copy ${dump} failed its checksum; restoring the off-site copy`);
    expect(r.stdout).toMatch(
      /Fetched from the off-site copy and verified in [\d.]+m?s: .*\.cepcomunicacion-restore-\w+\/fetched\//,
    );
    expect(r.stdout).toContain("Status: SUCCESS");
    expect(r.stdout).toMatch(/RTO: [\d.]+m?s \(database from .*\.dump\.age, the off-site copy\)/);
    expect(await liveRowCounts(h)).toEqual(before);
    expect(r.report.restore.run).toMatchObject({
      source: "offsite",
      ran: true,
      workdir: expect.stringMatching(/^removed: /),
    });
    expect(r.report.restore.run.pre_restore).toMatch(/\/database\/pre-restore\/pre-restore_/);
    expect(workFolders()).toEqual([]);
    for (const x of [no, r]) outputs.push(x.stdout + x.stderr + JSON.stringify(x.report));
    const [a, b] = auditLines().slice(-2);
    expect(a).toMatchObject({ from: "local", result: "failed", backup: basename(dump) });
    expect(b).toMatchObject({ from: "offsite", fallback: "the local copy failed its checksum", result: "success" });
  });

  it("--from offsite: a media snapshot rebuilt from the bucket's encrypted objects", async () => {
    const media = `${appDir()}/uploads`;
    const snap = join(backupDir(h), "media", local("media", /^\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d$/).at(-1)!);
    writeFileSync(join(media, "stray.txt"), "not in the snapshot");
    const m = await restore(withOffsite, ["--component", "media", "--from", "offsite"]);
    expect(m.code, m.stdout + m.stderr).toBe(0);
    expect(m.stdout).toContain(`From:        the off-site copy of media/${basename(snap)} (--from offsite)`);
    expect(m.stdout).toContain("MEDIA RESTORE REPORT");
    expect(fileHashes(media)).toEqual(fileHashes(snap));
    outputs.push(m.stdout + m.stderr + JSON.stringify(m.report));
    expect(auditLines().at(-1)).toMatchObject({ component: "media", from: "offsite", result: "success" });
    expect(workFolders()).toEqual([]);
  });

  it("a config archive only in the bucket is restored from it; a damaged copy there is refused before anything changes", async () => {
    // The older archive is only in the bucket (the first test removed it from the host).
    const cfg = onlyOffsite;
    expect((await s3.list(`${h.name}/config`)).map((o) => o.key)).toContain(`${h.name}/config/${cfg}`);
    expect(existsSync(join(backupDir(h), "config", cfg))).toBe(false);
    writeFileSync(join(appDir(), "docker-compose.yml"), "broken: true\n");
    const c = await restore(withOffsite, ["--component", "config", "--backup", cfg]);
    expect(c.code, c.stdout + c.stderr).toBe(0);
    expect(c.stdout).toContain(`the off-site copy of config/${cfg} (there is no local copy)`);
    expect(readFileSync(join(appDir(), "docker-compose.yml"), "utf8")).not.toBe("broken: true\n");
    expect(auditLines().at(-1)).toMatchObject({ component: "config", backup: cfg, from: "offsite", result: "success" });
    expect(workFolders()).toEqual([]);

    // The bucket's copy damaged too: the fetch refuses it, the restore script never runs, the live
    // files stay as they are and the work folder goes.
    const junk = join(lab.dir, "junk");
    writeFileSync(junk, "not an archive");
    const put = await s3.rclone(["copyto", junk, `s3:${s3.bucket}/${h.name}/config/${cfg}`]);
    expect(put.code, put.stderr).toBe(0);
    const live = fileHashes(appDir());
    const bad = await restore(withOffsite, ["--component", "config", "--backup", cfg]);
    expect(bad.code, bad.stdout + bad.stderr).toBe(2);
    expect(bad.report.restore.reason).toMatch(
      new RegExp(
        `fetching config/${cfg.replace(/\./g, "\\.")} from the off-site copy failed .*does not match its checksum: the off-site copy is damaged`,
      ),
    );
    expect(bad.stdout).toContain("Live data: unchanged (the restore script did not run)");
    expect(fileHashes(appDir())).toEqual(live);
    expect(workFolders()).toEqual([]);
    expect(auditLines().at(-1)).toMatchObject({ component: "config", from: "offsite", result: "failed" });
    for (const x of [c, bad]) outputs.push(x.stdout + x.stderr + JSON.stringify(x.report));
  });

  it("the identity is left nowhere: not on the host's tree, nor in /tmp, nor in any output", async () => {
    expect(outputs.length).toBe(6);
    for (const o of outputs) expect(o).not.toContain(identity);
    expect((await execa("grep", ["-rlF", "--", identity, lab.dir], { reject: false })).stdout).toBe("");
    expect(await tmpFilesHolding(marker, identity)).toBe("");
  });
});
