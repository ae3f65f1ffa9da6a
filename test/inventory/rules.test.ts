// Cross-field rules on merged vars, called directly on layers (no inventory file): which value is
// blamed, and where it is reported.
import { describe, expect, it } from "vitest";
import { cronFileProblems } from "../../src/backup/validate.ts";
import { mergeHostVars, type VarsSource } from "../../src/inventory/merge.ts";
import { cronFileNameProblem } from "../../src/inventory/rules.ts";

const base: VarsSource = { keyPrefix: "vars", file: "inv.yml", vars: { database: { password: { env: "PW" } } } };
const problems = (...layers: VarsSource[]) => mergeHostVars([base, ...layers], "inv.yml", "hosts.h1.vars").problems;
const host = (vars: VarsSource["vars"]): VarsSource => ({ keyPrefix: "hosts.h1.vars", file: "inv.yml", vars });
const group = (vars: VarsSource["vars"]): VarsSource => ({ keyPrefix: "groups.web.vars", file: "inv.yml", vars });
const extra = (vars: VarsSource["vars"]): VarsSource => ({ keyPrefix: "-e", file: "-e", vars });

describe("cross-field rules", () => {
  it("accept the defaults", () => expect(problems()).toEqual([]));

  it("blame the value set in the later layer, and name where the other came from", () => {
    expect(
      problems(
        { ...base, vars: { ...base.vars, check: { disk_critical_percent: 70 } } },
        group({ check: { disk_warning_percent: 75 } }),
      ),
    ).toEqual([
      "inv.yml: groups.web.vars.check.disk_warning_percent: expected less than check.disk_critical_percent (70, from vars), got 75",
    ]);
    expect(
      problems(group({ check: { disk_warning_percent: 75 } }), extra({ check: { disk_critical_percent: 70 } })),
    ).toEqual([
      "-e: check.disk_critical_percent: expected more than check.disk_warning_percent (75, from groups.web.vars), got 70",
    ]);
  });

  it("keep the log directory out of the backup directory", () => {
    expect(problems(host({ paths: { log_dir: "/var/backups/cepcomunicacion/logs" } }))).toEqual([
      "inv.yml: hosts.h1.vars.paths.log_dir: expected paths.log_dir outside paths.backup_dir",
    ]);
  });

  it("give every managed file its own path", () => {
    expect(problems(extra({ paths: { status_file: "/etc/cepcomunicacion/backup.conf" } }))).toEqual([
      "-e: paths.status_file: expected a different file than paths.config_file",
    ]);
  });
});

describe("alerts, SMTP and Docker volumes", () => {
  it("refuse alerts.email with no way to send it, naming the key", () => {
    expect(problems(host({ alerts: { email: "ops@example.com" } }))).toEqual([
      "inv.yml: hosts.h1.vars.alerts.email: expected alerts.smtp.url and alerts.smtp.from to be set: the hosts have no mail server, alerts are mailed with curl over SMTP (or remove alerts.email)",
    ]);
    expect(
      problems(host({ alerts: { email: "ops@example.com", smtp: { url: "smtps://mail.example.com:465" } } })),
    ).toEqual([
      "inv.yml: hosts.h1.vars.alerts.email: expected alerts.smtp.from to be set: the hosts have no mail server, alerts are mailed with curl over SMTP (or remove alerts.email)",
    ]);
    expect(
      problems(
        group({ alerts: { smtp: { url: "smtp://mail.example.com:587", from: "b@example.com" } } }),
        host({ alerts: { email: "ops@example.com" } }),
      ),
    ).toEqual([]);
  });

  it("want an SMTP user and password together", () => {
    const smtp = { url: "smtps://mail.example.com", from: "b@example.com" };
    expect(problems(host({ alerts: { smtp: { ...smtp, user: "b@example.com" } } }))).toEqual([
      "inv.yml: hosts.h1.vars.alerts.smtp.user: expected alerts.smtp.password (a secret) with alerts.smtp.user",
    ]);
    expect(problems(host({ alerts: { smtp: { ...smtp, password: { env: "SMTP_PW" } } } }))).toEqual([
      "inv.yml: hosts.h1.vars.alerts.smtp.password: expected alerts.smtp.user with alerts.smtp.password",
    ]);
  });

  it("want root for Docker volumes, and each volume once (the media volume is the media job's)", () => {
    expect(problems(host({ backup_user: "backup", media_volume: "app_uploads" }))).toEqual([
      "inv.yml: hosts.h1.vars.media_volume: expected backup_user root (it is backup): a volume's data under the engine's data root is readable by root only, and access to the engine's socket is root anyway",
    ]);
    expect(
      problems(host({ media_volume: "app_uploads", docker_volumes: ["app_certs", "app_uploads", "app_certs"] })),
    ).toEqual([
      "inv.yml: hosts.h1.vars.docker_volumes: expected app_uploads only once: it is media_volume, which the media job already backs up (incremental snapshots)",
      "inv.yml: hosts.h1.vars.docker_volumes: expected each volume once (app_certs is listed twice)",
    ]);
  });
});

describe("the cron file name: one rule for the inventory and the rendered file", () => {
  const good = "0 2 * * * root /x/backup-database.sh\n";
  for (const [name, ok] of [
    ["cepcomunicacion-backup", true],
    ["A_b-9", true],
    ["app.backup", false],
    ["app backup", false],
    ["app~", false],
    ["äpp", false],
    ["app-backup.dpkg-old", false],
  ] as const) {
    it(`${name}: ${ok ? "accepted" : "rejected"}`, () => {
      const file = `/etc/cron.d/${name}`;
      expect(cronFileNameProblem(file) === undefined).toBe(ok);
      expect(cronFileProblems(file, good)).toEqual(ok ? [] : [`${file}: ${cronFileNameProblem(file)}`]);
      expect(problems(host({ paths: { cron_file: file } }))).toEqual(
        ok ? [] : [`inv.yml: hosts.h1.vars.paths.cron_file: ${cronFileNameProblem(file)}`],
      );
    });
  }
});
