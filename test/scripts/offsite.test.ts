// The off-site copy with the installed jobs against a real S3 server (s3rver on loopback) and the
// real client (rclone): the layout in the bucket, verification, the catch-up after an outage (with
// the WARNING alert caught by a real HTTP receiver), content-addressed media (a 1% change uploads
// ~1% of the bytes; a snapshot fetched back is byte-identical), off-site retention, the monthly
// tier and the read-back of verify-backup-integrity.sh. One s3rver and one prefix tree for the file.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { createHash, randomBytes } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { startLab, seedDatabase, startReceiver, type Lab } from "./backup-harness.ts";
import { startS3, type S3Server } from "../helpers/s3.ts";
import { tmpFilesHolding } from "../helpers/traces.ts";

let lab: Lab;
let s3: S3Server;
let rx: Awaited<ReturnType<typeof startReceiver>>;
const PREFIX = "host1";
const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
const bdir = () => lab.vars.paths.backup_dir;
const status = () => JSON.parse(readFileSync(lab.vars.paths.status_file, "utf8"));
const keys = async (sub: string) => (await s3.list(`${PREFIX}/${sub}`)).map((o) => o.key.slice(PREFIX.length + 1));
const files = (dir: string, re: RegExp) =>
  readdirSync(dir)
    .filter((f) => re.test(f))
    .sort();

async function run(script: string, args: string[] = [], env: Record<string, string> = {}) {
  const r = await lab.run(script, args, env);
  expect(r.exitCode, `${script} ${args.join(" ")}\n${r.stderr}\n${r.stdout}`).toBe(0);
  return r;
}

/** Media source: 100 files of 20 KiB in a few folders, an empty folder, a duplicate. */
function seedMedia(): void {
  const m = lab.vars.paths.media_dir;
  for (let i = 0; i < 100; i++) {
    const d = join(m, `20${20 + (i % 5)}`, `${i % 3}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `img-${i}.jpg`), randomBytes(20 * 1024));
  }
  writeFileSync(join(m, "copy-of-img-0.jpg"), readFileSync(join(m, "2020", "0", "img-0.jpg")));
  mkdirSync(join(m, "empty", "folder"), { recursive: true });
}

beforeAll(async () => {
  s3 = await startS3();
  rx = await startReceiver();
  lab = await startLab("offsite", {
    patch: (v) => {
      v.alerts = { slack_webhook: `${rx.url}/slack/hook` };
      v.offsite = {
        enabled: true,
        endpoint: s3.endpoint,
        bucket: s3.bucket,
        prefix: PREFIX,
        access_key_id: "S3RVER",
        secret_access_key: "S3RVER",
      };
      v.check = { ...v.check, disk_warning_percent: 100, disk_critical_percent: 101 };
    },
  });
  await seedDatabase(lab);
  writeFileSync(join(lab.vars.paths.app_dir, ".env"), "SECRET=1\n".repeat(30));
  writeFileSync(join(lab.vars.paths.app_dir, "docker-compose.yml"), "services: {}\n".repeat(20));
  seedMedia();
});
afterAll(async () => {
  await lab?.teardown();
  await s3?.destroy();
  await rx?.close();
});

describe("off-site copy", () => {
  it("database, monthly, config and media land in the bucket in the spec's layout, verified against the local files", async () => {
    for (const s of ["backup-database.sh", "backup-config.sh", "backup-media.sh"]) await run(s);
    const dump = files(join(bdir(), "database"), /\.dump$/).at(-1)!;
    const archive = files(join(bdir(), "config"), /\.tar\.gz$/).at(-1)!;
    const snap = files(join(bdir(), "media"), /^\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d$/).at(-1)!;
    expect(await keys("database/")).toEqual([
      `database/${dump}`,
      `database/${dump}.manifest.json`,
      `database/${dump}.sha256`,
      `database/monthly/${dump}`,
      `database/monthly/${dump}.manifest.json`,
      `database/monthly/${dump}.sha256`,
    ]);
    expect(await keys("config/")).toEqual([
      `config/${archive}`,
      `config/${archive}.manifest.json`,
      `config/${archive}.sha256`,
    ]);
    // Each file off-site is the local one (size here; rclone check compared MD5s during the upload).
    const listed = new Map((await s3.list(PREFIX)).map((o) => [o.key, o.size]));
    expect(listed.get(`${PREFIX}/database/${dump}`)).toBe(statSync(join(bdir(), "database", dump)).size);
    expect(listed.get(`${PREFIX}/config/${archive}`)).toBe(statSync(join(bdir(), "config", archive)).size);
    // Media: the snapshot's checksum list, manifest and directories, and one object per distinct file.
    const media = await keys("media/");
    expect(media.filter((k) => !k.startsWith("media/objects/"))).toEqual([
      `media/${snap}.dirs`,
      `media/${snap}.manifest.json`,
      `media/${snap}.sha256`,
    ]);
    const sums = readFileSync(join(bdir(), "media", `${snap}.sha256`), "utf8")
      .trim()
      .split("\n");
    expect(sums).toHaveLength(101);
    const hashes = [...new Set(sums.map((l) => l.slice(0, 64)))];
    expect(hashes).toHaveLength(100);
    expect(media.filter((k) => k.startsWith("media/objects/")).sort()).toEqual(
      hashes.map((h) => `media/objects/${h.slice(0, 2)}/${h}`).sort(),
    );
    // The local state check-backups reads: no bucket access every 6 hours.
    await run("check-backups.sh");
    const s = status();
    expect(s.checks.offsite).toBe("OK");
    expect(s.checks.database_monthly).toBe("OK");
    expect(s.offsite.kinds.database).toMatchObject({ status: "OK", newest: dump, age_hours: 0, last_error: "" });
    expect(s.offsite.kinds.media).toMatchObject({ status: "OK", newest: snap });
    expect(s.offsite.kinds.config).toMatchObject({ status: "OK", newest: archive });
    expect(s.monthly).toMatchObject({ newest: dump, count: 1 });
  });

  it("endpoint down: the backup exits 0 with its local copy intact and verified, a WARNING alert goes out; the next run uploads what was missed", async () => {
    await s3.stop();
    rx.received.length = 0;
    const before = files(join(bdir(), "database"), /\.dump$/);
    const r = await run("backup-database.sh");
    const missed = files(join(bdir(), "database"), /\.dump$/).filter((f) => !before.includes(f));
    expect(missed).toHaveLength(1);
    expect(r.stderr).toMatch(/off-site \(database\): cannot reach http:\/\/127\.0\.0\.1:\d+/);
    // Local: verified as ever.
    const v = await execa("sha256sum", ["-c", `${missed[0]}.sha256`], { cwd: join(bdir(), "database"), reject: false });
    expect(v.stdout).toContain(": OK");
    // The WARNING alert, by the real webhook.
    const alerts = rx.received.filter((x) => x.url.startsWith("/slack/"));
    expect(alerts).toHaveLength(1);
    const text = JSON.parse(alerts[0]!.body).text as string;
    expect(text).toMatch(/BACKUP WARNING: off-site copy failed \(database\)/);
    expect(JSON.parse(alerts[0]!.body).attachments[0].text).toMatch(/local backups are intact/);
    // check-backups sees it from the state file, without the bucket.
    const c = await lab.run("check-backups.sh", ["--no-alert"]);
    expect(c.exitCode).toBe(1);
    expect(status().offsite.kinds.database.status).toBe("WARNING");
    expect(status().issues).toContainEqual(
      expect.objectContaining({
        level: "WARNING",
        check: "offsite",
        message: expect.stringMatching(/last off-site upload of database failed: cannot reach/),
      }),
    );

    await s3.restart();
    await run("backup-database.sh");
    const now = files(join(bdir(), "database"), /\.dump$/);
    const remote = await keys("database/");
    for (const d of now) expect(remote).toContain(`database/${d}`);
    expect(remote).toContain(`database/${missed[0]}.sha256`);
    await run("check-backups.sh", ["--no-alert"]);
    expect(status().offsite.kinds.database).toMatchObject({ status: "OK", newest: now.at(-1), last_error: "" });
  });

  it("media: after a 1% change the upload is ~1% of the bytes; a snapshot fetched back from the bucket is byte-identical", async () => {
    const objects = async () => s3.list(`${PREFIX}/media/objects/`);
    const total = async () => (await s3.list(`${PREFIX}/media/`)).reduce((n, o) => n + o.size, 0);
    const before = await objects();
    const bucketBefore = await total();
    const first = files(join(bdir(), "media"), /^\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d$/).at(-1)!;
    // 1 of the 100 files changes.
    const changed = join(lab.vars.paths.media_dir, "2021", "1", "img-1.jpg");
    writeFileSync(changed, randomBytes(20 * 1024));
    await run("backup-media.sh");
    const snap = files(join(bdir(), "media"), /^\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d$/).at(-1)!;
    expect(snap).not.toBe(first);
    const after = await objects();
    const added = after.filter((o) => !before.some((b) => b.key === o.key));
    expect(added.map((o) => o.key)).toEqual([
      `${PREFIX}/media/objects/${sha256(readFileSync(changed)).slice(0, 2)}/${sha256(readFileSync(changed))}`,
    ]);
    const snapBytes = Number(JSON.parse(readFileSync(join(bdir(), "media", `${snap}.manifest.json`), "utf8")).bytes);
    const uploaded = (await total()) - bucketBefore;
    // The changed file's 20 KiB, plus the snapshot's checksum list, manifest and directory list.
    expect(added[0]!.size).toBe(20 * 1024);
    expect(uploaded).toBeLessThan(snapBytes * 0.02);
    console.log(
      `[offsite] media after a 1% change: ${uploaded} bytes uploaded (${added[0]!.size} in new objects) of a ${snapBytes}-byte snapshot (${((100 * uploaded) / snapBytes).toFixed(2)}%)`,
    );
    expect(readFileSync(join(bdir(), ".offsite", "media.state"), "utf8")).toMatch(/^uploaded_bytes=20480$/m);

    // Back from the bucket: the newest snapshot is the media folder, byte for byte (empty folder too),
    // and the earlier one is its snapshot.
    const to = join(lab.root, "fetched");
    const r = await run("fetch-offsite.sh", ["media", "latest", "--to", to]);
    expect(r.stdout).toContain(`FETCHED|${to}/${snap}`);
    expect(r.stdout).toMatch(/^RESTORE\|.*restore-media\.sh .*\/fetched\/\d{4}-/m);
    const diff = await execa("diff", ["-r", lab.vars.paths.media_dir, join(to, snap)], { reject: false });
    expect(diff.stdout + diff.stderr).toBe("");
    expect(diff.exitCode).toBe(0);
    expect(statSync(join(to, snap, "empty", "folder")).isDirectory()).toBe(true);
    await run("fetch-offsite.sh", ["media", first, "--to", to]);
    const old = await execa("diff", ["-r", join(bdir(), "media", first), join(to, first)], { reject: false });
    expect(old.stdout + old.exitCode).toBe("0");
    // restore-media.sh takes the fetched snapshot as it is.
    const target = join(lab.root, "restored-media");
    await run("restore-media.sh", [join(to, snap), "--force", "--target", target]);
    expect((await execa("diff", ["-r", lab.vars.paths.media_dir, target], { reject: false })).exitCode).toBe(0);
    rmSync(to, { recursive: true, force: true });
    rmSync(target, { recursive: true, force: true });
  });

  it("Docker volume tarballs go to docker-volumes/ in the bucket with their sidecars, verified", async () => {
    // A tarball as backup-docker-volumes.sh leaves it (its job needs a Docker engine: tested in
    // docker-volumes.test.ts); the off-site sync is the library's, called as that job calls it.
    const d = join(bdir(), "docker-volumes");
    mkdirSync(d, { recursive: true });
    const stamp = (await execa("date", ["+%Y-%m-%d_%H-%M-%S"])).stdout;
    const name = `app_certs_${stamp}.tar.gz`;
    const src = join(lab.root, "vol-src");
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, "cert.pem"), randomBytes(4096));
    await execa("tar", ["-czf", join(d, name), "-C", src, "."]);
    writeFileSync(join(d, `${name}.sha256`), `${sha256(readFileSync(join(d, name)))}  ${name}\n`);
    writeFileSync(
      join(d, `${name}.manifest.json`),
      `{"kind": "docker_volume", "volume": "app_certs", "file": "${name}"}\n`,
    );
    const r = await execa(
      "bash",
      [
        "-c",
        `set -Eeuo pipefail; source "${lab.vars.paths.scripts_dir}/backup-lib.sh"; lib_init t; offsite_sync_files docker-volumes`,
      ],
      { reject: false, env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, extendEnv: false },
    );
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await keys("docker-volumes")).toEqual(
      expect.arrayContaining([name, `${name}.sha256`, `${name}.manifest.json`].map((k) => `docker-volumes/${k}`)),
    );
    const cat = await s3.rclone(["cat", `s3:${s3.bucket}/${PREFIX}/docker-volumes/${name}.sha256`]);
    expect(cat.stdout.split(" ")[0]).toBe(sha256(readFileSync(join(d, name))));
    const sizes = await s3.list(`${PREFIX}/docker-volumes`);
    expect(sizes.find((o) => o.key.endsWith(`/${name}`))?.size).toBe(statSync(join(d, name)).size);
  });

  it("off-site retention deletes old copies but keeps keep_min and every object a kept snapshot uses", async () => {
    const media = join(bdir(), "media");
    const real = files(media, /^\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d$/);
    // Three old snapshots (named in January 2025, dated so), each with one file of its own.
    const olds = ["2025-01-01_03-00-00", "2025-01-02_03-00-00", "2025-01-03_03-00-00"];
    const own: Record<string, string> = {};
    olds.forEach((o, i) => {
      cpSync(join(media, real.at(-1)!), join(media, o), { recursive: true });
      const extra = randomBytes(1000);
      writeFileSync(join(media, o, `old-${i}.bin`), extra);
      own[o] = sha256(extra);
      writeFileSync(
        join(media, `${o}.sha256`),
        readFileSync(join(media, `${real.at(-1)}.sha256`), "utf8") + `${own[o]}  old-${i}.bin\n`,
      );
      const m = JSON.parse(readFileSync(join(media, `${real.at(-1)}.manifest.json`), "utf8"));
      writeFileSync(
        join(media, `${o}.manifest.json`),
        JSON.stringify({ ...m, snapshot: o, files: m.files + 1, bytes: m.bytes + 1000 }),
      );
    });
    // Uploaded while a long retention keeps them.
    lab.install((v) => (v.retention = { ...v.retention, media_days: 1000 }));
    await run("backup-media.sh");
    const uploaded = await keys("media/");
    for (const o of olds) expect(uploaded).toContain(`media/${o}.manifest.json`);
    // Then retention: 1 day, keep_min one more than the real snapshots after this run. Locally the old ones are old by their time as well.
    olds.forEach((o, i) => {
      const t = Date.now() / 1000 - (40 - i) * 86400;
      utimesSync(join(media, o), t, t);
    });
    lab.install((v) => (v.retention = { ...v.retention, media_days: 1, keep_min: real.length + 3 }));
    await run("backup-media.sh");
    const snaps = (await keys("media/")).filter((k) => k.endsWith(".manifest.json")).map((k) => k.slice(6, -14));
    const now = files(media, /^\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d$/);
    // Kept: the real ones (younger than a day) and, to make keep_min, the newest old one.
    expect(snaps).toEqual([olds[2], ...now.filter((n) => !olds.includes(n))].sort());
    const objs = new Set((await s3.list(`${PREFIX}/media/objects/`)).map((o) => o.key.split("/").at(-1)));
    expect(objs.has(own[olds[0]!]!)).toBe(false);
    expect(objs.has(own[olds[1]!]!)).toBe(false);
    expect(objs.has(own[olds[2]!]!)).toBe(true);
    // Every object of every kept snapshot is still there.
    for (const snap of snaps) {
      const list = (await s3.rclone(["cat", `s3:${s3.bucket}/${PREFIX}/media/${snap}.sha256`])).stdout;
      for (const line of list.trim().split("\n")) expect(objs.has(line.slice(0, 64)), `${snap}: ${line}`).toBe(true);
    }
    lab.install((v) => (v.retention = { ...v.retention, media_days: 30, keep_min: 3 }));
  });

  it("the monthly tier keeps the first dump of each month (hard links), 12 months, in the bucket too", async () => {
    const db = join(bdir(), "database");
    const real = files(db, /\.dump$/).at(-1)!;
    const content = readFileSync(join(db, real));
    const manifest = readFileSync(join(db, `${real}.manifest.json`));
    const dumpAt = (dir: string, d: Date) => {
      const p = (n: number) => String(n).padStart(2, "0");
      const name = `cepcomunicacion_${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}_00-00-00.dump`;
      writeFileSync(join(dir, name), content);
      writeFileSync(join(dir, `${name}.sha256`), `${sha256(content)}  ${name}\n`);
      writeFileSync(join(dir, `${name}.manifest.json`), manifest);
      utimesSync(join(dir, name), d, d);
      return name;
    };
    // Daily dumps on the 1st and the 15th of each of the 14 months before this one.
    const now = new Date();
    const month = (back: number, day: number) => new Date(now.getFullYear(), now.getMonth() - back, day, 0);
    const firsts: string[] = [];
    for (let back = 1; back <= 14; back++) {
      firsts.push(dumpAt(db, month(back, 1)));
      dumpAt(db, month(back, 15));
    }
    const inode = new Map(firsts.map((f) => [f, statSync(join(db, f)).ino]));
    // And in the monthly folder two that are past the 12 months.
    const monthly = join(db, "monthly");
    const thisMonth = files(monthly, /\.dump$/);
    expect(thisMonth).toHaveLength(1);
    const tooOld = [dumpAt(monthly, month(15, 1)), dumpAt(monthly, month(16, 1))];
    await run("backup-database.sh");
    const kept = files(monthly, /\.dump$/);
    // This month's (the first real dump) and the 1st of each month back to 11 months ago; the
    // 12th month back starts before the cutoff (today minus 12 months), 13 and 14 are older still.
    expect(kept).toEqual([...firsts.slice(0, 11), ...thisMonth].sort());
    for (const t of tooOld) expect(existsSync(join(monthly, t))).toBe(false);
    for (const f of firsts.slice(0, 11)) {
      // A hard link of the daily dump (no extra space), which outlives it (daily retention: 30 days).
      expect(statSync(join(monthly, f)).ino).toBe(inode.get(f));
      expect(existsSync(join(monthly, `${f}.sha256`))).toBe(true);
    }
    expect(await keys("database/monthly/")).toEqual(
      expect.arrayContaining(firsts.slice(0, 11).map((f) => `database/monthly/${f}`)),
    );
    // The fake dailies go (they are not the subject of later tests).
    for (const f of readdirSync(db)) if (/_\d{4}-\d\d-(01|15)_00-00-00\.dump/.test(f)) rmSync(join(db, f));
    await run("check-backups.sh", ["--no-alert"]);
    expect(status().checks.database_monthly).toBe("OK");
    expect(status().monthly.count).toBe(12);
  });

  it("verify-backup-integrity.sh reads the newest off-site copies back; a damaged one fails it with the reason, and the next upload repairs it", async () => {
    const ok = await lab.run("verify-backup-integrity.sh", [], { MEDIA_READBACK_SAMPLE: "1000" });
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/OK {3}off-site database\/cepcomunicacion_[\d_-]+\.dump \(read back: checksum\)/);
    expect(ok.stderr).toMatch(/OK {3}off-site database\/monthly\/cepcomunicacion_/);
    expect(ok.stderr).toMatch(/OK {3}off-site config\/config_[\d_-]+\.tar\.gz /);
    expect(ok.stderr).toMatch(
      /OK {3}off-site media\/[\d_-]+ \(read back: checksum list, manifest, every object present, 10\d sampled objects verified\)/,
    );
    // The newest archive off-site, damaged (another size: the next upload notices it).
    const archive = files(join(bdir(), "config"), /\.tar\.gz$/).at(-1)!;
    const rc = await execa(
      "rclone",
      ["--config", join(s3.dir, "rclone.conf"), "rcat", `s3:${s3.bucket}/${PREFIX}/config/${archive}`],
      {
        input: "not an archive",
        env: { PATH: process.env.PATH! },
        extendEnv: false,
        reject: false,
      },
    );
    expect(rc.exitCode, rc.stderr).toBe(0);
    const bad = await lab.run("verify-backup-integrity.sh");
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(
      new RegExp(
        `off-site config: config/${archive.replace(/\./g, "\\.")} does not match its checksum: the off-site copy is damaged`,
      ),
    );
    await run("backup-config.sh");
    expect((await lab.run("verify-backup-integrity.sh")).exitCode).toBe(0);
  });

  it("status: a stale off-site copy is a WARNING with its age", async () => {
    const state = join(bdir(), ".offsite", "config.state");
    const good = readFileSync(state, "utf8");
    const old = Math.floor(Date.now() / 1000) - 30 * 3600;
    writeFileSync(state, good.replace(/^newest_epoch=\d+$/m, `newest_epoch=${old}`));
    const r = await lab.run("check-backups.sh", ["--no-alert"]);
    expect(r.exitCode).toBe(1);
    expect(status().checks.offsite).toBe("WARNING");
    expect(status().offsite.kinds.config).toMatchObject({ status: "WARNING", age_hours: 30 });
    expect(status().issues).toContainEqual({
      level: "WARNING",
      check: "offsite",
      message: expect.stringMatching(
        /^newest off-site config copy config_[\d_-]+\.tar\.gz is 30 hours old \(limit 26 hours\)$/,
      ),
    });
    writeFileSync(state, good);
  });

  describe("with recipients set (encryption at rest with age)", () => {
    let identity = "";
    let other = "";
    let marker = "";
    const outputs: string[] = [];
    const keygen = async () => {
      const k = (await execa("age-keygen", [], { env: { PATH: process.env.PATH! }, extendEnv: false })).stdout;
      const id = k.split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"))!;
      const pub = (await execa("age-keygen", ["-y"], { input: id })).stdout.trim();
      return { id, pub };
    };
    /** An installed script with the identity on its stdin (`--identity -`): never in a file. */
    const withId = async (script: string, args: string[], id = identity) => {
      const r = await execa(join(lab.scripts, script), [...args, "--identity", "-"], {
        input: `${id}\n`,
        reject: false,
        env: { PATH: process.env.PATH!, LC_ALL: "C.UTF-8" },
        extendEnv: false,
      });
      outputs.push(String(r.stdout), String(r.stderr));
      return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    };
    const plain = async (script: string, args: string[] = []) => {
      const r = await lab.run(script, args);
      outputs.push(r.stdout, r.stderr);
      return r;
    };

    beforeAll(async () => {
      marker = join(lab.root, "started");
      writeFileSync(marker, "");
      const k = await keygen();
      identity = k.id;
      other = (await keygen()).id;
      lab.install((v) => (v.encryption = { recipients: [k.pub], scope: ["database", "media"] }));
    });

    it("config archives are .age locally and off-site: tar cannot read them, the checksum covers them, the manifest stays readable; restore works with the identity only", async () => {
      expect((await plain("backup-config.sh")).exitCode).toBe(0);
      const archive = files(join(bdir(), "config"), /\.tar\.gz\.age$/).at(-1)!;
      const path = join(bdir(), "config", archive);
      expect(readFileSync(path, "utf8").startsWith("age-encryption.org/v1\n")).toBe(true);
      expect((await execa("tar", ["-tzf", path], { reject: false })).exitCode).not.toBe(0);
      expect((await execa("sha256sum", ["-c", `${archive}.sha256`], { cwd: join(bdir(), "config") })).stdout).toMatch(
        /: OK$/,
      );
      const m = JSON.parse(readFileSync(`${path}.manifest.json`, "utf8"));
      expect(m).toMatchObject({
        encrypted: true,
        encryption: "age",
        files: expect.arrayContaining([".env", "docker-compose.yml"]),
      });
      expect(m.sha256).toBe(sha256(readFileSync(path)));
      expect(await keys("config/")).toEqual(
        expect.arrayContaining([`config/${archive}`, `config/${archive}.sha256`, `config/${archive}.manifest.json`]),
      );

      const target = join(lab.root, "restored-config");
      const none = await plain("restore-config.sh", [path, "--force", "--target", target]);
      expect(none.exitCode).toBe(1);
      expect(none.stderr).toMatch(/is encrypted \(age\): give the identity that decrypts it with --identity FILE/);
      const wrong = await withId("restore-config.sh", [path, "--force", "--target", target], other);
      expect(wrong.exitCode).toBe(1);
      expect(wrong.stderr).toMatch(
        /the identity given does not decrypt .*: it was encrypted for other recipients \(wrong key\?\); nothing was changed/,
      );
      expect(existsSync(target)).toBe(false);
      const ok = await withId("restore-config.sh", [path, "--force", "--target", target]);
      expect(ok.exitCode, ok.stderr).toBe(0);
      expect(readFileSync(join(target, ".env"), "utf8")).toBe(
        readFileSync(join(lab.vars.paths.app_dir, ".env"), "utf8"),
      );
      expect(readFileSync(join(target, "docker-compose.yml"), "utf8")).toBe(
        readFileSync(join(lab.vars.paths.app_dir, "docker-compose.yml"), "utf8"),
      );
      // Restoring over existing files: their pre-restore archive is encrypted too.
      writeFileSync(join(target, ".env"), "changed\n");
      expect((await withId("restore-config.sh", [path, "--force", "--target", target])).exitCode).toBe(0);
      expect(
        files(join(bdir(), "config", "pre-restore"), /^pre-restore_config_.*\.tar\.gz\.age$/).length,
      ).toBeGreaterThan(0);
      rmSync(target, { recursive: true, force: true });
    });

    it("a dump in scope is .dump.age (streamed: no plaintext partial), restores into a scratch database with the identity; a wrong one refuses before anything", async () => {
      expect((await plain("backup-database.sh")).exitCode).toBe(0);
      const dump = files(join(bdir(), "database"), /\.dump\.age$/).at(-1)!;
      const path = join(bdir(), "database", dump);
      expect(readFileSync(path, "utf8").startsWith("age-encryption.org/v1\n")).toBe(true);
      const m = JSON.parse(readFileSync(`${path}.manifest.json`, "utf8"));
      expect(m).toMatchObject({ encrypted: true, table_count: 14, total_rows: expect.any(Number) });
      expect(m.plain_size_bytes).toBeGreaterThan(1000);
      expect(await keys("database/")).toEqual(
        expect.arrayContaining([
          `database/${dump}`,
          `database/monthly/${files(join(bdir(), "database", "monthly"), /\.dump/).at(-1)}`,
        ]),
      );
      const dbs = async () => (await lab.sql("SELECT datname FROM pg_database ORDER BY 1")).trim().split("\n");
      const before = await dbs();
      const wrong = await withId("restore-database.sh", [path, "--force", "--target-db", "enc_scratch"], other);
      expect(wrong.exitCode).toBe(1);
      expect(wrong.stderr).toMatch(/does not decrypt/);
      expect(await dbs()).toEqual(before);
      const ok = await withId("restore-database.sh", [path, "--force", "--target-db", "enc_scratch"]);
      expect(ok.exitCode, ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(new RegExp(`Verified: 14 tables and ${m.total_rows} rows match the manifest`));
      await lab.sql('DROP DATABASE "enc_scratch"');
      // The off-site copy: fetched, checked to decrypt, handed to the restore script (--run).
      const to = join(lab.root, "fetched-db");
      const f = await withId("fetch-offsite.sh", [
        "database",
        dump,
        "--to",
        to,
        "--run",
        "--force",
        "--target-db",
        "enc_scratch2",
      ]);
      expect(f.exitCode, f.stderr).toBe(0);
      expect(f.stdout).toMatch(/Verified: 14 tables/);
      await lab.sql('DROP DATABASE "enc_scratch2"');
      rmSync(to, { recursive: true, force: true });
    });

    it("media in scope: the objects off-site are encrypted (the plaintext ones go), and a snapshot fetched with the identity is byte-identical", async () => {
      const b = await plain("backup-media.sh");
      expect(b.exitCode).toBe(0);
      expect(b.stderr).not.toMatch(/\[ERROR\]/);

      const objs = (await s3.list(`${PREFIX}/media/objects/`)).map((o) => o.key.split("/").at(-1)!);
      expect(objs.length).toBeGreaterThanOrEqual(100);
      for (const o of objs) expect(o).toMatch(/^[0-9a-f]{64}\.[0-9a-f]{64}\.age$/);
      const snap = files(join(bdir(), "media"), /^\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d$/).at(-1)!;
      const to = join(lab.root, "fetched-media");
      const none = await plain("fetch-offsite.sh", ["media", snap, "--to", to]);
      expect(none.exitCode).toBe(1);
      expect(none.stderr).toMatch(/is encrypted \(age\): give the identity/);
      rmSync(to, { recursive: true, force: true });
      const ok = await withId("fetch-offsite.sh", ["media", snap, "--to", to]);
      expect(ok.exitCode, ok.stderr).toBe(0);
      expect((await execa("diff", ["-r", lab.vars.paths.media_dir, join(to, snap)], { reject: false })).exitCode).toBe(
        0,
      );
      rmSync(to, { recursive: true, force: true });
      // The weekly read-back: encrypted objects checked against their names, and decrypted.
      const v = await withId("verify-backup-integrity.sh", []);
      expect(v.exitCode, v.stderr).toBe(0);
      expect(v.stderr).toMatch(/OK {3}database\/cepcomunicacion_.*\.dump\.age \(.*; decrypted\)/);
      expect(v.stderr).toMatch(/OK {3}off-site media\/.* \d+ decrypted\)/);
    });

    it("the identity is nowhere on the host afterwards (its tree, /tmp), nor in any output", async () => {
      const tree = await execa("grep", ["-rlF", "--", identity, lab.root], { reject: false });
      expect(tree.stdout).toBe("");
      expect(tree.exitCode).toBe(1);
      // Every file of /tmp written since these tests began (before that the identity did not exist).
      expect(await tmpFilesHolding(marker, identity)).toBe("");
      for (const o of outputs) expect(o).not.toContain(identity);
      expect(outputs.join("\n")).not.toContain(identity.slice(16, 40));
    });
  });
});
