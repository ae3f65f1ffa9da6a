// The inventory contract as zod schemas: what an operator may write, validated before any host is
// contacted. Names that end up in paths, SQL or shell are constrained here, so later code trusts them.
import { z } from "zod";
import { CronExpressionParser } from "cron-parser";

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

/** A 5-field cron expression, checked with cron-parser. */
export const cronExpression = z.string().superRefine((s, ctx) => {
  const fields = s.trim().split(/\s+/);
  if (fields.length !== 5 || !noControl(s)) {
    ctx.addIssue({ code: "custom", message: `a 5-field cron expression (minute hour day month weekday), got "${s}"` });
    return;
  }
  try {
    CronExpressionParser.parse(s.trim(), { strict: false });
  } catch (e) {
    ctx.addIssue({ code: "custom", message: `a valid cron expression: "${s}": ${(e as Error).message}` });
  }
});

/** A secret is never plaintext: an environment variable or a key of the encrypted vault. */
export const secretRef = z.union([
  z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name") }),
  z.strictObject({ vault: z.string().regex(/^[A-Za-z0-9_.-]+$/, "a vault key (letters, digits, _ . -)") }),
]);
export type SecretRef = z.infer<typeof secretRef>;

const httpUrl = z.string().regex(/^https?:\/\/[^\s'"`\\]+$/, "an http(s) URL without spaces or quotes");
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
});
export type PathVars = z.infer<typeof pathVars>;

export const retentionVars = z.strictObject({
  daily_days: z.number().int().min(1),
  weekly_weeks: z.number().int().min(1),
  media_days: z.number().int().min(1),
  config_days: z.number().int().min(1),
  pre_restore_days: z.number().int().min(1),
  keep_min: z.number().int().min(1),
});

export const scheduleVars = z.strictObject({
  database: cronExpression,
  config: cronExpression,
  media: cronExpression,
  database_weekly: cronExpression,
  check: cronExpression,
});

export const alertVars = z.strictObject({
  email: z.string().email("an email address").optional(),
  slack_webhook: urlOrSecret.optional(),
  discord_webhook: urlOrSecret.optional(),
  healthcheck_url: urlOrSecret.optional(),
});

export const offsiteVars = z.strictObject({
  enabled: z.boolean(),
  bucket: z
    .string()
    .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,62}(\/[A-Za-z0-9._\/-]*)?$/, "an s3://bucket[/prefix] URL")
    .optional(),
  endpoint: httpUrl.optional(),
  region: z
    .string()
    .regex(/^[a-z0-9-]+$/, "a region name")
    .optional(),
  storage_class: z
    .string()
    .regex(/^[A-Z_]+$/, "an S3 storage class such as STANDARD_IA")
    .optional(),
});

export const checkVars = z.strictObject({
  // Whole numbers: check-backups compares them with bash integer arithmetic.
  database_max_age_hours: z.number().int().positive(),
  weekly_max_age_days: z.number().int().positive(),
  media_max_age_hours: z.number().int().positive(),
  config_max_age_hours: z.number().int().positive(),
  database_min_bytes: z.number().int().min(0),
  config_min_bytes: z.number().int().min(0),
  media_min_files: z.number().int().min(0),
  disk_warning_percent: z.number().int().min(1).max(100),
  disk_critical_percent: z.number().int().min(1).max(100),
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
  check: checkVars.partial().optional(),
  packages: varsSchema.shape.packages.optional(),
});
export type VarsLayer = z.infer<typeof varsLayerSchema>;

// ---- hosts, groups, inventory ---------------------------------------------------------------

export const sshSchema = z.strictObject({
  host: z.string().regex(/^[A-Za-z0-9.:_-]+$/, "a host name or IP address"),
  port: z.number().int().min(1).max(65535).default(22),
  user: unixUser.default("root"),
  /** Path to a private key (~ expands; relative to the inventory file). Without it: the SSH agent. */
  private_key: z.string().optional(),
  /** Run every remote command through `sudo -n` (a password prompt is an error, never a hang). */
  become: z.boolean().default(false),
  connect_timeout_s: z.number().positive().default(10),
  command_timeout_s: z.number().positive().default(600),
});
export type SshConfig = z.infer<typeof sshSchema>;

const hostName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "a host name: letters, digits, . _ -");

export const hostSchema = z.strictObject({
  ssh: sshSchema,
  vars: varsLayerSchema.default({}),
});

export const groupSchema = z.strictObject({
  hosts: z.array(hostName).default([]),
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
  vault: vaultSchema.optional(),
  vars: varsLayerSchema.default({}),
  groups: z.record(hostName, groupSchema).default({}),
  hosts: z.record(hostName, hostSchema),
});
export type InventoryFile = z.infer<typeof inventorySchema>;
