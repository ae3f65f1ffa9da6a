// Built-in defaults from the backup system's spec: the lowest layer of vars precedence.
// Paths are derived from app and prefix after the layers are merged (see derivePaths).
import type { PathVars, VarsLayer } from "./schema.ts";

export const DEFAULT_VARS = {
  app: "cepcomunicacion",
  prefix: "",
  backup_user: "root",
  media_owner: "",
  cron_path: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  database: {
    name: "cepcomunicacion",
    user: "cepcomunicacion",
    host: "localhost",
    port: 5432,
    check_login: true,
    dump_jobs: 1,
  },
  retention: {
    daily_days: 30,
    weekly_weeks: 12,
    media_days: 30,
    config_days: 30,
    docker_volumes_days: 30,
    pre_restore_days: 30,
    keep_min: 3,
    monthly_months: 12,
    monthly_keep_min: 3,
  },
  schedule: {
    database: "0 2 * * *",
    config: "30 2 * * *",
    media: "0 3 * * *",
    database_weekly: "30 3 * * 0",
    check: "0 */6 * * *",
    // The spec's docker-volumes/ examples are taken at 04:00, after the media backup.
    docker_volumes: "0 4 * * *",
    verify: "0 5 * * 0",
  },
  // The spec's list, relative to app_dir; globs allowed; missing ones are skipped (and named in the log).
  config_files: [
    ".env",
    ".env.production",
    "docker-compose.yml",
    "docker-compose.prod.yml",
    "payload.config.ts",
    "next.config.ts",
    "nginx/*.conf",
    "Dockerfile*",
    "migrations/*",
    ".github/workflows/*.yml",
  ],
  media_excludes: [".DS_Store", "Thumbs.db", "*.tmp"],
  alerts: {},
  offsite: { enabled: false },
  encryption: { recipients: [], scope: [] },
  drill: { rto_minutes: 60, rpo_hours: 26, allow_live_from_source: false },
  metrics: {},
  docker_volumes: [],
  docker_host: "",
  check: {
    database_max_age_hours: 26,
    weekly_max_age_days: 8,
    media_max_age_hours: 26,
    config_max_age_hours: 26,
    docker_volumes_max_age_hours: 26,
    database_min_bytes: 1024,
    config_min_bytes: 100,
    media_min_files: 0,
    disk_warning_percent: 80,
    disk_critical_percent: 90,
    offsite_max_age_hours: 26,
    monthly_max_age_days: 32,
  },
  // cron runs the jobs; util-linux has flock and runuser; curl sends alerts and pings; openssl hashes
  // the media (several times less CPU than coreutils' sha256sum where the CPU has SHA instructions).
  packages: [
    "postgresql-client",
    "rsync",
    "tar",
    "gzip",
    "coreutils",
    "util-linux",
    "curl",
    "openssl",
    "logrotate",
    "cron",
  ],
} satisfies VarsLayer;

/** Default paths for an app under a prefix ("" on a real host). Explicitly set paths are kept as written. */
export function derivePaths(app: string, prefix: string, set: Partial<PathVars> = {}, backupUser = "root"): PathVars {
  const p = (s: string) => `${prefix}${s}`;
  const app_dir = set.app_dir ?? p(`/var/www/${app}`);
  return {
    backup_dir: set.backup_dir ?? p(`/var/backups/${app}`),
    log_dir: set.log_dir ?? p(`/var/log/${app}`),
    // The spec's /infra/backup/scripts is its app's; any other app gets its own, so that two apps
    // on one host never share a scripts directory (lib/host.sh there names ONE backup.conf).
    scripts_dir:
      set.scripts_dir ?? p(app === DEFAULT_VARS.app ? `/infra/backup/scripts` : `/infra/backup/${app}/scripts`),
    config_file: set.config_file ?? p(`/etc/${app}/backup.conf`),
    pgpass_file: set.pgpass_file ?? p(`/etc/${app}/backup.pgpass`),
    // The spec's /var/run path needs root to replace the file atomically; a dedicated backup user
    // gets a persistent directory of its own instead (/var/run is emptied at boot).
    status_file:
      set.status_file ??
      (backupUser === "root"
        ? p(`/var/run/${app}-backup-status.json`)
        : p(`/var/lib/${app}-backup/backup-status.json`)),
    app_dir,
    media_dir: set.media_dir ?? `${app_dir}/uploads`,
    cron_file: set.cron_file ?? p(`/etc/cron.d/${app}-backup`),
    logrotate_file: set.logrotate_file ?? p(`/etc/logrotate.d/${app}-backup`),
    // Persistent (not /var/run): failure counts must survive a reboot.
    state_dir: set.state_dir ?? p(`/var/lib/${app}-backup`),
  };
}
