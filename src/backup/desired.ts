// The backup system as desired state: which packages, user, directories and files (the installed
// scripts copied byte for byte from templates/scripts, the config rendered from templates/*.hbs,
// with which modes and owners, validated how) a host must have. Pure: vars in, state out; the
// operations compare it with facts.
import { dirname } from "node:path";
import type { ResolvedVars } from "../inventory/types.ts";
import { offsiteConfigFile, templateContext } from "./context.ts";
import type { Renderer } from "../render/render.ts";
import { installedScripts, MANAGED_BY } from "../render/files.ts";
import { shellAssignments, shellQuote } from "../render/quote.ts";

/** Tags select parts of a run (`--tags` / `--skip-tags`). */
export const TAGS = ["packages", "user", "dirs", "scripts", "config", "cron", "logrotate", "smoke"] as const;
export type Tag = (typeof TAGS)[number];

export interface DesiredDir {
  path: string;
  mode: number;
  owner: string;
  group: string;
  tags: Tag[];
  /** An owner change applies to everything inside (trees the backup user writes into). */
  recurse?: boolean;
  /** A system directory (/etc/cron.d, /var/run): created when missing, never re-moded or re-owned. */
  ensureOnly?: boolean;
}

export interface DesiredFile {
  path: string;
  content: string;
  mode: number;
  owner: string;
  group: string;
  tags: Tag[];
  /** Shell command run on the uploaded temp file before it replaces the old one; `{}` is its path. */
  validate?: string;
  /** Holds a secret: its diff is masked as a whole, not just the secret values. */
  secret?: boolean;
  /** `KEY=value` lines whose values are secrets: masked on both sides of a diff. */
  secretKeys?: string[];
  /** Where it comes from (for messages): a templates/ path, or "generated". */
  template: string;
}

export interface DesiredState {
  packages: string[];
  /** A dedicated system user to create, when backup_user is not root. */
  user?: string;
  dirs: DesiredDir[];
  files: DesiredFile[];
}

/** The spec's "Directory Structure" under backup_dir (root 0700: the backups hold secrets). */
export function backupSubdirs(backupDir: string): string[] {
  return [
    backupDir,
    `${backupDir}/database`,
    `${backupDir}/database/weekly`,
    `${backupDir}/database/monthly`,
    `${backupDir}/database/pre-restore`,
    `${backupDir}/media`,
    `${backupDir}/media/pre-restore`,
    `${backupDir}/config`,
    `${backupDir}/config/pre-restore`,
    `${backupDir}/.locks`,
  ];
}

export function desiredState(vars: ResolvedVars, renderer: Renderer): DesiredState {
  const ctx = templateContext(vars);
  const u = vars.backup_user;
  const p = vars.paths;
  // A rollout of any file also makes sure the tree it lands in and refers to exists (a cron line
  // appending to a log dir that is missing would never run): directories carry every file tag.
  const dir = (
    path: string,
    mode: number,
    owner: string,
    tags: Tag[] = ["dirs", "scripts", "config", "cron", "logrotate"],
  ): DesiredDir => ({ path, mode, owner, group: owner, tags });

  const dirs: DesiredDir[] = [
    ...backupSubdirs(p.backup_dir).map((d) => ({ ...dir(d, 0o700, u), recurse: d === p.backup_dir })),
    // The spec's optional docker-volumes/ folder, when there are volumes to back up.
    ...(vars.docker_volumes.length
      ? [`${p.backup_dir}/docker-volumes`, `${p.backup_dir}/docker-volumes/pre-restore`].map((d) => dir(d, 0o700, u))
      : []),
    { ...dir(p.log_dir, 0o755, u), recurse: true },
    dir(p.scripts_dir, 0o755, "root"),
    dir(`${p.scripts_dir}/lib`, 0o755, "root"),
    dir(dirname(p.config_file), 0o755, "root"),
  ];
  // Directories that files land in must exist; system ones (/etc/cron.d, /var/run) are created only
  // under a prefix, and then owned by root with the usual mode.
  // A dedicated backup user replaces the status file atomically, so it owns the file's directory
  // (unless that is a system directory such as /var/run, kept for root).
  if (u !== "root" && !["/run", "/var/run", "/tmp"].includes(dirname(p.status_file).slice(vars.prefix.length))) {
    dirs.push(dir(dirname(p.status_file), 0o755, u));
  }
  // The backup user's state (failure counts, the last drill): persistent, its own.
  if (!dirs.some((d) => d.path === p.state_dir)) dirs.push(dir(p.state_dir, 0o755, u));
  const have = new Set(dirs.map((d) => d.path));
  // node_exporter's textfile directory usually exists (owned by its package): made only when
  // missing, then the backup user's, which writes the metrics file there.
  if (vars.metrics.textfile_dir !== undefined && !have.has(vars.metrics.textfile_dir)) {
    dirs.push({ ...dir(vars.metrics.textfile_dir, 0o755, u), ensureOnly: true });
    have.add(vars.metrics.textfile_dir);
  }
  for (const extra of [
    dirname(p.pgpass_file),
    dirname(p.status_file),
    dirname(p.cron_file),
    dirname(p.logrotate_file),
  ]) {
    if (!have.has(extra)) {
      dirs.push({ ...dir(extra, 0o755, "root"), ensureOnly: true });
      have.add(extra);
    }
  }

  const files: DesiredFile[] = [
    {
      // The one value the library needs before it can read backup.conf: where backup.conf is.
      path: `${p.scripts_dir}/lib/host.sh`,
      content: hostLib(p.config_file),
      mode: 0o644,
      owner: "root",
      group: "root",
      tags: ["scripts", "config"],
      validate: "bash -n {}",
      template: "generated",
    },
  ];
  // The scripts as they are in the repo; the library (sourced, never run) is not executable. The
  // apply script writes in this order: lib/ first, then backup-lib.sh, then the scripts, so a cron
  // job starting during an upgrade never finds a library whose parts are not there yet.
  const rank = (name: string) => (name.startsWith("lib/") ? 0 : name === "backup-lib.sh" ? 1 : 2);
  const scripts = installedScripts(renderer.dir).sort((a, b) => rank(a.name) - rank(b.name));
  for (const script of scripts) {
    const isLib = script.name === "backup-lib.sh" || script.name.startsWith("lib/");
    files.push({
      path: `${p.scripts_dir}/${script.name}`,
      content: script.content,
      mode: isLib ? 0o644 : 0o755,
      owner: "root",
      group: "root",
      tags: ["scripts"],
      validate: "bash -n {}",
      template: `scripts/${script.name}`,
    });
  }
  files.push(
    {
      // Before backup.conf: its new connection values are checked with the new pgpass file.
      path: p.pgpass_file,
      content: renderer.render("pgpass.hbs", ctx),
      mode: 0o600,
      owner: u,
      group: u,
      tags: ["config"],
      secret: true,
      // Log in with it before it replaces the working one (the old file stays on a wrong password).
      ...(vars.database.check_login
        ? {
            validate: [
              "cep_pg_login {}",
              ...[vars.database.host, vars.database.port, vars.database.user, vars.database.name, u].map((x) =>
                shellQuote(String(x)),
              ),
            ].join(" "),
          }
        : {}),
      template: "pgpass.hbs",
    },
    {
      // Sourced by every script, restores run as root included: root's to write, the backup
      // user's group may only read it (a user-writable file root sources is a root shell).
      path: p.config_file,
      content: renderer.render("backup.conf.hbs", ctx),
      mode: u === "root" ? 0o600 : 0o640,
      owner: "root",
      group: u,
      tags: ["config"],
      // Its connection values, when they change, must log in (with the pgpass file written above).
      validate: vars.database.check_login
        ? `bash -n {} && cep_conf_login {} ${shellQuote(p.config_file)} ${shellQuote(u)}`
        : "bash -n {}",
      // Webhook and healthcheck URLs carry tokens.
      secretKeys: [
        "SMTP_PASSWORD",
        "SLACK_WEBHOOK",
        "DISCORD_WEBHOOK",
        "HEALTHCHECK_URL",
        ...["DATABASE", "WEEKLY", "MEDIA", "CONFIG", "DOCKER_VOLUMES"].map((k) => `HEALTHCHECK_URL_${k}`),
      ],
      template: "backup.conf.hbs",
    },
    {
      path: p.cron_file,
      content: renderer.render("cron.hbs", ctx),
      mode: 0o644,
      owner: "root",
      group: "root",
      tags: ["config", "cron"],
      template: "cron.hbs",
    },
    {
      path: p.logrotate_file,
      content: renderer.render("logrotate.hbs", ctx),
      mode: 0o644,
      owner: "root",
      group: "root",
      tags: ["config", "logrotate"],
      // -d: debug/dry run, parses the file and rotates nothing.
      validate: "logrotate -d {}",
      template: "logrotate.hbs",
    },
  );
  if (vars.offsite.enabled) {
    files.push({
      // The off-site credentials: the backup user's alone (like pgpass), never in backup.conf.
      path: offsiteConfigFile(p),
      content: renderer.render("rclone.conf.hbs", ctx),
      mode: 0o600,
      owner: u,
      group: u,
      tags: ["config"],
      secret: true,
      template: "rclone.conf.hbs",
    });
  }
  // rclone copies off-site; age encrypts (the config archives whenever recipients are set). A host
  // whose drills restore another inventory's off-site copy (drill.source) reads it with rclone and
  // decrypts it with age.
  const fromSource = vars.drill.source !== undefined;
  const extra = [
    ...(vars.offsite.enabled || fromSource ? ["rclone"] : []),
    ...(vars.encryption.recipients.length > 0 || fromSource ? ["age"] : []),
  ];
  return {
    packages: [...new Set([...vars.packages, ...extra])],
    user: u === "root" ? undefined : u,
    dirs,
    files,
  };
}

/** lib/host.sh: sourced by backup-lib.sh first, to find backup.conf (BACKUP_CONF overrides it). */
export function hostLib(configFile: string): string {
  return [
    "# shellcheck shell=bash disable=SC2034",
    `# ${MANAGED_BY}`,
    "# Written by the provisioner for this host: where backup-lib.sh finds backup.conf (BACKUP_CONF",
    "# in the environment overrides it). Every other setting is in backup.conf.",
    shellAssignments({ LIB_DEFAULT_CONF: configFile }),
  ].join("\n");
}
