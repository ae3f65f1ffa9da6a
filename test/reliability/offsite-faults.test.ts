// Faults of the off-site copy, with the installed jobs against a real S3 server (s3rver on
// loopback) and the real client (rclone): the server's disk fills up in the middle of an upload
// (s3rver's data directory on a small tmpfs, filled), and the host's disk fills up in the middle of
// a fetch (fetch-offsite.sh --to a full tmpfs). After each: the job says what happened (exit code,
// log, alert, status), the local backups are complete and verify, nothing partial looks complete
// (in the bucket: fetch-offsite.sh --list and --check; on the host: nothing left under a final
// name), and once space is freed the next run catches up and the copy verifies.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { startLab, seedDatabase, startReceiver, type Lab } from "../scripts/backup-harness.ts";
import { startS3, type S3Server } from "../helpers/s3.ts";

let lab: Lab;
let s3: S3Server;
let rx: Awaited<ReturnType<typeof startReceiver>>;
const PREFIX = "host1";
const figures = { injected: 0, survived: 0, notes: [] as string[] };
const mounts: string[] = [];
const bdir = () => lab.vars.paths.backup_dir;
const s3data = () => join(s3.dir, "data");
const status = () => JSON.parse(readFileSync(lab.vars.paths.status_file, "utf8"));
const SNAP = /^\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d$/;
const localFiles = (sub: string, re: RegExp) =>
  readdirSync(join(bdir(), sub))
    .filter((f) => re.test(f))
    .sort();

beforeAll(async () => {
  // The server's data on a disk of its own, so that it can fill up.
  s3 = await startS3();
  await s3.stop();
  await tmpfsOver(s3data(), "16m");
  await s3.restart();
  rx = await startReceiver();
  lab = await startLab("reloffsite", {
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
  writeFileSync(join(lab.vars.paths.app_dir, ".env"), "SECRET=1\n");
  const m = lab.vars.paths.media_dir;
  mkdirSync(join(m, "2025"), { recursive: true });
  for (let i = 0; i < 20; i++) writeFileSync(join(m, "2025", `img-${i}.jpg`), randomBytes(8 * 1024));
  // One good copy of each kind off-site before any fault, on a roomy disk.
  for (const s of ["backup-database.sh", "backup-config.sh", "backup-media.sh"]) {
    const r = await lab.run(s);
    expect(r.exitCode, `${s}: ${r.stderr}`).toBe(0);
  }
});
afterAll(async () => {
  console.log(
    `[reliability] off-site faults: ${figures.injected} injected, ${figures.survived} survived; ${figures.notes.join("; ")}`,
  );
  await s3?.stop();
  for (const m of mounts.reverse()) await execa("umount", [m], { reject: false });
  await s3?.destroy();
  await rx?.close();
  await lab?.teardown();
});

/** Free bytes of the filesystem holding `dir`. */
async function avail(dir: string): Promise<number> {
  return Number((await execa("df", ["--output=avail", "-B1", dir])).stdout.split("\n")[1]);
}

/** A tmpfs of `size` over `dir` holding what was there (copied over and back). */
async function tmpfsOver(dir: string, size: string): Promise<void> {
  const keep = `${dir}.keep`;
  mkdirSync(dir, { recursive: true });
  await execa("cp", ["-a", dir, keep]);
  await execa("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir]);
  mounts.push(dir);
  await execa("cp", ["-a", `${keep}/.`, dir]);
  rmSync(keep, { recursive: true, force: true });
}

/** Fill the filesystem of `dir` until `free` bytes are left. */
async function fill(dir: string, free: number): Promise<void> {
  const n = (await avail(dir)) - free;
  if (n > 0) await execa("fallocate", ["-l", String(n), join(dir, ".filler")]);
}

/** s3rver is running (it may have died of the full disk: a server that fails is the fault too). */
function s3Alive(): boolean {
  const pid = s3.pid();
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Bring s3rver back after it died of the full disk. Its store is not crash-safe: the crash leaves
 * empty bookkeeping files (`<key>._S3rver_metadata.json`, `._S3rver_object.md5`) that make every
 * listing fail with a 500 until they are gone. Those are removed, as a server's own recovery would;
 * every object's data stays as the crash left it: truncated objects are the fault under test.
 */
async function recoverS3(): Promise<void> {
  if (s3Alive()) return;
  await execa("find", [
    s3data(),
    "-type",
    "f",
    "-size",
    "0",
    "(",
    "-name",
    "*._S3rver_metadata.json",
    "-o",
    "-name",
    "*._S3rver_object.md5",
    ")",
    "-delete",
  ]);
  await s3.restart();
}

/** fetch-offsite.sh --list KIND as rows: name -> { bytes, complete }. */
async function offsiteList(kind: string): Promise<Map<string, { bytes: string; complete: string }>> {
  const r = await lab.run("fetch-offsite.sh", ["--list", kind]);
  expect(r.exitCode, r.stderr).toBe(0);
  const rows = new Map<string, { bytes: string; complete: string }>();
  for (const l of r.stdout.split("\n").filter((x) => x && !x.startsWith("#"))) {
    const [, name, , bytes, , complete] = l.split("\t");
    rows.set(name!, { bytes: bytes!, complete: complete! });
  }
  return rows;
}

/** Every file under `dir` (relative paths), the filesystem's filler excepted. */
async function filesUnder(dir: string): Promise<string[]> {
  const r = await execa("find", [dir, "-mindepth", "1", "-not", "-name", ".filler", "-printf", "%P\\n"]);
  return r.stdout.split("\n").filter(Boolean).sort();
}

describe("the S3 side runs out of space during an upload", () => {
  it("database: the job keeps its verified local dump and says the upload failed (log, WARNING alert, status); nothing partial is complete off-site; with space again the next run catches up and verifies", async () => {
    const before = localFiles("database", /\.dump$/);
    const good = before.at(-1)!;
    // A dump larger than the room left on the server: ~1.3 MB of hex text, compressed.
    await lab.sql(
      `SET ROLE "${lab.vars.database.user}"; CREATE TABLE public.bulk AS SELECT g AS id, md5(random()::text) || md5(random()::text) AS v FROM generate_series(1, 40000) g;`,
    );
    await fill(s3data(), 256 * 1024);
    rx.received.length = 0;
    figures.injected++;
    const r = await lab.run("backup-database.sh");
    // The local backup is the job's: it succeeded (exit 0), and the off-site failure is a WARNING.
    expect(r.exitCode, r.stderr).toBe(0);
    const made = localFiles("database", /\.dump$/).filter((f) => !before.includes(f));
    expect(made).toHaveLength(1);
    const dump = made[0]!;
    const local = await execa("sha256sum", ["-c", `${dump}.sha256`], {
      cwd: join(bdir(), "database"),
      reject: false,
    });
    expect(local.stdout).toContain(`${dump}: OK`);
    expect(r.stderr).toMatch(/\[ERROR\] .*off-site \(database\): upload to database\/ failed: /);
    const alerts = rx.received.filter((x) => x.url.startsWith("/slack/"));
    expect(alerts.map((a) => JSON.parse(a.body).text)).toContainEqual(
      expect.stringMatching(/BACKUP WARNING: off-site copy failed \(database\)/),
    );
    const crashed = !s3Alive();
    figures.notes.push(`s3rver on a full disk ${crashed ? "died mid-upload" : "answered with an error"}`);
    // check-backups: a WARNING from the state file, the reason kept.
    const c = await lab.run("check-backups.sh", ["--no-alert"]);
    expect(c.exitCode, JSON.stringify(status().issues)).toBe(1);
    expect(status().offsite.kinds.database.status).toBe("WARNING");
    expect(status().offsite.kinds.database.last_error).toMatch(/upload to database\/ failed/);

    // Space again, the server up: what the failed upload left is not a complete backup there.
    rmSync(join(s3data(), ".filler"));
    await recoverS3();
    const rows = await offsiteList("database");
    expect(rows.get(good)?.complete).toBe("yes");
    expect(rows.get(dump)?.complete ?? "absent").not.toBe("yes");
    const objs = (await s3.list(`${PREFIX}/database/`)).filter((o) => o.key.endsWith(`/${dump}`));
    figures.notes.push(
      `database: object left by the failed upload: ${objs.map((o) => `${o.size} of ${readFileSync(join(bdir(), "database", dump)).length} bytes`).join(", ") || "none"}`,
    );
    const check = await lab.run("fetch-offsite.sh", ["--check", "database", "latest"]);
    expect(check.exitCode, check.stderr).toBe(0);
    expect(check.stdout).toContain(`CHECKED|database|${good}|`);
    const partial = await lab.run("fetch-offsite.sh", ["--check", "database", dump]);
    expect(partial.exitCode).not.toBe(0);

    // The next run uploads what was missed and verifies it.
    const next = await lab.run("backup-database.sh");
    expect(next.exitCode, next.stderr).toBe(0);
    expect(next.stderr).not.toMatch(/off-site.*failed/);
    const now = localFiles("database", /\.dump$/);
    const after = await offsiteList("database");
    for (const d of now) {
      expect(after.get(d)?.complete, d).toBe("yes");
      expect(after.get(d)?.bytes, d).toBe(String(readFileSync(join(bdir(), "database", d)).length));
    }
    const again = await lab.run("fetch-offsite.sh", ["--check", "database", dump]);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toContain(`CHECKED|database|${dump}|checksum verified`);
    await lab.run("check-backups.sh", ["--no-alert"]);
    expect(status().offsite.kinds.database).toMatchObject({ status: "OK", newest: now.at(-1), last_error: "" });
    await lab.sql("DROP TABLE public.bulk");
    figures.survived++;
  });

  it("media: an object cut short by the full disk is never taken for a stored one; with space again the snapshot goes up whole and comes back byte-identical", async () => {
    const first = localFiles("media", SNAP).at(-1)!;
    // New files larger than the room left: one of 1 MiB, a few small ones.
    const m = lab.vars.paths.media_dir;
    writeFileSync(join(m, "2025", "big.bin"), randomBytes(1024 * 1024));
    for (let i = 0; i < 4; i++) writeFileSync(join(m, "2025", `new-${i}.jpg`), randomBytes(16 * 1024));
    await fill(s3data(), 256 * 1024);
    await recoverS3();
    rx.received.length = 0;
    figures.injected++;
    const r = await lab.run("backup-media.sh");
    expect(r.exitCode, r.stderr).toBe(0);
    const snap = localFiles("media", SNAP).at(-1)!;
    expect(snap).not.toBe(first);
    expect(r.stderr).toMatch(/\[ERROR\] .*off-site \(media\): /);
    expect(rx.received.map((a) => JSON.parse(a.body).text)).toContainEqual(
      expect.stringMatching(/off-site copy failed \(media\)/),
    );
    figures.notes.push(`media: s3rver ${s3Alive() ? "answered with an error" : "died mid-upload"}`);
    rmSync(join(s3data(), ".filler"));
    await recoverS3();
    const rows = await offsiteList("media");
    expect(rows.get(first)?.complete).toBe("yes");
    expect(rows.get(snap)?.complete ?? "absent").not.toBe("yes");
    const check = await lab.run("fetch-offsite.sh", ["--check", "media", "latest"]);
    expect(check.exitCode, check.stderr).toBe(0);
    expect(check.stdout).toContain(`CHECKED|media|${first}|`);
    const big = createHash("sha256")
      .update(readFileSync(join(m, "2025", "big.bin")))
      .digest("hex");
    const cut = (await s3.list(`${PREFIX}/media/objects/`)).filter((o) => o.key.endsWith(big));
    figures.notes.push(
      `media: object left by the failed upload: ${cut.map((o) => `${o.size} of 1048576 bytes`).join(", ") || "none"}`,
    );

    const next = await lab.run("backup-media.sh");
    expect(next.exitCode, next.stderr).toBe(0);
    expect(next.stderr).not.toMatch(/off-site.*failed/);
    // The object the crash cut short (when it left one) was found by its size and went up again.
    if (cut.length)
      expect(next.stderr).toMatch(/object [0-9a-f]{2}\/[0-9a-f]{64} is \d+ bytes, too short for 2025\/big\.bin/);
    expect((await offsiteList("media")).get(snap)?.complete).toBe("yes");
    // Back from the bucket, every file: the snapshot as the media job took it.
    const to = join(lab.root, "fetched-media");
    const f = await lab.run("fetch-offsite.sh", ["media", snap, "--to", to]);
    expect(f.exitCode, f.stderr).toBe(0);
    const diff = await execa("diff", ["-r", join(bdir(), "media", snap), join(to, snap)], { reject: false });
    expect(diff.stdout + diff.stderr).toBe("");
    rmSync(to, { recursive: true, force: true });
    await lab.run("check-backups.sh", ["--no-alert"]);
    expect(status().offsite.kinds.media).toMatchObject({ status: "OK", last_error: "" });
    figures.survived++;
  });
});

describe("the host runs out of space during a fetch", () => {
  for (const kind of ["database", "media"] as const) {
    it(`${kind}: fetch-offsite.sh --to a full disk fails saying so and leaves nothing behind; with space it fetches and verifies`, async () => {
      const to = join(lab.root, `to-${kind}`);
      await tmpfsOver(to, "4m");
      // Less room than the newest backup needs (the dump is ~1.3 MB, the snapshot holds 1 MiB).
      await fill(to, 128 * 1024);
      figures.injected++;
      const r = await lab.run("fetch-offsite.sh", [kind, "latest", "--to", to]);
      expect(r.exitCode, r.stdout).toBe(1);
      expect(r.stdout).not.toMatch(/^FETCHED\|/m);
      expect(r.stderr).toMatch(/no space left on device|too big for remaining disk space/i);
      expect(await filesUnder(to)).toEqual([]);
      rmSync(join(to, ".filler"));
      const ok = await lab.run("fetch-offsite.sh", [kind, "latest", "--to", to]);
      expect(ok.exitCode, ok.stderr).toBe(0);
      const fetched = ok.stdout.match(/^FETCHED\|(.*)$/m)![1]!;
      const name = fetched.slice(to.length + 1);
      if (kind === "database") {
        const v = await execa("sha256sum", ["-c", `${name}.sha256`], { cwd: to, reject: false });
        expect(v.stdout).toContain(`${name}: OK`);
        expect(await filesUnder(to)).toEqual([name, `${name}.manifest.json`, `${name}.sha256`]);
      } else {
        const diff = await execa("diff", ["-r", join(bdir(), "media", name), fetched], { reject: false });
        expect(diff.stdout + diff.stderr).toBe("");
      }
      figures.survived++;
    });
  }
});

describe("how long an object must be (lib/offsite-media.sh _offsite_object_whole)", () => {
  it("an age-encrypted object passes whole (1 or 2 recipients) and fails one byte short of what one recipient needs; a plaintext one only at its exact size", async () => {
    const keys = await Promise.all(
      [0, 1].map(async () => {
        const k = (await execa("age-keygen", [], { env: { PATH: process.env.PATH! }, extendEnv: false })).stdout;
        return (await execa("age-keygen", ["-y"], { input: k.split("\n").find((l) => l.startsWith("AGE-"))! })).stdout;
      }),
    );
    const lines: string[] = [];
    for (const n of [0, 1, 65535, 65536, 65537, 200_000])
      for (const rs of [keys.slice(0, 1), keys]) {
        const enc = await execa(
          "age",
          rs.flatMap((r) => ["-r", r]),
          {
            input: Buffer.alloc(n),
            encoding: "buffer",
          },
        );
        const size = enc.stdout.length;
        // One recipient: one byte short is cut. More: the bound is one recipient's size (a cut within
        // the other recipients' 98 header bytes each passes it; the fetch's checksums catch that).
        lines.push(`${n} ${size} yes`, `${n} ${size - 1 - 98 * (rs.length - 1)} no`);
      }
    const script = [
      `source ${JSON.stringify(join(lab.scripts, "backup-lib.sh"))}`,
      "declare -gA OBJ_SIZE=()",
      'while read -r n size want; do OBJ_SIZE[k.age]="$size"; OBJ_SIZE[k]="$size"',
      '  got=no; _offsite_object_whole k.age "$n" && got=yes; echo "age $n $size $want $got"',
      '  got=no; _offsite_object_whole k "$n" && got=yes; echo "plain $n $size $got"',
      "done",
    ].join("\n");
    const r = await execa("bash", ["-c", script], {
      input: lines.join("\n") + "\n",
      env: { PATH: process.env.PATH! },
      extendEnv: false,
    });
    const out = r.stdout.split("\n").filter(Boolean);
    expect(out).toHaveLength(lines.length * 2);
    for (const l of out.filter((x) => x.startsWith("age "))) {
      const [, , , want, got] = l.split(" ");
      expect(got, l).toBe(want);
    }
    for (const l of out.filter((x) => x.startsWith("plain "))) {
      const [, n, size, got] = l.split(" ");
      expect(got, l).toBe(n === size ? "yes" : "no");
    }
  });
});
