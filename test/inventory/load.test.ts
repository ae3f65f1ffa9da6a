import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.ts";
import { loadInventory } from "../../src/inventory/load.ts";
import { parseExtraVars } from "../../src/inventory/vars.ts";
import { MINIMAL, problemsOf, tempProject } from "./helpers.ts";

const REPO = path.resolve(import.meta.dirname, "../..");

let proj: Awaited<ReturnType<typeof tempProject>>;
beforeEach(async () => {
  proj = await tempProject();
});
afterEach(async () => {
  await proj.cleanup();
});

describe("the example inventories", () => {
  it("prod.yml loads with its env vars set", async () => {
    const env = {
      PROD_DB_PASSWORD: "pw-prod",
      PROD_SLACK_WEBHOOK: "https://hooks.slack.com/services/T/B/x",
      PROD_HC_DATABASE: "https://hc-ping.com/abc",
      PROD_SMTP_PASSWORD: "smtp pw with spaces",
      PROD_S3_ACCESS_KEY_ID: "AKIAEXAMPLE",
      PROD_S3_SECRET_ACCESS_KEY: "s3cr3t/key+value",
    };
    const inv = await loadInventory("prod", { cwd: REPO, env });
    expect(inv.environment).toBe("production");
    expect(inv.file).toBe(path.join(REPO, "inventories/prod.yml"));
    expect(inv.knownHostsFile).toBe(path.join(REPO, "inventories/known_hosts"));
    expect(inv.hosts.map((h) => h.name)).toEqual(["web1", "web2", "web3"]);
    expect(inv.hosts.length).toBeGreaterThan(1);
    const web3 = inv.hosts.find((h) => h.name === "web3")!;
    expect(web3.groups).toEqual(["web", "canary"]);
    expect(web3.vars.database.port).toBe(5433);
    expect(web3.vars.database.password).toBe("pw-prod");
    expect(web3.vars.alerts.slack_webhook).toBe(env.PROD_SLACK_WEBHOOK);
    expect(web3.vars.alerts.healthchecks?.database).toBe(env.PROD_HC_DATABASE);
    expect(web3.vars.alerts.smtp?.password).toBe(env.PROD_SMTP_PASSWORD);
    expect(web3.vars.offsite.secret_access_key).toBe(env.PROD_S3_SECRET_ACCESS_KEY);
    // The off-site key prefix defaults to each host's name.
    expect(inv.hosts.map((h) => h.vars.offsite.prefix)).toEqual(["web1", "web2", "web3"]);
    expect(web3.vars.retention.monthly_months).toBe(12);
    expect(web3.vars.drill).toEqual({ rto_minutes: 60, rpo_hours: 26, allow_live_from_source: false });
    expect(web3.vars.schedule.check).toBe("*/30 * * * *");
    expect(web3.vars.retention.daily_days).toBe(45);
    expect(web3.vars.environment).toBe("production");
    expect(web3.ssh.private_key).toBe(path.join(os.homedir(), ".ssh/id_ed25519"));
    expect([...inv.secrets].sort()).toEqual(Object.values(env).sort());
  });

  it("staging.yml loads with its env vars set, and fails naming the variable without them", async () => {
    const inv = await loadInventory("staging", {
      cwd: REPO,
      env: { STAGING_DB_PASSWORD: "pw", STAGING_SMTP_PASSWORD: "smtp" },
    });
    expect(inv.environment).toBe("staging");
    expect(inv.hosts.map((h) => [h.name, h.vars.retention.media_days, h.vars.retention.daily_days])).toEqual([
      ["stg1", 30, 7],
      ["stg2", 14, 7],
    ]);
    expect(await problemsOf(loadInventory("staging", { cwd: REPO, env: {} }))).toEqual([
      "inventories/staging.yml: vars.database.password: environment variable STAGING_DB_PASSWORD is not set",
      "inventories/staging.yml: vars.alerts.smtp.password: environment variable STAGING_SMTP_PASSWORD is not set",
    ]);
  });

  it("hold no plaintext secret and point editors at the JSON schema", async () => {
    const { readFile } = await import("node:fs/promises");
    for (const f of ["prod.yml", "staging.yml"]) {
      const text = await readFile(path.join(REPO, "inventories", f), "utf8");
      expect(text.split("\n")[0]).toBe("# yaml-language-server: $schema=./inventory.schema.json");
      for (const line of text.split("\n").filter((l) => /^\s*[a-z_]*(password|webhook|token|secret)[a-z_]*:/.test(l))) {
        expect(line, line).toMatch(/\{ (env|vault): [A-Za-z0-9_.-]+ \}/);
      }
      // only documentation address ranges and example domains
      for (const ip of text.match(/\b\d+\.\d+\.\d+\.\d+\b/g) ?? [])
        expect(ip).toMatch(/^(192\.0\.2|198\.51\.100|203\.0\.113)\./);
    }
  });
});

describe("name resolution", () => {
  it("maps a bare name to inventories/<name>.yml or .yaml, lab to .lab/inventory.yml, else a path", async () => {
    await proj.write("inventories/a.yaml", MINIMAL);
    await proj.write(".lab/inventory.yml", MINIMAL.replace("staging", "lab"));
    await proj.write("elsewhere/b.yml", MINIMAL);
    const env = { DB_PW: "x" };
    expect((await loadInventory("a", { cwd: proj.dir, env })).file).toBe(path.join(proj.dir, "inventories/a.yaml"));
    const lab = await loadInventory("lab", { cwd: proj.dir, env });
    expect(lab.environment).toBe("lab");
    expect(lab.knownHostsFile).toBe(path.join(proj.dir, ".lab/known_hosts"));
    expect((await loadInventory("elsewhere/b.yml", { cwd: proj.dir, env })).file).toBe(
      path.join(proj.dir, "elsewhere/b.yml"),
    );
    const abs = path.join(proj.dir, "elsewhere/b.yml");
    expect((await loadInventory(abs, { cwd: "/", env })).file).toBe(abs);
    expect(await problemsOf(loadInventory("nope", { cwd: proj.dir, env }))).toEqual([
      "inventory nope: not found: expected inventories/nope.yml or inventories/nope.yaml (or give a path to a YAML file)",
    ]);
    expect(await problemsOf(loadInventory("x/missing.yml", { cwd: proj.dir, env }))).toEqual([
      "x/missing.yml: cannot read the inventory: no such file",
    ]);
  });
});

describe("every problem at once", () => {
  it("lists schema problems of the whole file as file: key.path: expected", async () => {
    await proj.write(
      "inventories/bad.yml",
      `environment: prod
vars:
  retention:
    daily_dayz: 7
  database:
    password: hunter2-plaintext
    port: "5432"
groups:
  web:
    hosts: [web1, web9]
hosts:
  web1:
    ssh: { host: 192.0.2.1, port: 70000 }
  web2:
    ssh: { host: 192.0.2.2, user: Deploy, prot: 22 }
  web3:
    ssh: { port: 22 }
`,
    );
    const problems = await problemsOf(loadInventory("bad", { cwd: proj.dir, env: {} }));
    expect(problems).toEqual([
      "inventories/bad.yml: environment: expected one of production, staging, lab",
      "inventories/bad.yml: vars.retention.daily_dayz: unknown key (did you mean daily_days?); expected one of daily_days, weekly_weeks, media_days, config_days, docker_volumes_days, pre_restore_days, keep_min, monthly_months, monthly_keep_min",
      "inventories/bad.yml: vars.database.password: expected a secret reference { env: NAME } or { vault: key } (secrets are never plaintext in an inventory)",
      "inventories/bad.yml: vars.database.port: expected a number between 1 and 65535, got a string",
      "inventories/bad.yml: hosts.web1.ssh.port: expected a number between 1 and 65535",
      "inventories/bad.yml: hosts.web2.ssh.user: expected a Unix user name (lowercase letters, digits, _ and -)",
      "inventories/bad.yml: hosts.web2.ssh.prot: unknown key (did you mean port?); expected one of host, port, user, private_key, become, connect_timeout_s, command_timeout_s, proxy_jump",
      "inventories/bad.yml: hosts.web3.ssh.host: required: expected a host name or IP address (or set ssh_config to look web3 up in an OpenSSH config)",
      "inventories/bad.yml: groups.web.hosts[1]: expected a host defined under hosts (web9 is not)",
    ]);
    expect(problems.join("\n")).not.toContain("hunter2");
  });

  it("rejects unknown keys at every level", async () => {
    await proj.write(
      "inv.yml",
      `${MINIMAL}colour: blue\n`.replace("vars:\n", "vars:\n  retension: { daily_days: 1 }\n"),
    );
    const problems = await problemsOf(loadInventory("inv.yml", { cwd: proj.dir, env: { DB_PW: "x" } }));
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^inv\.yml: vars\.retension: unknown key \(did you mean retention\?\)/);
    expect(problems[1]).toMatch(
      /^inv\.yml: colour: unknown key; expected one of environment, known_hosts, ssh_config, vault, vars, groups, hosts$/,
    );
  });

  it("rejects bad cron expressions", async () => {
    await proj.write(
      "inv.yml",
      MINIMAL.replace(
        "vars:\n",
        'vars:\n  schedule: { database: "0 25 * * *", media: "0 2 * *", check: "*/15 * * * *" }\n',
      ),
    );
    const problems = await problemsOf(loadInventory("inv.yml", { cwd: proj.dir, env: { DB_PW: "x" } }));
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(
      /^inv\.yml: vars\.schedule\.database: expected a valid cron expression: "0 25 \* \* \*"/,
    );
    expect(problems[1]).toBe(
      'inv.yml: vars.schedule.media: expected a 5-field cron expression (minute hour day month weekday), got "0 2 * *"',
    );
  });

  it("reports YAML syntax errors and duplicate keys with line numbers", async () => {
    await proj.write("broken.yml", "environment: staging\nhosts:\n  h1:\n    ssh: { host: 198.51.100.1\n");
    const p1 = await problemsOf(loadInventory("broken.yml", { cwd: proj.dir, env: {} }));
    expect(p1.length).toBeGreaterThan(0);
    for (const p of p1) expect(p).toMatch(/^broken\.yml: line \d+, column \d+: YAML syntax error: /);
    expect(p1[0]).toMatch(/line (4|5),/);
    await proj.write("dup.yml", "environment: staging\nhosts: {}\nenvironment: lab\n");
    const p2 = await problemsOf(loadInventory("dup.yml", { cwd: proj.dir, env: {} }));
    expect(p2).toHaveLength(1);
    expect(p2[0]).toMatch(/^dup\.yml: line 3, column 1: YAML syntax error: Map keys must be unique/);
    await proj.write("list.yml", "- a\n- b\n");
    expect(await problemsOf(loadInventory("list.yml", { cwd: proj.dir, env: {} }))).toEqual([
      "list.yml: expected a YAML map with environment, vars, groups and hosts at the top level",
    ]);
  });

  it("checks cross-field rules and says where each value came from", async () => {
    await proj.write(
      "inv.yml",
      `environment: staging
vars:
  database: { password: { env: DB_PW } }
  offsite: { enabled: true }
groups:
  web:
    hosts: [h1]
    vars:
      check: { disk_warning_percent: 95 }
hosts:
  h1:
    ssh: { host: 198.51.100.1 }
  h2:
    ssh: { host: 198.51.100.2 }
    vars:
      paths: { backup_dir: /var/www/cepcomunicacion/uploads/backups, cron_file: /etc/cron.d/cep.backup }
`,
    );
    const problems = await problemsOf(loadInventory("inv.yml", { cwd: proj.dir, env: { DB_PW: "x" } }));
    expect(problems).toEqual([
      "inv.yml: groups.web.vars.check.disk_warning_percent: expected less than check.disk_critical_percent (90, the built-in default), got 95",
      "inv.yml: vars.offsite.enabled: expected offsite.endpoint, offsite.bucket, offsite.access_key_id, offsite.secret_access_key to be set when offsite is enabled",
      "inv.yml: hosts.h2.vars.paths.backup_dir: expected paths.backup_dir and paths.media_dir not to contain one another (paths.media_dir is derived from app and prefix)",
      "inv.yml: hosts.h2.vars.paths.backup_dir: expected paths.backup_dir and paths.app_dir not to contain one another (paths.app_dir is derived from app and prefix)",
      "inv.yml: hosts.h2.vars.paths.cron_file: expected a file name of letters, digits, _ and - only (cron ignores cron.d files with other names, e.g. with a dot)",
    ]);
    // the same conflict made with -e is reported against -e
    await proj.write("ok.yml", MINIMAL);
    expect(
      await problemsOf(
        loadInventory("ok.yml", {
          cwd: proj.dir,
          env: { DB_PW: "x" },
          extraVars: parseExtraVars(["check.disk_critical_percent=50"]),
        }),
      ),
    ).toEqual([
      "-e: check.disk_critical_percent: expected more than check.disk_warning_percent (80, the built-in default), got 50",
    ]);
  });

  it("reports a required var nobody set once, or per host", async () => {
    await proj.write(
      "inv.yml",
      "environment: lab\nhosts:\n  a: { ssh: { host: 198.51.100.1 } }\n  b: { ssh: { host: 198.51.100.2 } }\n",
    );
    expect(await problemsOf(loadInventory("inv.yml", { cwd: proj.dir, env: {} }))).toEqual([
      "inv.yml: vars.database.password: required: expected a secret reference { env: NAME } or { vault: key } (secrets are never plaintext in an inventory) (set it in vars, a group's vars or each host's vars)",
    ]);
    await proj.write(
      "inv2.yml",
      "environment: lab\nhosts:\n  a: { ssh: { host: 198.51.100.1 } }\n  b:\n    ssh: { host: 198.51.100.2 }\n    vars: { database: { password: { env: PW } } }\n",
    );
    expect(await problemsOf(loadInventory("inv2.yml", { cwd: proj.dir, env: { PW: "x" } }))).toEqual([
      "inv2.yml: hosts.a.vars.database.password: required: expected a secret reference { env: NAME } or { vault: key } (secrets are never plaintext in an inventory) (set it here, in one of the host's groups' vars or in vars)",
    ]);
  });

  it("reports bad -e values against -e, without the value", async () => {
    await proj.write("ok.yml", MINIMAL);
    const extraVars = parseExtraVars(["retention.daily_days=0", "database.password=S3cr3t!pw", "nosuch=1"]);
    expect(await problemsOf(loadInventory("ok.yml", { cwd: proj.dir, env: { DB_PW: "x" }, extraVars }))).toEqual([
      "-e: database.password: expected a secret reference { env: NAME } or { vault: key } (secrets are never plaintext in an inventory)",
      "-e: retention.daily_days: expected a whole number of at least 1",
      expect.stringMatching(/^-e: nosuch: unknown key; expected one of app, prefix, /),
    ]);
  });
});

describe("secrets", () => {
  it("a missing env secret is an InputError naming the file, key path and variable", async () => {
    await proj.write("inventories/prod.yml", MINIMAL.replace("DB_PW", "STAGING_DB_PASSWORD"));
    const err = await loadInventory("prod", { cwd: proj.dir, env: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).problems).toEqual([
      "inventories/prod.yml: vars.database.password: environment variable STAGING_DB_PASSWORD is not set",
    ]);
    expect(await problemsOf(loadInventory("prod", { cwd: proj.dir, env: { STAGING_DB_PASSWORD: "" } }))).toEqual([
      "inventories/prod.yml: vars.database.password: environment variable STAGING_DB_PASSWORD is empty",
    ]);
  });

  it("a secret ref in a higher layer replaces the lower one (refs never merge)", async () => {
    await proj.write(
      "inv.yml",
      MINIMAL.replace(
        "ssh: { host: 198.51.100.1 }",
        "ssh: { host: 198.51.100.1 }\n    vars: { database: { password: { env: HOST_PW } } }",
      ),
    );
    const inv = await loadInventory("inv.yml", { cwd: proj.dir, env: { HOST_PW: "host-pw" } }); // DB_PW unset: not needed
    expect(inv.hosts[0]!.vars.database.password).toBe("host-pw");
    expect(inv.secrets).toEqual(["host-pw"]);
  });

  it("resolves webhook secrets, keeps plain URLs and checks resolved values without showing them", async () => {
    await proj.write(
      "inv.yml",
      MINIMAL.replace(
        "vars:\n",
        "vars:\n  alerts: { slack_webhook: { env: SLACK }, discord_webhook: https://discord.example/api/webhooks/1, healthcheck_url: { env: HC } }\n",
      ),
    );
    const env = { DB_PW: "pw", SLACK: "https://hooks.slack.example/T1/B2/abc", HC: "https://hc.example/ping/uuid" };
    const inv = await loadInventory("inv.yml", { cwd: proj.dir, env });
    expect(inv.hosts[0]!.vars.alerts).toEqual({
      slack_webhook: env.SLACK,
      discord_webhook: "https://discord.example/api/webhooks/1",
      healthcheck_url: env.HC,
    });
    expect([...inv.secrets].sort()).toEqual([env.HC, env.SLACK, "pw"].sort());
    const bad = { ...env, SLACK: "not a url with s3cr3tTOKEN", DB_PW: "line1\nline2-s3cr3tPW" };
    const problems = await problemsOf(loadInventory("inv.yml", { cwd: proj.dir, env: bad }));
    expect(problems).toEqual([
      "inv.yml: vars.database.password: expected environment variable DB_PW to hold a password without newlines or control characters (value not shown)",
      "inv.yml: vars.alerts.slack_webhook: expected environment variable SLACK to hold an http(s) URL without spaces or quotes (value not shown)",
    ]);
    expect(problems.join("\n")).not.toMatch(/s3cr3t/);
  });

  it("never puts a resolved secret into an error message", async () => {
    const pw = `P@ss: \\ ' " $ ! ünï`;
    await proj.write(
      "inv.yml",
      `environment: staging
vars:
  database: { password: { env: DB_PW } }
  retention: { daily_days: -1 }
hosts:
  h1: { ssh: { host: 198.51.100.1 } }
  h2: { ssh: { host: 198.51.100.2 }, vars: { alerts: { slack_webhook: { env: MISSING } } } }
`,
    );
    const problems = await problemsOf(loadInventory("inv.yml", { cwd: proj.dir, env: { DB_PW: pw } }));
    expect(problems.length).toBeGreaterThan(0);
    const all = problems.join("\n");
    expect(all).not.toContain(pw);
    expect(all).not.toContain("P@ss");
  });
});

describe("strings survive loading unchanged", () => {
  it("non-ASCII paths and a password with : \\ ' \" $ !", async () => {
    const nonAscii = await tempProject("inv-ñandú-备份-");
    try {
      const pw = `a:b\\c'd"e$f!g ${"$"}{HOME} ñ 密码`;
      await nonAscii.write(
        "inventories/producción.yml",
        `environment: staging
known_hosts: claves/known_hosts
vars:
  prefix: /srv/lab ñandú/备份
  database: { password: { env: DB_PW } }
  paths: { media_dir: /datos/subidas ü }
  config_files: [config/ñ.env, "nginx/*.conf"]
hosts:
  h-1.example:
    ssh: { host: 198.51.100.1, private_key: claves/clé ü }
`,
      );
      const inv = await loadInventory("producción", { cwd: nonAscii.dir, env: { DB_PW: pw } });
      const h = inv.hosts[0]!;
      expect(h.name).toBe("h-1.example");
      expect(h.vars.database.password).toBe(pw);
      expect(inv.secrets).toEqual([pw]);
      expect(h.vars.prefix).toBe("/srv/lab ñandú/备份");
      expect(h.vars.paths.backup_dir).toBe("/srv/lab ñandú/备份/var/backups/cepcomunicacion");
      expect(h.vars.paths.media_dir).toBe("/datos/subidas ü");
      expect(h.vars.config_files).toEqual(["config/ñ.env", "nginx/*.conf"]);
      expect(h.ssh.private_key).toBe(path.join(nonAscii.dir, "inventories", "claves/clé ü"));
      expect(inv.knownHostsFile).toBe(path.join(nonAscii.dir, "inventories", "claves/known_hosts"));
      expect(inv.file).toBe(path.join(nonAscii.dir, "inventories/producción.yml"));
    } finally {
      await nonAscii.cleanup();
    }
  });
});

describe("ssh paths", () => {
  it("expands ~, resolves relative keys and known_hosts beside the inventory, keeps absolute ones", async () => {
    await proj.write(
      "sub/dir/inv.yml",
      `environment: staging
known_hosts: ~/kh
vars: { database: { password: { env: DB_PW } } }
hosts:
  a: { ssh: { host: 198.51.100.1, private_key: ~/.ssh/id_a } }
  b: { ssh: { host: 198.51.100.2, private_key: keys/id_b } }
  c: { ssh: { host: 198.51.100.3, private_key: /etc/keys/id_c } }
  d: { ssh: { host: 198.51.100.4 } }
`,
    );
    const inv = await loadInventory("sub/dir/inv.yml", { cwd: proj.dir, env: { DB_PW: "x" } });
    expect(inv.knownHostsFile).toBe(path.join(os.homedir(), "kh"));
    expect(inv.hosts.map((h) => h.ssh.private_key)).toEqual([
      path.join(os.homedir(), ".ssh/id_a"),
      path.join(proj.dir, "sub/dir/keys/id_b"),
      "/etc/keys/id_c",
      undefined,
    ]);
    expect(inv.hosts[3]!.ssh).toEqual({
      host: "198.51.100.4",
      port: 22,
      user: "root",
      become: false,
      connect_timeout_s: 10,
      command_timeout_s: 600,
      jump: [],
    });
  });

  it("keeps the inventory's host order even for integer-like names", async () => {
    await proj.write(
      "inv.yml",
      MINIMAL.replace(
        "hosts:\n",
        "hosts:\n  zeta: { ssh: { host: 198.51.100.9 } }\n  10: { ssh: { host: 198.51.100.10 } }\n",
      ),
    );
    const inv = await loadInventory("inv.yml", { cwd: proj.dir, env: { DB_PW: "x" } });
    expect(inv.hosts.map((h) => h.name)).toEqual(["zeta", "10", "h1"]);
  });
});
