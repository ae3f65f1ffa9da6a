// The context every template is rendered with: the host's resolved vars with every optional value
// present (strict handlebars rejects a missing key, so absence is the empty string here).
import { dirname } from "node:path";
import type { ResolvedVars } from "../inventory/types.ts";

/** The off-site copy's rclone config (credentials): beside the pgpass file, the backup user's, 0600. */
export function offsiteConfigFile(paths: Pick<ResolvedVars["paths"], "pgpass_file">): string {
  return `${dirname(paths.pgpass_file)}/backup-offsite.rclone.conf`;
}

export interface TemplateContext {
  app: string;
  environment: string;
  backup_user: string;
  media_owner: string;
  cron_path: string;
  database: { name: string; user: string; host: string; port: number };
  /** Kept apart from `database` so a template cannot print it by accident; only pgpass.hbs uses it. */
  db_password: string;
  paths: ResolvedVars["paths"] & { lock_dir: string; offsite_config: string };
  retention: ResolvedVars["retention"];
  schedule: ResolvedVars["schedule"];
  config_files: string[];
  media_excludes: string[];
  alerts: {
    email: string;
    slack_webhook: string;
    discord_webhook: string;
    /** The check job's healthcheck: alerts.healthchecks.check, else the older alerts.healthcheck_url. */
    healthcheck_url: string;
    /** One healthcheck per backup job (on healthchecks.io the last ping of a check wins). */
    healthchecks: { database: string; weekly: string; media: string; config: string; docker_volumes: string };
    smtp: { url: string; user: string; password: string; from: string };
    /** "" = every failure is CRITICAL. */
    escalate_after: number | "";
  };
  metrics: { textfile_dir: string };
  docker: { host: string; media_volume: string; volumes: string[] };
  offsite: {
    enabled: boolean;
    bucket: string;
    endpoint: string;
    region: string;
    storage_class: string;
    prefix: string;
  };
  /** Kept apart like db_password: only the rclone config template uses them. */
  offsite_keys: { access_key_id: string; secret_access_key: string };
  /** Public keys only: the identity never reaches a template. */
  encryption: { recipients: string[]; scope: string[] };
  check: ResolvedVars["check"];
}

export function templateContext(v: ResolvedVars): TemplateContext {
  const { password, ...database } = v.database;
  const hc = v.alerts.healthchecks ?? {};
  return {
    app: v.app,
    environment: v.environment,
    backup_user: v.backup_user,
    media_owner: v.media_owner,
    cron_path: v.cron_path,
    database,
    db_password: password,
    paths: { ...v.paths, lock_dir: `${v.paths.backup_dir}/.locks`, offsite_config: offsiteConfigFile(v.paths) },
    retention: v.retention,
    schedule: v.schedule,
    config_files: v.config_files,
    media_excludes: v.media_excludes,
    alerts: {
      email: v.alerts.email ?? "",
      slack_webhook: v.alerts.slack_webhook ?? "",
      discord_webhook: v.alerts.discord_webhook ?? "",
      healthcheck_url: hc.check ?? v.alerts.healthcheck_url ?? "",
      healthchecks: {
        database: hc.database ?? "",
        weekly: hc.weekly ?? "",
        media: hc.media ?? "",
        config: hc.config ?? "",
        docker_volumes: hc.docker_volumes ?? "",
      },
      smtp: {
        url: v.alerts.smtp?.url ?? "",
        user: v.alerts.smtp?.user ?? "",
        password: v.alerts.smtp?.password ?? "",
        from: v.alerts.smtp?.from ?? "",
      },
      escalate_after: v.alerts.escalate_after ?? "",
    },
    metrics: { textfile_dir: v.metrics.textfile_dir ?? "" },
    docker: { host: v.docker_host, media_volume: v.media_volume ?? "", volumes: v.docker_volumes },
    offsite: {
      enabled: v.offsite.enabled,
      bucket: v.offsite.bucket ?? "",
      endpoint: v.offsite.endpoint ?? "",
      region: v.offsite.region ?? "",
      storage_class: v.offsite.storage_class ?? "",
      prefix: v.offsite.prefix ?? "",
    },
    offsite_keys: {
      access_key_id: v.offsite.access_key_id ?? "",
      secret_access_key: v.offsite.secret_access_key ?? "",
    },
    encryption: { recipients: v.encryption.recipients, scope: v.encryption.scope },
    check: v.check,
  };
}
