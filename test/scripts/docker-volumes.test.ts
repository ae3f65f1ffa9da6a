// Docker named volumes against a real dockerd (own data root and socket, stopped by PID): media
// from a volume backed up and restored byte for byte, volume tarballs with checksums, retention
// and a restore, a database's data volume refused, unsafe tarballs refused.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import {
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { startLab, type Lab } from "./backup-harness.ts";
import { startDockerd, type Dockerd } from "../helpers/docker.ts";

let lab: Lab;
let dockerd: Dockerd;
let uploads: string;
let certs: string;
let small: string;
let volDir: string;

const treeSum = async (dir: string) =>
  (await execa("bash", ["-c", 'cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum', "_", dir]))
    .stdout;
const diffR = async (a: string, b: string) => (await execa("diff", ["-r", a, b], { reject: false })).exitCode;

beforeAll(async () => {
  dockerd = await startDockerd();
  lab = await startLab("docker");
  lab.install((v) => {
    v.docker_host = dockerd.host;
    v.media_volume = "cep_uploads";
    v.docker_volumes = ["cep_certs", "cep"];
    v.metrics = { textfile_dir: join(lab.root, "textfile") };
  });
  volDir = join(lab.vars.paths.backup_dir, "docker-volumes");
}, 180_000);
afterAll(async () => {
  await lab?.teardown();
  await dockerd?.stop();
});

describe("media_volume: the media source is a Docker named volume", () => {
  it("fails clearly when the volume does not exist", async () => {
    const r = await lab.run("backup-media.sh");
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(
      /docker volume cep_uploads does not exist \(docker volume ls on unix:\/\/\/.*docker\.sock does not list it\)/,
    );
    expect(existsSync(join(lab.vars.paths.backup_dir, "media", "latest"))).toBe(false);
  });

  it("backs up the volume's files and restores them byte for byte, owners and modes kept, with a pre-restore copy", async () => {
    uploads = await dockerd.createVolume("cep_uploads");
    mkdirSync(join(uploads, "2025", "10"), { recursive: true });
    writeFileSync(join(uploads, "logo.png"), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 255]));
    writeFileSync(join(uploads, "2025", "10", "informe año.pdf"), "pdf ".repeat(5000));
    writeFileSync(join(uploads, "2025", "private.txt"), "only the app\n", { mode: 0o640 });
    chownSync(join(uploads, "2025", "private.txt"), 1000, 1000);
    const r = await lab.run("backup-media.sh");
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/media source: docker volume cep_uploads at \/.*\/volumes\/cep_uploads\/_data/);
    const latest = join(lab.vars.paths.backup_dir, "media", "latest");
    expect(await diffR(uploads, latest)).toBe(0);
    const before = await treeSum(uploads);

    // Damage the volume: a file gone, one changed, one added; then restore the snapshot into it.
    await execa("rm", [join(uploads, "logo.png")]);
    writeFileSync(join(uploads, "2025", "10", "informe año.pdf"), "tampered");
    writeFileSync(join(uploads, "stray.tmp2"), "new");
    const restore = await lab.run("restore-media.sh", ["latest", "--force"]);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(restore.stdout).toMatch(/Target Directory: \/.*\/volumes\/cep_uploads\/_data/);
    expect(restore.stdout).toMatch(/permissions: owners and modes as recorded in the snapshot \(a Docker volume\)/);
    expect(await treeSum(uploads)).toBe(before);
    expect(await diffR(uploads, latest)).toBe(0);
    const priv = statSync(join(uploads, "2025", "private.txt"));
    expect([priv.uid, priv.gid, priv.mode & 0o777]).toEqual([1000, 1000, 0o640]);
    // The damaged state was kept first.
    const pre = readdirSync(join(lab.vars.paths.backup_dir, "media", "pre-restore")).filter(
      (f) => /^\d{4}-/.test(f) && !f.includes("."),
    );
    expect(pre).toHaveLength(1);
    expect(readFileSync(join(lab.vars.paths.backup_dir, "media", "pre-restore", pre[0]!, "stray.tmp2"), "utf8")).toBe(
      "new",
    );
  });

  it("a restore onto a host where the volume is gone creates it", async () => {
    await dockerd.docker(["volume", "rm", "cep_uploads"]);
    const restore = await lab.run("restore-media.sh", ["latest", "--force"]);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(restore.stderr).toMatch(/docker volume cep_uploads does not exist: creating it/);
    uploads = (await dockerd.docker(["volume", "inspect", "--format", "{{.Mountpoint}}", "cep_uploads"])).trim();
    expect(await diffR(uploads, join(lab.vars.paths.backup_dir, "media", "latest"))).toBe(0);
  });
});

describe("docker_volumes: tarballs under docker-volumes/", () => {
  it("writes <volume>_<stamp>.tar.gz with a sha256sum -c file and a manifest, for every volume", async () => {
    certs = await dockerd.createVolume("cep_certs");
    small = await dockerd.createVolume("cep");
    mkdirSync(join(certs, "live", "example.com"), { recursive: true });
    writeFileSync(join(certs, "live", "example.com", "privkey.pem"), "KEY\n", { mode: 0o600 });
    writeFileSync(join(certs, "live", "example.com", "cert.pem"), "CERT\n".repeat(100));
    symlinkSync("live/example.com/cert.pem", join(certs, "current.pem"));
    writeFileSync(join(small, "state.json"), '{"ok": true}\n');
    const r = await lab.run("backup-docker-volumes.sh");
    expect(r.exitCode, r.stderr).toBe(0);
    const files = readdirSync(volDir).sort();
    const tarballs = files.filter((f) => f.endsWith(".tar.gz"));
    expect(tarballs).toHaveLength(2);
    const certTar = tarballs.find((f) => f.startsWith("cep_certs_"))!;
    expect(certTar).toMatch(/^cep_certs_\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}\.tar\.gz$/);
    expect(tarballs.find((f) => /^cep_\d{4}-/.test(f))).toBeDefined();
    expect(files.filter((f) => f.startsWith("."))).toEqual([]);
    for (const t of tarballs) {
      expect(statSync(join(volDir, t)).mode & 0o777).toBe(0o600);
      expect((await execa("sha256sum", ["-c", `${t}.sha256`], { cwd: volDir, reject: false })).exitCode).toBe(0);
    }
    const m = JSON.parse(readFileSync(join(volDir, `${certTar}.manifest.json`), "utf8"));
    expect(m).toMatchObject({ kind: "docker_volume", volume: "cep_certs", file: certTar, files: 2, bytes: 4 + 500 });
    const listing = (await execa("tar", ["-tzf", join(volDir, certTar)])).stdout;
    expect(listing).toContain("./current.pem");
    expect(listing).toContain("./live/example.com/privkey.pem");
    // check-backups knows them: a docker_volumes check and metrics per volume.
    const c = await lab.run("check-backups.sh", ["--no-alert"]);
    const status = JSON.parse(readFileSync(lab.vars.paths.status_file, "utf8"));
    expect(status.checks.docker_volumes, c.stderr).toBe("OK");
    const prom = readFileSync(join(lab.root, "textfile", "cepcomunicacion_backup.prom"), "utf8");
    expect(prom).toMatch(
      /^cep_backup_size_bytes\{app="cepcomunicacion",kind="docker_volume",volume="cep_certs"\} \d+$/m,
    );
    expect(prom).toMatch(/^cep_backup_kept\{app="cepcomunicacion",kind="docker_volume",volume="cep"\} 1$/m);
  });

  it("retention: old verified tarballs go, the newest keep_min stay, unverified ones are never deleted; volumes do not mix", async () => {
    const fake = async (volume: string, stamp: string, daysOld: number, valid: boolean) => {
      const name = `${volume}_${stamp}.tar.gz`;
      const p = join(volDir, name);
      await execa("tar", ["-czf", p, "-C", certs, "."]);
      const hash = (await execa("sha256sum", [p])).stdout.slice(0, 64);
      writeFileSync(`${p}.sha256`, `${valid ? hash : "0".repeat(64)}  ${name}\n`);
      for (const f of [p, `${p}.sha256`]) await execa("touch", ["-d", `${daysOld} days ago`, f]);
      return name;
    };
    const old = [];
    for (let i = 1; i <= 4; i++) old.push(await fake("cep_certs", `2020-01-0${i}_04-00-00`, 50 - i, true));
    const bad = await fake("cep_certs", "2019-12-01_04-00-00", 90, false);
    const smallOld = await fake("cep", "2020-01-01_04-00-00", 60, true);
    const r = await lab.run("backup-docker-volumes.sh");
    expect(r.exitCode, r.stderr).toBe(0);
    const left = readdirSync(volDir).filter((f) => f.endsWith(".tar.gz"));
    const certsLeft = left.filter((f) => f.startsWith("cep_certs_"));
    // keep_min 3: the two real ones and the newest old one; the three older verified ones deleted.
    expect(certsLeft).toContain(old[3]);
    for (const gone of old.slice(0, 3)) expect(certsLeft).not.toContain(gone);
    expect(certsLeft).toContain(bad);
    expect(certsLeft).toHaveLength(2 + 1 + 1);
    // Volume "cep" counts only its own: 2 real + 1 old, all within keep_min.
    expect(left).toContain(smallOld);
    expect(left.filter((f) => /^cep_\d{4}-/.test(f))).toHaveLength(3);
  });

  it("restores a tarball into its volume (pre-restore copy first) and into a new volume, verified with tar --compare", async () => {
    const original = await treeSum(certs);
    const newest = readdirSync(volDir)
      .filter((f) => /^cep_certs_\d{4}-/.test(f) && f.endsWith(".tar.gz"))
      .sort()
      .at(-1)!;
    writeFileSync(join(certs, "live", "example.com", "privkey.pem"), "WRONG KEY\n");
    writeFileSync(join(certs, "junk"), "x");
    const r = await lab.run("restore-docker-volume.sh", [newest, "--force"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/DOCKER VOLUME RESTORE REPORT/);
    expect(r.stdout).toMatch(/Verified: every entry matches the tarball/);
    expect(await treeSum(certs)).toBe(original);
    expect(existsSync(join(certs, "junk"))).toBe(false);
    expect(statSync(join(certs, "live", "example.com", "privkey.pem")).mode & 0o777).toBe(0o600);
    const pre = readdirSync(join(volDir, "pre-restore")).filter((f) => f.endsWith(".tar.gz"));
    expect(pre).toHaveLength(1);
    expect(
      (await execa("sha256sum", ["-c", `${pre[0]}.sha256`], { cwd: join(volDir, "pre-restore"), reject: false }))
        .exitCode,
    ).toBe(0);
    expect((await execa("tar", ["-xzOf", join(volDir, "pre-restore", pre[0]!), "./junk"])).stdout).toBe("x");

    // The pre-restore copy restores too (a rollback), and --volume restores into a new volume.
    const back = await lab.run("restore-docker-volume.sh", [
      join(volDir, "pre-restore", pre[0]!),
      "--volume",
      "cep_certs",
      "--force",
    ]);
    expect(back.exitCode, back.stderr).toBe(0);
    expect(readFileSync(join(certs, "junk"), "utf8")).toBe("x");
    const fresh = await lab.run("restore-docker-volume.sh", [newest, "--volume", "cep_certs_copy", "--force"]);
    expect(fresh.exitCode, fresh.stderr).toBe(0);
    const copy = (await dockerd.docker(["volume", "inspect", "--format", "{{.Mountpoint}}", "cep_certs_copy"])).trim();
    expect(await treeSum(copy)).toBe(original);
  });

  it("refuses a tarball with members outside the volume, a device, or a file below a symlink", async () => {
    const craft = async (name: string, py: string) => {
      const p = join(volDir, name);
      await execa("python3", [
        "-c",
        `import tarfile,io\nt=tarfile.open(${JSON.stringify(p)},"w:gz")\n${py}\nt.close()`,
      ]);
      const hash = (await execa("sha256sum", [p])).stdout.slice(0, 64);
      writeFileSync(`${p}.sha256`, `${hash}  ${name}\n`);
      return name;
    };
    const file = (n: string) =>
      `i=tarfile.TarInfo(${JSON.stringify(n)}); d=b"evil"; i.size=len(d); t.addfile(i, io.BytesIO(d))`;
    const cases: [string, string, RegExp][] = [
      ["cep_certs_2030-01-01_00-00-01.tar.gz", file("../escape"), /would land outside the volume/],
      [
        "cep_certs_2030-01-01_00-00-02.tar.gz",
        `i=tarfile.TarInfo("./null"); i.type=tarfile.CHRTYPE; i.devmajor=1; i.devminor=3; t.addfile(i)`,
        /is a device, FIFO or socket/,
      ],
      [
        "cep_certs_2030-01-01_00-00-03.tar.gz",
        `i=tarfile.TarInfo("./out"); i.type=tarfile.SYMTYPE; i.linkname="/etc"; t.addfile(i)\n${file("./out/cron.d/evil")}`,
        /lies below the symlink '\.\/out'/,
      ],
    ];
    const before = await treeSum(certs);
    for (const [name, py, why] of cases) {
      await craft(name, py);
      const r = await lab.run("restore-docker-volume.sh", [name, "--force"]);
      expect(r.exitCode, name).toBe(1);
      expect(r.stderr, name).toMatch(why);
      await execa("rm", ["-f", join(volDir, name), join(volDir, `${name}.sha256`)]);
    }
    expect(await treeSum(certs)).toBe(before);
    expect(existsSync("/etc/cron.d/evil")).toBe(false);
  });

  it("refuses a volume that holds a database's data directory (PG_VERSION), before writing anything", async () => {
    const pg = await dockerd.createVolume("cep_pgdata");
    mkdirSync(join(pg, "pgdata", "base"), { recursive: true });
    writeFileSync(join(pg, "pgdata", "PG_VERSION"), "15\n");
    lab.install((v) => (v.docker_volumes = ["cep_certs", "cep_pgdata"]));
    try {
      const before = readdirSync(volDir).sort();
      const r = await lab.run("backup-docker-volumes.sh");
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(
        /docker volume cep_pgdata holds a PostgreSQL data directory \(pgdata\/PG_VERSION\): refusing to back it up\. The database dump \(backup-database\.sh\) already covers the app's database, and a tarball of a live data directory is not a backup/,
      );
      expect(readdirSync(volDir).sort()).toEqual(before);
      // As the media source too.
      const media = await lab.run("backup-media.sh", [], { DOCKER_VOLUME: "cep_pgdata" });
      expect(media.exitCode).toBe(1);
      expect(media.stderr).toMatch(/docker volume cep_pgdata holds a PostgreSQL data directory/);
    } finally {
      lab.install((v) => (v.docker_volumes = ["cep_certs", "cep"]));
    }
  });
});
