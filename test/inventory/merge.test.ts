// Vars precedence and path derivation, through the loader; mergeMaps on its own.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_VARS } from "../../src/inventory/defaults.ts";
import { loadInventory } from "../../src/inventory/load.ts";
import { parseExtraVars } from "../../src/inventory/extra-vars.ts";
import { mergeMaps } from "../../src/inventory/merge.ts";
import { tempProject } from "./helpers.ts";

let proj: Awaited<ReturnType<typeof tempProject>>;
beforeEach(async () => {
  proj = await tempProject();
});
afterEach(async () => {
  await proj.cleanup();
});

// Groups appear in the file as `late` AFTER `early`; h-both is listed in `late` first on purpose:
// file order of the groups decides, not the order within a host's membership.
const PRECEDENCE = `environment: staging
vars:
  database: { password: { env: DB_PW } }
  retention: { daily_days: 10 }
  schedule: { check: "0 * * * *" }
  media_excludes: [a, b]
groups:
  early:
    hosts: [h-early, h-both]
    vars:
      retention: { daily_days: 11, weekly_weeks: 5 }
      media_excludes: [c]
  late:
    hosts: [h-both, h-late]
    vars:
      retention: { daily_days: 12 }
hosts:
  h-none: { ssh: { host: 198.51.100.1 } }
  h-early: { ssh: { host: 198.51.100.2 } }
  h-both: { ssh: { host: 198.51.100.3 } }
  h-late: { ssh: { host: 198.51.100.4 } }
  h-host:
    ssh: { host: 198.51.100.5 }
    vars:
      retention: { daily_days: 13 }
      schedule: { check: "5 * * * *" }
`;

describe("precedence", () => {
  it("defaults < inventory vars < group vars (file order) < host vars, maps merged key by key", async () => {
    await proj.write("inv.yml", PRECEDENCE);
    const inv = await loadInventory("inv.yml", { cwd: proj.dir, env: { DB_PW: "x" } });
    const by = Object.fromEntries(inv.hosts.map((h) => [h.name, h.vars]));
    expect(inv.hosts.map((h) => [h.name, h.groups])).toEqual([
      ["h-none", []],
      ["h-early", ["early"]],
      ["h-both", ["early", "late"]],
      ["h-late", ["late"]],
      ["h-host", []],
    ]);
    expect(by["h-none"]!.retention).toEqual({ ...DEFAULT_VARS.retention, daily_days: 10 });
    expect(by["h-early"]!.retention).toEqual({ ...DEFAULT_VARS.retention, daily_days: 11, weekly_weeks: 5 });
    expect(by["h-both"]!.retention).toEqual({ ...DEFAULT_VARS.retention, daily_days: 12, weekly_weeks: 5 });
    expect(by["h-late"]!.retention).toEqual({ ...DEFAULT_VARS.retention, daily_days: 12 });
    expect(by["h-host"]!.retention).toEqual({ ...DEFAULT_VARS.retention, daily_days: 13 });
    // map merge keeps the other defaults of the same map
    expect(by["h-host"]!.schedule).toEqual({ ...DEFAULT_VARS.schedule, check: "5 * * * *" });
    expect(by["h-none"]!.schedule).toEqual({ ...DEFAULT_VARS.schedule, check: "0 * * * *" });
    expect(by["h-none"]!.check).toEqual(DEFAULT_VARS.check);
    expect(by["h-none"]!.database).toEqual({ ...DEFAULT_VARS.database, password: "x" });
    // lists replace, they do not concatenate
    expect(by["h-none"]!.media_excludes).toEqual(["a", "b"]);
    expect(by["h-early"]!.media_excludes).toEqual(["c"]);
    expect(by["h-none"]!.config_files).toEqual(DEFAULT_VARS.config_files);
    expect(by["h-none"]!.environment).toBe("staging");
  });

  it("-e wins over every layer, with dotted keys setting nested values", async () => {
    await proj.write("inv.yml", PRECEDENCE);
    const extraVars = parseExtraVars(["retention.daily_days=7", "offsite.enabled=false", "schedule.media=15 4 * * *"]);
    const inv = await loadInventory("inv.yml", { cwd: proj.dir, env: { DB_PW: "x" }, extraVars });
    for (const h of inv.hosts) {
      expect(h.vars.retention.daily_days).toBe(7);
      expect(h.vars.schedule.media).toBe("15 4 * * *");
    }
    const both = inv.hosts.find((h) => h.name === "h-both")!;
    expect(both.vars.retention).toEqual({ ...DEFAULT_VARS.retention, daily_days: 7, weekly_weeks: 5 });
    expect(inv.hosts.find((h) => h.name === "h-host")!.vars.schedule.check).toBe("5 * * * *");
  });
});

describe("paths", () => {
  it("prefix is prepended to every default path, explicit paths are kept as written", async () => {
    await proj.write(
      "inv.yml",
      `environment: lab
vars:
  app: myapp
  prefix: /srv/lab/h1
  database: { password: { env: DB_PW } }
hosts:
  derived: { ssh: { host: 127.0.0.1 } }
  explicit:
    ssh: { host: 127.0.0.1 }
    vars:
      paths: { app_dir: /opt/site, backup_dir: /data/backups }
  media:
    ssh: { host: 127.0.0.1 }
    vars:
      paths: { media_dir: /data/uploads }
`,
    );
    const inv = await loadInventory("inv.yml", { cwd: proj.dir, env: { DB_PW: "x" } });
    const [derived, explicit, media] = inv.hosts;
    expect(derived!.vars.paths).toEqual({
      backup_dir: "/srv/lab/h1/var/backups/myapp",
      log_dir: "/srv/lab/h1/var/log/myapp",
      // The spec's /infra/backup/scripts is the default app's; another app gets its own, so two
      // apps on one host do not overwrite each other's scripts (issue 11, finding 13).
      scripts_dir: "/srv/lab/h1/infra/backup/myapp/scripts",
      config_file: "/srv/lab/h1/etc/myapp/backup.conf",
      pgpass_file: "/srv/lab/h1/etc/myapp/backup.pgpass",
      status_file: "/srv/lab/h1/var/run/myapp-backup-status.json",
      app_dir: "/srv/lab/h1/var/www/myapp",
      media_dir: "/srv/lab/h1/var/www/myapp/uploads",
      cron_file: "/srv/lab/h1/etc/cron.d/myapp-backup",
      logrotate_file: "/srv/lab/h1/etc/logrotate.d/myapp-backup",
      state_dir: "/srv/lab/h1/var/lib/myapp-backup",
    });
    expect(explicit!.vars.paths.app_dir).toBe("/opt/site");
    expect(explicit!.vars.paths.media_dir).toBe("/opt/site/uploads"); // from the explicit app_dir, not prefixed twice
    expect(explicit!.vars.paths.backup_dir).toBe("/data/backups");
    expect(explicit!.vars.paths.log_dir).toBe("/srv/lab/h1/var/log/myapp");
    expect(media!.vars.paths.media_dir).toBe("/data/uploads");
    expect(media!.vars.paths.app_dir).toBe("/srv/lab/h1/var/www/myapp");
  });

  it("-e prefix and app re-derive the paths", async () => {
    await proj.write(
      "inv.yml",
      "environment: lab\nvars: { database: { password: { env: DB_PW } } }\nhosts:\n  a: { ssh: { host: 127.0.0.1 } }\n",
    );
    const inv = await loadInventory("inv.yml", {
      cwd: proj.dir,
      env: { DB_PW: "x" },
      extraVars: parseExtraVars(["prefix=/tmp/x", "app=other"]),
    });
    expect(inv.hosts[0]!.vars.paths.backup_dir).toBe("/tmp/x/var/backups/other");
    expect(inv.hosts[0]!.vars.paths.cron_file).toBe("/tmp/x/etc/cron.d/other-backup");
    expect(inv.hosts[0]!.vars.paths.scripts_dir).toBe("/tmp/x/infra/backup/other/scripts");
    const spec = await loadInventory("inv.yml", { cwd: proj.dir, env: { DB_PW: "x" } });
    expect(spec.hosts[0]!.vars.paths.scripts_dir).toBe("/infra/backup/scripts");
  });
});

describe("mergeMaps", () => {
  it("merges maps, replaces lists and secret refs, does not modify its inputs", () => {
    const base = { database: { password: { env: "A" }, port: 1 }, media_excludes: ["a"], retention: { daily_days: 1 } };
    const over = { database: { password: { vault: "b" } }, media_excludes: ["b"], retention: { keep_min: 2 } };
    const snapshot = structuredClone(base);
    expect(mergeMaps(base, over)).toEqual({
      database: { password: { vault: "b" }, port: 1 },
      media_excludes: ["b"],
      retention: { daily_days: 1, keep_min: 2 },
    });
    expect(base).toEqual(snapshot);
  });
});
