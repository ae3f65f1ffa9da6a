// The installed scripts in the desired state: the repo's files byte for byte, with their modes, in
// an order that keeps the library whole during an upgrade; lib/host.sh the only generated one.
import { describe, it, expect } from "vitest";
import { desiredState, hostLib } from "../../src/backup/desired.ts";
import { createRenderer } from "../../src/render/render.ts";
import { installedScripts } from "../../src/render/files.ts";
import { testVars } from "../helpers/vars.ts";

describe("desired scripts", () => {
  const vars = testVars({ prefix: "/tmp/x y", db: { port: 5432, password: "pw" } });
  const state = desiredState(vars, createRenderer());
  const dir = vars.paths.scripts_dir;
  const scripts = state.files.filter((f) => f.path.startsWith(`${dir}/`));

  it("are the repo's files byte for byte, plus the generated lib/host.sh", () => {
    const repo = installedScripts();
    expect(scripts.map((f) => f.path).sort()).toEqual(
      [...repo.map((s) => `${dir}/${s.name}`), `${dir}/lib/host.sh`].sort(),
    );
    for (const s of repo) expect(scripts.find((f) => f.path === `${dir}/${s.name}`)!.content).toBe(s.content);
    const host = scripts.find((f) => f.path === `${dir}/lib/host.sh`)!;
    expect(host).toMatchObject({ content: hostLib(vars.paths.config_file), mode: 0o644, tags: ["scripts", "config"] });
    expect(state.dirs.find((d) => d.path === `${dir}/lib`)).toMatchObject({ mode: 0o755, owner: "root" });
  });

  it("the library is 0644, the scripts 0755, all checked with bash -n, lib/ written first", () => {
    for (const f of scripts) {
      const lib = f.path.endsWith("/backup-lib.sh") || f.path.startsWith(`${dir}/lib/`);
      expect(f.mode, f.path).toBe(lib ? 0o644 : 0o755);
      expect(f.validate).toBe("bash -n {}");
    }
    const names = scripts.map((f) => f.path.slice(dir.length + 1));
    const lastLib = Math.max(...names.map((n, i) => (n.startsWith("lib/") ? i : -1)));
    expect(names.indexOf("backup-lib.sh")).toBe(lastLib + 1);
    expect(names.slice(lastLib + 2).every((n) => !n.startsWith("lib/") && n !== "backup-lib.sh")).toBe(true);
  });
});

describe("desired config for the fleet features", () => {
  const base = testVars({ prefix: "/tmp/f", db: { port: 5432, password: "pw" } });
  const cron = (v: typeof base) => desiredState(v, createRenderer()).files.find((f) => f.path === v.paths.cron_file)!;

  it("the cron file's header names the configured app; the docker-volumes job only with volumes", () => {
    const shop = { ...structuredClone(base), app: "shop" };
    expect(cron(shop).content.split("\n")[1]).toBe(
      "# shop backup schedule (times in the host's timezone; the spec assumes UTC).",
    );
    expect(cron(base).content).not.toContain("backup-docker-volumes.sh");
    const withVolumes = { ...structuredClone(base), docker_volumes: ["app_certs"] };
    expect(cron(withVolumes).content).toMatch(
      /^0 4 \* \* \* root \/tmp\/f\/infra\/backup\/scripts\/backup-docker-volumes\.sh >> /m,
    );
    const dirs = desiredState(withVolumes, createRenderer()).dirs.map((d) => d.path);
    expect(dirs).toEqual(
      expect.arrayContaining([
        `${base.paths.backup_dir}/docker-volumes`,
        `${base.paths.backup_dir}/docker-volumes/pre-restore`,
      ]),
    );
  });

  it("the state dir is the backup user's; the metrics dir is made only when missing; secrets in backup.conf are masked", () => {
    const v = { ...structuredClone(base), backup_user: "backup", metrics: { textfile_dir: "/tmp/f/textfile" } };
    v.paths = { ...v.paths, state_dir: "/tmp/f/var/lib/cepcomunicacion-backup" };
    const s = desiredState(v, createRenderer());
    expect(s.dirs.filter((d) => d.path === v.paths.state_dir)).toHaveLength(1);
    expect(s.dirs.find((d) => d.path === v.paths.state_dir)).toMatchObject({ owner: "backup", mode: 0o755 });
    expect(s.dirs.find((d) => d.path === "/tmp/f/textfile")).toMatchObject({ owner: "backup", ensureOnly: true });
    const conf = s.files.find((f) => f.path === v.paths.config_file)!;
    expect(conf.secretKeys).toEqual(
      expect.arrayContaining(["SMTP_PASSWORD", "HEALTHCHECK_URL", "HEALTHCHECK_URL_DATABASE"]),
    );
  });
});

describe("desired off-site copy and encryption", () => {
  const base = testVars({ prefix: "/p", db: { port: 5432, password: "pw" } });
  const on = {
    ...base,
    backup_user: "cepbk",
    offsite: {
      enabled: true,
      endpoint: "https://s3.eu-west-1.amazonaws.com",
      bucket: "cep-backups",
      prefix: "web1",
      region: "eu-west-1",
      storage_class: "STANDARD_IA",
      access_key_id: "AKIAEXAMPLE",
      secret_access_key: "se/cr+et=",
    },
    encryption: { recipients: ["age1" + "q".repeat(58)], scope: ["database" as const] },
  };

  it("off: no credentials file, no rclone or age package; backup.conf says off and holds no key", () => {
    const s = desiredState(base, createRenderer());
    expect(s.files.find((f) => f.template === "rclone.conf.hbs")).toBeUndefined();
    expect(s.packages).not.toContain("rclone");
    expect(s.packages).not.toContain("age");
    const conf = s.files.find((f) => f.path === base.paths.config_file)!.content;
    expect(conf).toMatch(/^OFFSITE_ENABLED=false$/m);
    expect(conf).toMatch(/^ENCRYPT_RECIPIENTS=\(\)$/m);
  });

  it("on: the credentials only in a 0600 secret file of the backup user (rclone's S3 remote, no bucket creation); rclone and age installed", () => {
    const s = desiredState(on, createRenderer());
    const rc = s.files.find((f) => f.template === "rclone.conf.hbs")!;
    expect(rc).toMatchObject({
      path: "/p/etc/cepcomunicacion/backup-offsite.rclone.conf",
      mode: 0o600,
      owner: "cepbk",
      group: "cepbk",
      secret: true,
    });
    expect(rc.content).toContain("[offsite]\ntype = s3\nprovider = Other\nenv_auth = false\n");
    expect(rc.content).toMatch(/^access_key_id = AKIAEXAMPLE$/m);
    expect(rc.content).toMatch(/^secret_access_key = se\/cr\+et=$/m);
    expect(rc.content).toMatch(/^endpoint = https:\/\/s3\.eu-west-1\.amazonaws\.com$/m);
    expect(rc.content).toMatch(/^region = eu-west-1$/m);
    expect(rc.content).toMatch(/^storage_class = STANDARD_IA$/m);
    expect(rc.content).toMatch(/^no_check_bucket = true$/m);
    expect(s.packages).toEqual(expect.arrayContaining(["rclone", "age"]));
    const conf = s.files.find((f) => f.path === on.paths.config_file)!.content;
    expect(conf).toMatch(/^OFFSITE_ENABLED=true$/m);
    expect(conf).toMatch(/^OFFSITE_BUCKET=cep-backups$/m);
    expect(conf).toMatch(/^OFFSITE_PREFIX=web1$/m);
    expect(conf).toMatch(/^OFFSITE_RCLONE_CONFIG=\/p\/etc\/cepcomunicacion\/backup-offsite\.rclone\.conf$/m);
    expect(conf).toMatch(/^ENCRYPT_RECIPIENTS=\(age1q{58}\)$/m);
    expect(conf).toMatch(/^ENCRYPT_SCOPE=\(database\)$/m);
    expect(conf).not.toContain("AKIAEXAMPLE");
    expect(conf).not.toContain("se/cr+et=");
    expect(s.dirs.map((d) => d.path)).toContain("/p/var/backups/cepcomunicacion/database/monthly");
  });

  it("refuses an rclone config value that its parser would change (a leading quote, a newline)", () => {
    for (const bad of ['"quoted', "two\nlines", " padded"])
      expect(() =>
        desiredState({ ...on, offsite: { ...on.offsite, secret_access_key: bad } }, createRenderer()),
      ).toThrow(/rclone config value/);
  });
});

describe("desired pgpass and backup.conf validation", () => {
  const base = testVars({ prefix: "/tmp/v", db: { port: 5432, password: "pw" } });
  const validations = (v: typeof base) => {
    const s = desiredState(v, createRenderer());
    return [v.paths.pgpass_file, v.paths.config_file].map((p) => s.files.find((f) => f.path === p)!.validate);
  };

  it("logs in with a new pgpass and changed connection values by default", () => {
    const [pgpass, conf] = validations(base);
    expect(pgpass).toMatch(/^cep_pg_login \{\} /);
    expect(conf).toMatch(/cep_conf_login/);
  });

  it("database.check_login false: only the syntax check (a host whose database is not there yet)", () => {
    const [pgpass, conf] = validations({ ...base, database: { ...base.database, check_login: false } });
    expect(pgpass).toBeUndefined();
    expect(conf).toBe("bash -n {}");
  });
});
