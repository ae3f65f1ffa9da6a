// The inventory contract as zod schemas: what an operator may write, validated before any host is
// contacted. Names that end up in paths, SQL or shell are constrained here, so later code trusts them.
import { z } from "zod";
import { cronExpressionProblem } from "./cron.ts";
import { shown } from "./shown.ts";
import { jumpSpecsProblems } from "../connection/jump.ts";

// One parse per run: zod's compiled fast path costs more to generate than it saves (~50 ms a start).
z.config({ jitless: true });

/** A lowercase SQL/filename-safe identifier (app, database and role names). */
export const identifier = z
  .string()
  .regex(
    /^[a-z_][a-z0-9_]{0,62}$/,
    "a lowercase identifier: letters, digits and _ (at most 63), not starting with a digit",
  );

/** A Unix user (or user:group) name as useradd accepts it. */
export const unixUser = z
  .string()
  .regex(/^[a-z_][a-z0-9_-]{0,31}$/, "a Unix user name (lowercase letters, digits, _ and -)");
export const unixOwner = z
  .string()
  .regex(/^[a-z_][a-z0-9_-]{0,31}(:[a-z_][a-z0-9_-]{0,31})?$/, "a Unix owner: user or user:group");

const noControl = (s: string) => !/[\u0000-\u001f\u007f]/.test(s);

/** An absolute path without control characters (non-ASCII is fine), no `..` segments, no trailing slash. */
export const absPath = z
  .string()
  .refine((s) => s.startsWith("/"), "an absolute path (starting with /)")
  .refine(noControl, "a path without control characters or newlines")
  .refine((s) => !s.split("/").includes(".."), "a path without .. segments")
  .refine((s) => s === "/" || !s.endsWith("/"), "a path without a trailing slash");

/** A path relative to the app directory; globs allowed. */
export const relPath = z
  .string()
  .min(1)
  .refine((s) => !s.startsWith("/"), "a path relative to app_dir (no leading /)")
  .refine(noControl, "a path without control characters or newlines")
  .refine((s) => !s.split("/").includes(".."), "a path without .. segments");

/** A 5-field cron expression as Debian's cron reads it (src/inventory/cron.ts: one rule with the cron.d file check). */
export const cronExpression = z.string().superRefine((s, ctx) => {
  const fields = s.trim().split(/\s+/);
  if (fields.length !== 5 || !noControl(s)) {
    ctx.addIssue({
      code: "custom",
      message: `a 5-field cron expression (minute hour day month weekday), got ${shown(s)}`,
    });
    return;
  }
  const problem = cronExpressionProblem(s);
  if (problem) ctx.addIssue({ code: "custom", message: `a valid cron expression: ${shown(s)}: ${problem}` });
});

/** A secret is never plaintext: an environment variable or a key of the encrypted vault. */
export const secretRef = z.union([
  z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name") }),
  z.strictObject({ vault: z.string().regex(/^[A-Za-z0-9_.-]+$/, "a vault key (letters, digits, _ . -)") }),
]);
export type SecretRef = z.infer<typeof secretRef>;

// No control characters either: a NUL cannot live in a shell variable (the host would read a cut URL).
const httpUrl = z
  .string()
  .regex(/^https?:\/\/[^\s'"`\\]+$/, "an http(s) URL without spaces or quotes")
  .refine(noControl, "an http(s) URL without control characters");
/** Webhook URLs carry tokens: plain http URL or a secret reference. */
const urlOrSecret = z.union([httpUrl, secretRef]);

// ---- the vars tree ---------------------------------------------------------------------------
// Each layer (inventory vars, group vars, host vars, -e) is a deep-partial of this; the merged
// result is validated again as a whole with defaults applied (see vars.ts).

export const databaseVars = z.strictObject({
  name: identifier,
  user: identifier,
  host: z.string().regex(/^[A-Za-z0-9.:_-]+$/, "a host name or IP address"),
  port: z.number().int().min(1).max(65535),
  password: secretRef,
  /**
   * A new pgpass file (and backup.conf's changed connection values) logs in before it replaces the
   * working one. false only where the database does not exist yet: a host provisioned before its
   * database, the bench's sshd-only hosts.
   */
  check_login: z.boolean(),
  /**
   * 1 (the default): one pg_dump -Fc process. N ≥ 2: pg_dump -Fd -j N (N tables dumped and
   * compressed at once, for a large database on several CPUs), archived into one .dump file (an
   * uncompressed tar) that is checksummed, verified and restored (pg_restore -j) like any other.
   */
  dump_jobs: z.number().int().min(1).max(32),
});

export const pathVars = z.strictObject({
  backup_dir: absPath,
  log_dir: absPath,
  scripts_dir: absPath,
  config_file: absPath,
  pgpass_file: absPath,
  status_file: absPath,
  app_dir: absPath,
  media_dir: absPath,
  cron_file: absPath,
  logrotate_file: absPath,
  /** The backup user's state: consecutive failures per job, the last drill's result (read by the metrics). */
  state_dir: absPath,
});
export type PathVars = z.infer<typeof pathVars>;

export const retentionVars = z.strictObject({
  daily_days: z.number().int().min(1),
  weekly_weeks: z.number().int().min(1),
  media_days: z.number().int().min(1),
  config_days: z.number().int().min(1),
  /** Tarballs of docker_volumes. */
  docker_volumes_days: z.number().int().min(1),
  pre_restore_days: z.number().int().min(1),
  keep_min: z.number().int().min(1),
  /** The first good daily dump of each month is also kept as a monthly one, this long. */
  monthly_months: z.number().int().min(1),
  /** The newest N verified monthly dumps are never deleted, whatever their age. */
  monthly_keep_min: z.number().int().min(1),
});

export const scheduleVars = z.strictObject({
  database: cronExpression,
  config: cronExpression,
  media: cronExpression,
  database_weekly: cronExpression,
  check: cronExpression,
  /** The docker_volumes tarballs (installed in cron only when docker_volumes is not empty). */
  docker_volumes: cronExpression,
  /** verify-backup-integrity.sh: every local backup hashed, the off-site copy read back. */
  verify: cronExpression,
});

/** Mail without a local MTA: curl's SMTP client (`smtp://` or `smtps://`), credentials from a secret. */
export const smtpVars = z.strictObject({
  url: z
    .string()
    .regex(/^smtps?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?\/?$/, "an smtp:// or smtps:// URL (host and optional port)")
    .optional(),
  user: z
    .string()
    .regex(/^[^\s'"`\\]+$/, "a user name without spaces or quotes")
    .refine(noControl, "a user name without control characters")
    .optional(),
  password: secretRef.optional(),
  from: z.string().email("an email address").optional(),
});

/** One healthcheck URL per job: on healthchecks.io the last ping wins, so jobs must not share one. */
export const healthcheckVars = z.strictObject({
  database: urlOrSecret.optional(),
  weekly: urlOrSecret.optional(),
  media: urlOrSecret.optional(),
  config: urlOrSecret.optional(),
  docker_volumes: urlOrSecret.optional(),
  check: urlOrSecret.optional(),
});

export const alertVars = z.strictObject({
  email: z.string().email("an email address").optional(),
  slack_webhook: urlOrSecret.optional(),
  discord_webhook: urlOrSecret.optional(),
  /** The check job's healthcheck (kept for compatibility; alerts.healthchecks.check wins). */
  healthcheck_url: urlOrSecret.optional(),
  smtp: smtpVars.optional(),
  healthchecks: healthcheckVars.optional(),
  /** From the Nth consecutive failure of a job its alerts are CRITICAL escalations. */
  escalate_after: z.number().int().min(1).optional(),
});

export const offsiteVars = z.strictObject({
  enabled: z.boolean(),
  /** Any S3-compatible service (AWS, MinIO, Backblaze, ...). */
  endpoint: httpUrl.optional(),
  /** A bucket name (S3 rules); the key prefix goes in `prefix`. */
  bucket: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
      "an S3 bucket name (3-63 lowercase letters, digits, . and -; no s3://)",
    )
    .optional(),
  /** Key prefix in the bucket; default: the host's inventory name, so a fleet shares one bucket. */
  prefix: z
    .string()
    .regex(
      /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/,
      "a key prefix of letters, digits, . _ - separated by / (no leading or trailing /)",
    )
    .refine((s) => !s.split("/").includes(".."), "a key prefix without .. segments")
    .optional(),
  region: z
    .string()
    .regex(/^[a-z0-9-]+$/, "a region name")
    .optional(),
  storage_class: z
    .string()
    .regex(/^[A-Z_]+$/, "an S3 storage class such as STANDARD_IA")
    .optional(),
  access_key_id: secretRef.optional(),
  secret_access_key: secretRef.optional(),
});

/** An age X25519 recipient (public key). */
export const ageRecipient = z.string().regex(/^age1[02-9ac-hj-np-z]{58}$/, "an age public key (age1...)");

export const encryptionVars = z.strictObject({
  /** When set, config archives are always encrypted at rest (they hold every secret of the platform). */
  recipients: z.array(ageRecipient),
  /** The age identity (AGE-SECRET-KEY-1...), needed only to restore; sent on stdin for that run. */
  identity: secretRef.optional(),
  /** Which kinds besides config are encrypted too. */
  scope: z.array(z.enum(["database", "media"])),
});

export const drillVars = z.strictObject({
  rto_minutes: z.number().int().min(0),
  rpo_hours: z.number().int().min(0),
  /** Run on the host after a --live drill (e.g. the app's health URL with curl); must exit 0. */
  verify_command: z.string().min(1).refine(noControl, "a command without newlines or control characters").optional(),
  /** An inventory (name or path) whose off-site copy this inventory's drills restore. */
  source: z.string().min(1).refine(noControl, "an inventory name or path").optional(),
  /** staging host → source host whose backups it restores (default: by position). */
  map: z
    .record(
      z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "a host name"),
      z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "a host name"),
    )
    .optional(),
  allow_live_from_source: z.boolean(),
  /**
   * Read-only credentials of the source inventory's off-site bucket (secrets): what this
   * inventory's hosts read production's copy with. Its endpoint, bucket and prefix come from the
   * source inventory; its own (read-write) keys are never used.
   */
  source_offsite: z
    .strictObject({
      access_key_id: secretRef.optional(),
      secret_access_key: secretRef.optional(),
    })
    .optional(),
});

export const metricsVars = z.strictObject({
  /** node_exporter's textfile collector directory; check-backups writes <app>_backup.prom there. */
  textfile_dir: absPath.optional(),
});

/** A Docker named volume. */
export const dockerVolume = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, "a Docker volume name");

/**
 * The Docker engine the scripts talk to (DOCKER_HOST); "" = docker's default socket. A unix socket
 * only: an engine's API is root on its host, so it is not reached over plain TCP.
 */
export const dockerHost = z
  .string()
  .regex(/^unix:\/\/\/[A-Za-z0-9._\/-]+$/, "a unix socket URL: unix:///path/to/docker.sock")
  .refine((s) => !s.split("/").includes(".."), "a socket path without .. segments");

export const checkVars = z.strictObject({
  // Whole numbers: check-backups compares them with bash integer arithmetic.
  database_max_age_hours: z.number().int().positive(),
  weekly_max_age_days: z.number().int().positive(),
  media_max_age_hours: z.number().int().positive(),
  config_max_age_hours: z.number().int().positive(),
  /** The newest tarball of each of docker_volumes may be this old. */
  docker_volumes_max_age_hours: z.number().int().positive(),
  database_min_bytes: z.number().int().min(0),
  config_min_bytes: z.number().int().min(0),
  media_min_files: z.number().int().min(0),
  disk_warning_percent: z.number().int().min(1).max(100),
  disk_critical_percent: z.number().int().min(1).max(100),
  /** The newest off-site copy of each kind may be this old. */
  offsite_max_age_hours: z.number().int().positive(),
  /** The newest monthly dump may be this old. */
  monthly_max_age_days: z.number().int().positive(),
});

export const varsSchema = z.strictObject({
  app: identifier,
  /** Prepended to every default path (the lab gives each host its own tree with it). */
  prefix: z.union([z.literal(""), absPath]),
  backup_user: unixUser,
  /** Owner the web server needs on restored media; empty = the app dir's owner at restore time. */
  media_owner: z.union([z.literal(""), unixOwner]),
  /** PATH the cron jobs (and the smoke test) run with. */
  cron_path: z.string().regex(/^\/[^\s:'"`$\\]*(:\/[^\s:'"`$\\]*)*$/, "a PATH of absolute directories separated by :"),
  database: databaseVars,
  paths: pathVars,
  retention: retentionVars,
  schedule: scheduleVars,
  config_files: z.array(relPath),
  media_excludes: z.array(z.string().min(1).refine(noControl, "a pattern without control characters")),
  alerts: alertVars,
  offsite: offsiteVars,
  encryption: encryptionVars,
  drill: drillVars,
  metrics: metricsVars,
  /** The media source is this Docker named volume (resolved with docker volume inspect). */
  media_volume: dockerVolume.optional(),
  /** Named volumes also backed up as tarballs under docker-volumes/. */
  docker_volumes: z.array(dockerVolume),
  docker_host: z.union([z.literal(""), dockerHost]),
  check: checkVars,
  packages: z.array(z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, "a Debian package name")),
});
export type Vars = z.infer<typeof varsSchema>;

/** Deep-partial of the vars, as each layer may set any subset. Validation of leaves still applies. */
export const varsLayerSchema = z.strictObject({
  app: identifier.optional(),
  prefix: varsSchema.shape.prefix.optional(),
  backup_user: unixUser.optional(),
  media_owner: varsSchema.shape.media_owner.optional(),
  cron_path: varsSchema.shape.cron_path.optional(),
  database: databaseVars.partial().optional(),
  paths: pathVars.partial().optional(),
  retention: retentionVars.partial().optional(),
  schedule: scheduleVars.partial().optional(),
  config_files: varsSchema.shape.config_files.optional(),
  media_excludes: varsSchema.shape.media_excludes.optional(),
  alerts: alertVars.partial().optional(),
  offsite: offsiteVars.partial().optional(),
  encryption: encryptionVars.partial().optional(),
  drill: drillVars.partial().optional(),
  metrics: metricsVars.partial().optional(),
  media_volume: dockerVolume.optional(),
  docker_volumes: varsSchema.shape.docker_volumes.optional(),
  docker_host: varsSchema.shape.docker_host.optional(),
  check: checkVars.partial().optional(),
  packages: varsSchema.shape.packages.optional(),
});
export type VarsLayer = z.infer<typeof varsLayerSchema>;

// ---- hosts, groups, inventory ---------------------------------------------------------------

/** OpenSSH's ProxyJump: one hop `[user@]host[:port]`, a comma-separated chain, or a list; `none`. */
export const proxyJump = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).superRefine((v, ctx) => {
  for (const p of jumpSpecsProblems(v))
    ctx.addIssue({ code: "custom", message: `[user@]host[:port] for each jump host (${p})` });
});

/** An OpenSSH client config to read hosts from: true = ~/.ssh/config, or a path (relative to the inventory). */
export const sshConfigSetting = z.union([
  z.boolean(),
  z.string().min(1).refine(noControl, "a path without control characters or newlines"),
]);

export const sshSchema = z.strictObject({
  /** The name or address to connect to; with ssh_config, the alias looked up (default: the host's inventory name). */
  host: z
    .string()
    .regex(/^[A-Za-z0-9.:_-]+$/, "a host name or IP address")
    .optional(),
  port: z.number().int().min(1).max(65535).default(22),
  user: unixUser.default("root"),
  /** Path to a private key (~ expands; relative to the inventory file). Without it: the SSH agent. */
  private_key: z.string().optional(),
  /** Run every remote command through `sudo -n` (a password prompt is an error, never a hang). */
  become: z.boolean().default(false),
  connect_timeout_s: z.number().positive().default(10),
  command_timeout_s: z.number().positive().default(600),
  /** Jump hosts (bastions), first hop first; each hop's key is checked in the inventory's known_hosts. */
  proxy_jump: proxyJump.optional(),
});
export type SshConfig = z.infer<typeof sshSchema>;

const hostName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "a host name: letters, digits, . _ -");

export const hostSchema = z.strictObject({
  ssh: sshSchema.prefault({}),
  /** Look this host up in an OpenSSH config (overrides the group's and the inventory's setting). */
  ssh_config: sshConfigSetting.optional(),
  vars: varsLayerSchema.default({}),
});

export const groupSchema = z.strictObject({
  hosts: z.array(hostName).default([]),
  ssh_config: sshConfigSetting.optional(),
  vars: varsLayerSchema.default({}),
});

export const vaultSchema = z.strictObject({
  /** age-encrypted YAML map of key → secret (relative to the inventory file). */
  file: z.string(),
  /** Where the age identity comes from: an identity file path, or an env var holding the key. */
  identity_file: z.string().optional(),
  identity_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
    .optional(),
});

export const inventorySchema = z.strictObject({
  environment: z.enum(["production", "staging", "lab"]),
  known_hosts: z.string().default("./known_hosts"),
  /** Read every host from an OpenSSH client config (HostName, Port, User, IdentityFile, ProxyJump, UserKnownHostsFile). */
  ssh_config: sshConfigSetting.optional(),
  vault: vaultSchema.optional(),
  vars: varsLayerSchema.default({}),
  groups: z.record(hostName, groupSchema).default({}),
  hosts: z.record(hostName, hostSchema),
});
export type InventoryFile = z.infer<typeof inventorySchema>;
