// Cross-field rules: what the per-field schema cannot express, checked on the merged and validated
// vars of one host. Each problem blames the value set last (the likelier mistake) and says where
// the other value came from.
import path from "node:path";
import type { Provenance, VarsSource } from "./merge.ts";
import type { Vars } from "./schema.ts";
import type { Host } from "./types.ts";

/**
 * cron(8) silently skips /etc/cron.d files whose names hold anything but letters, digits, _ and -
 * (a dot, say): the one rule for a cron file's name, checked on the vars at load and on the
 * rendered file before it is written (src/backup/validate.ts).
 */
export function cronFileNameProblem(file: string): string | undefined {
  return /^[A-Za-z0-9_-]+$/.test(path.posix.basename(file))
    ? undefined
    : "expected a file name of letters, digits, _ and - only (cron ignores cron.d files with other names, e.g. with a dot)";
}

/** "the built-in default", "set with -e", "from groups.web.vars" ... for messages about another value. */
export function describeOrigin(src: VarsSource | undefined, varPath = ""): string {
  if (!src && varPath.startsWith("paths.")) return "derived from app and prefix";
  if (!src || src.keyPrefix === "defaults") return "the built-in default";
  if (src.keyPrefix === "-e") return "set with -e";
  return `from ${src.keyPrefix}`;
}

/** Rules the per-field schema cannot express, as "file: key.path: message" problems. */
export function crossFieldProblems(v: Vars, { origin, where }: Provenance): string[] {
  const out: string[] = [];
  const at = (p: string, msg: string) => {
    const w = where(p);
    out.push(`${w.file}: ${w.key}: ${msg}`);
  };
  // The later layer (higher precedence) is the one that introduced the conflict.
  const rank = (p: string) => {
    const o = origin(p);
    if (!o || o.keyPrefix === "defaults") return 0;
    if (o.keyPrefix === "-e") return 4;
    if (o.keyPrefix.startsWith("hosts.")) return 3;
    if (o.keyPrefix.startsWith("groups.")) return 2;
    return 1;
  };
  const blame = (a: string, b: string) => (rank(b) > rank(a) ? ([b, a] as const) : ([a, b] as const));

  if (v.check.disk_warning_percent >= v.check.disk_critical_percent) {
    const w = "check.disk_warning_percent";
    const c = "check.disk_critical_percent";
    const [mine] = blame(w, c);
    if (mine === w)
      at(
        w,
        `expected less than ${c} (${v.check.disk_critical_percent}, ${describeOrigin(origin(c), c)}), got ${v.check.disk_warning_percent}`,
      );
    else
      at(
        c,
        `expected more than ${w} (${v.check.disk_warning_percent}, ${describeOrigin(origin(w), w)}), got ${v.check.disk_critical_percent}`,
      );
  }
  if (v.offsite.enabled) {
    const need = (["endpoint", "bucket", "access_key_id", "secret_access_key"] as const).filter((k) => !v.offsite[k]);
    if (need.length)
      at("offsite.enabled", `expected ${need.map((k) => `offsite.${k}`).join(", ")} to be set when offsite is enabled`);
  }
  if (v.encryption.scope.length > 0 && v.encryption.recipients.length === 0) {
    at(
      "encryption.scope",
      "expected encryption.recipients (age public keys) to be set: nothing can be encrypted without them",
    );
  }
  if (v.database.dump_jobs > 1 && v.encryption.scope.includes("database")) {
    at(
      "database.dump_jobs",
      "expected 1 when encryption.scope has database: a parallel dump writes a plaintext directory to disk before it is archived",
    );
  }
  alertProblems(v, at);
  dockerProblems(v, at);
  // Backups must not be inside what they back up, nor the reverse (each run would copy itself).
  const inside = (a: string, b: string) => a === b || a.startsWith(b.endsWith("/") ? b : `${b}/`);
  const { backup_dir, media_dir, app_dir, log_dir } = v.paths;
  for (const [other, name] of [
    [media_dir, "media_dir"],
    [app_dir, "app_dir"],
  ] as const) {
    if (inside(backup_dir, other) || inside(other, backup_dir)) {
      const [mine, them] = blame("paths.backup_dir", `paths.${name}`);
      at(
        mine,
        `expected paths.backup_dir and paths.${name} not to contain one another (${them} is ${describeOrigin(origin(them), them).replace(/^from /, "set in ")})`,
      );
    }
  }
  if (inside(log_dir, backup_dir)) {
    const [mine] = blame("paths.log_dir", "paths.backup_dir");
    at(mine, "expected paths.log_dir outside paths.backup_dir");
  }
  const files = ["config_file", "pgpass_file", "status_file", "cron_file", "logrotate_file"] as const;
  for (let i = 0; i < files.length; i++)
    for (let j = i + 1; j < files.length; j++) {
      if (v.paths[files[i]!] === v.paths[files[j]!]) {
        const [mine, them] = blame(`paths.${files[i]}`, `paths.${files[j]}`);
        at(mine, `expected a different file than ${them}`);
      }
    }
  const cronName = cronFileNameProblem(v.paths.cron_file);
  if (cronName) at("paths.cron_file", cronName);
  return out;
}

/** Where a host is, as ssh reaches it: lowercased, loopback names as one, and the port. */
function machineKey(host: Host): string {
  let h = host.ssh.host.toLowerCase().replace(/\.$/, "");
  if (/^(localhost|localhost\.localdomain|ip6-localhost|::1|127\.0\.0\.1)$/.test(h)) h = "loopback";
  return `${h}:${host.ssh.port}`;
}

/** What provision writes on a host: trees (everything below them) and single files. */
function writtenPaths(v: Host["vars"]): { key: string; path: string; tree: boolean }[] {
  const p = v.paths;
  return [
    ...(["backup_dir", "log_dir", "scripts_dir", "state_dir"] as const).map((key) => ({
      key,
      path: p[key],
      tree: true,
    })),
    ...(["config_file", "pgpass_file", "status_file", "cron_file", "logrotate_file"] as const).map((key) => ({
      key,
      path: p[key],
      tree: false,
    })),
  ];
}

/**
 * Two inventory hosts that are one machine (the same ssh host and port) and write the same path are
 * bad input: the last writer wins (its lib/host.sh, its backup.conf), so app A's cron could back up
 * app B. Checked on every host of the inventory, not only the selected ones: the next full run
 * would collide. Names are compared as written (no DNS: nothing touches the network before the run).
 */
export function sharedPathProblems(hosts: Host[], shownFile: string): string[] {
  const out: string[] = [];
  const byMachine = new Map<string, Host[]>();
  for (const h of hosts) byMachine.set(machineKey(h), [...(byMachine.get(machineKey(h)) ?? []), h]);
  const inside = (a: string, tree: string) => a === tree || a.startsWith(`${tree}/`);
  for (const group of byMachine.values()) {
    for (let j = 1; j < group.length; j++) {
      const b = group[j]!;
      for (const mine of writtenPaths(b.vars)) {
        for (const a of group.slice(0, j)) {
          const theirs = writtenPaths(a.vars).find(
            (t) =>
              t.path === mine.path || (t.tree && inside(mine.path, t.path)) || (mine.tree && inside(t.path, mine.path)),
          );
          if (!theirs) continue;
          const shared = mine.path.length >= theirs.path.length ? mine.path : theirs.path;
          out.push(
            `${shownFile}: hosts.${b.name}.vars.paths.${mine.key}: expected a path that hosts.${a.name} does not write too ` +
              `(both are ${a.ssh.host}:${a.ssh.port}, and both write ${shared})`,
          );
          break;
        }
      }
    }
  }
  return out;
}

type At = (p: string, msg: string) => void;

/** Mail needs a way to be sent: the hosts have no MTA, curl speaks SMTP to alerts.smtp.url. */
function alertProblems(v: Vars, at: At): void {
  const a = v.alerts;
  const smtp = a.smtp ?? {};
  if (a.email !== undefined) {
    const need = (["url", "from"] as const).filter((k) => smtp[k] === undefined).map((k) => `alerts.smtp.${k}`);
    if (need.length)
      at(
        "alerts.email",
        `expected ${need.join(" and ")} to be set: the hosts have no mail server, alerts are mailed with curl over SMTP (or remove alerts.email)`,
      );
  }
  if (smtp.user !== undefined && smtp.password === undefined)
    at("alerts.smtp.user", "expected alerts.smtp.password (a secret) with alerts.smtp.user");
  if (smtp.password !== undefined && smtp.user === undefined)
    at("alerts.smtp.password", "expected alerts.smtp.user with alerts.smtp.password");
}

/** Docker volumes are read and restored as root; the media volume is the media job's, not a tarball's. */
function dockerProblems(v: Vars, at: At): void {
  const uses = v.media_volume !== undefined || v.docker_volumes.length > 0;
  if (uses && v.backup_user !== "root")
    at(
      v.media_volume !== undefined ? "media_volume" : "docker_volumes",
      `expected backup_user root (it is ${v.backup_user}): a volume's data under the engine's data root is readable by root only, and access to the engine's socket is root anyway`,
    );
  if (v.media_volume !== undefined && v.docker_volumes.includes(v.media_volume))
    at(
      "docker_volumes",
      `expected ${v.media_volume} only once: it is media_volume, which the media job already backs up (incremental snapshots)`,
    );
  const seen = new Set<string>();
  for (const name of v.docker_volumes) {
    if (seen.has(name)) at("docker_volumes", `expected each volume once (${name} is listed twice)`);
    seen.add(name);
  }
}
