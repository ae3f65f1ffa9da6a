// `npm run drill -- staging --source prod` (or drill.source): production's off-site copy restored on
// staging hosts, the disaster a drill exists for. The source inventory is loaded (validated, its
// secrets resolved) and never connected to: each staging host restores the newest backups of one
// source host (drill.map, else by position) from that host's bucket and prefix, with the
// read-only keys the STAGING inventory gives (drill.source_offsite) and the source's age
// identity. They travel inside the drill script on the SSH channel's stdin; drill.sh writes them
// into 0600 files of the backup user and removes them whatever happens. Pure here (which source,
// the mapping, the checks, the values sent) but for loadDrillSource.
import type { CommonOptions } from "../cli/options.ts";
import { InputError } from "../errors.ts";
import { loadInventory, resolveInventoryPath } from "../inventory/load.ts";
import { shown as show } from "../inventory/shown.ts";
import type { Host, Inventory } from "../inventory/types.ts";
import { createRenderer } from "../render/render.ts";
import type { ShellValues } from "../render/remote.ts";
import { inventoryName } from "./history.ts";

/** How a drill restores: into scratch space (default) or over the staging host's live data. */
export type DrillMode = "scratch" | "live";

/** Which source host a staging host restores, as the report and last-drill.json name it. */
export interface DrillSourceHost {
  /** The source inventory as given (`prod`, or a path). */
  inventory: string;
  /** Its report name (inventoryName): what `npm run status -- prod` matches. */
  inventory_name: string;
  host: string;
  /** How the pair was made. */
  via: "drill.map" | "position";
  /** Where its backups were read: s3://bucket/prefix at endpoint. */
  bucket: string;
  prefix: string;
  endpoint: string;
  /** The source host encrypts its backups (its identity was sent to decrypt them). */
  encrypted: boolean;
}

/** The run's source: the inventory and, per selected staging host, what it restores and is sent. */
export interface DrillSource {
  inventory: string;
  inventory_name: string;
  /** The source inventory file as messages show it. */
  file: string;
  environment: string;
  /** Where the source data went: scratch space (the default), or over the live data (allowed by the inventory). */
  mode: DrillMode;
  hosts: Map<string, { report: DrillSourceHost; values: ShellValues }>;
  /** The source inventory's resolved secrets: masked in everything this run prints or writes. */
  secrets: string[];
}

/**
 * The source inventory of this run: --source, else drill.source of the selected hosts (one value
 * for all of them). Undefined when neither is set.
 */
export function sourceInventoryOf(
  given: string | undefined,
  hosts: readonly Host[],
  shown: string,
): string | undefined {
  if (given !== undefined) return given;
  const set = new Map<string, string[]>();
  const unset: string[] = [];
  for (const h of hosts) {
    // (?.: hosts of recorded cases may come without drill vars.)
    const s = h.vars.drill?.source;
    if (s === undefined) unset.push(h.name);
    else set.set(s, [...(set.get(s) ?? []), h.name]);
  }
  if (set.size === 0) return undefined;
  if (set.size > 1 || unset.length > 0) {
    const parts = [...set].map(([s, hs]) => `${show(s)} for ${hs.join(", ")}`);
    if (unset.length) parts.push(`none for ${unset.join(", ")}`);
    throw new InputError([
      `${shown}: drill.source: expected one source inventory for every host of the drill (${parts.join("; ")}); drill them apart with --limit, or give --source`,
    ]);
  }
  return [...set.keys()][0];
}

/** A staging host's pair: the source host whose backups it restores. */
export interface SourcePair {
  staging: string;
  source: string;
  via: DrillSourceHost["via"];
}

/**
 * Pair the selected staging hosts with source hosts. With drill.map (any host's merged map non-
 * empty) the map decides, for every selected host: a host it leaves out is an error, not paired
 * by position. Without one, by position in the two inventories (all their hosts, so --limit does
 * not shift the pairs), which needs as many hosts on both sides. Every problem at once.
 */
export function pairSourceHosts(
  staging: { shown: string; all: readonly { name: string; map?: Record<string, string> | undefined }[] },
  selected: readonly string[],
  source: { shown: string; hosts: readonly string[] },
): { pairs: SourcePair[]; problems: string[] } {
  const problems: string[] = [];
  const names = staging.all.map((h) => h.name);
  const maps = new Map(staging.all.map((h) => [h.name, h.map ?? {}] as const));
  const list = (xs: readonly string[]) => xs.join(", ");
  // Every entry of every host's map: known on both sides (once per key).
  const seen = new Set<string>();
  for (const m of maps.values())
    for (const [k, v] of Object.entries(m)) {
      if (seen.has(`${k}\0${v}`)) continue;
      seen.add(`${k}\0${v}`);
      if (!names.includes(k))
        problems.push(
          `${staging.shown}: drill.map.${k}: expected a host of ${staging.shown} (${list(names)}); ${show(k)} is not one`,
        );
      if (!source.hosts.includes(v))
        problems.push(
          `${staging.shown}: drill.map.${k}: expected a host of ${source.shown} (${list(source.hosts)}); ${show(v)} is not one`,
        );
    }
  const mapped = [...maps.values()].some((m) => Object.keys(m).length > 0);
  const pairs: SourcePair[] = [];
  if (mapped) {
    const left = selected.filter((s) => maps.get(s)?.[s] === undefined);
    if (left.length)
      problems.push(
        `${staging.shown}: drill.map: expected an entry for ${list(left)} (a host the map leaves out is not paired by position; map it, or leave it out with --limit)`,
      );
    for (const s of selected) {
      const v = maps.get(s)?.[s];
      if (v !== undefined && source.hosts.includes(v)) pairs.push({ staging: s, source: v, via: "drill.map" });
    }
  } else if (names.length !== source.hosts.length) {
    problems.push(
      `${staging.shown}: drill.map: expected one: pairing by position needs as many hosts in ${staging.shown} as in ${source.shown}, ` +
        `which has ${source.hosts.length} (${list(source.hosts)}) for ${names.length} (${list(names)}); ` +
        `say which source host each host restores, e.g. drill: { map: { ${names[0]}: ${source.hosts[0] ?? "HOST"} } }`,
    );
  } else {
    for (const s of selected) pairs.push({ staging: s, source: source.hosts[names.indexOf(s)]!, via: "position" });
  }
  return { pairs, problems };
}

/**
 * The mode and --from a source drill may take: --from local makes no sense (the backups are the
 * source's, off-site); --live puts production's data on a staging host's live database, media and
 * config, so every host must allow it (drill.allow_live_from_source, default false).
 */
export function sourceModeProblems(
  mode: DrillMode,
  from: CommonOptions["from"],
  hosts: readonly Host[],
  shown: string,
  source: string,
): string[] {
  const problems: string[] = [];
  if (from === "local")
    problems.push(
      `arguments: --from local: with --source the backups come from the off-site copy of ${show(source)} (--from offsite, the default with --source)`,
    );
  if (mode === "live") {
    const refused = hosts.filter((h) => !h.vars.drill.allow_live_from_source).map((h) => h.name);
    if (refused.length)
      problems.push(
        `${shown}: drill.allow_live_from_source: expected true for ${refused.join(", ")} to restore the data of ${show(source)} over their live data with --live ` +
          "(the default, false, allows source data only into scratch space: --scratch)",
      );
  }
  return problems;
}

const renderer = createRenderer();

/**
 * What one staging host is sent to restore its pair's backups (drill.sh's SOURCE_* values and the
 * age identity), or why it cannot: the source host has no off-site copy, the staging host has no
 * read-only keys, or the backups are encrypted and the source inventory gives no identity.
 */
export function sourceHostValues(
  staging: Host,
  src: Host,
  pair: SourcePair,
  source: { inventory: string; shown: string; stagingShown: string },
): { report: DrillSourceHost; values: ShellValues } | { problems: string[] } {
  const problems: string[] = [];
  const o = src.vars.offsite;
  if (!o.enabled || !o.endpoint || !o.bucket)
    problems.push(
      `${source.shown}: hosts.${src.name}.vars.offsite: expected an off-site copy to restore ${staging.name} from (offsite.enabled with endpoint and bucket)`,
    );
  const keys = staging.vars.drill.source_offsite;
  const need = (["access_key_id", "secret_access_key"] as const).filter((k) => !keys?.[k]);
  if (need.length)
    problems.push(
      `${source.stagingShown}: hosts.${staging.name}.vars.drill.source_offsite: expected ${need.map((k) => `${k}`).join(" and ")}: read-only keys of ${source.shown}'s bucket ({ env: NAME } or { vault: key }); ${source.shown}'s own keys are never used`,
    );
  const encrypted = src.vars.encryption.recipients.length > 0;
  if (encrypted && !src.vars.encryption.identity)
    problems.push(
      `${source.shown}: hosts.${src.name}.vars.encryption.identity: expected the age identity that decrypts ${src.name}'s backups (they are encrypted), for ${staging.name} to restore them`,
    );
  if (problems.length) return { problems };
  const rclone = renderer.render("rclone.conf.hbs", {
    app: src.vars.app,
    environment: `${src.vars.environment}, read by a drill on ${staging.name}`,
    offsite_keys: { access_key_id: keys!.access_key_id!, secret_access_key: keys!.secret_access_key! },
    offsite: { endpoint: o.endpoint!, region: o.region ?? "", storage_class: "" },
  });
  const report: DrillSourceHost = {
    inventory: source.inventory,
    inventory_name: inventoryName(source.inventory),
    host: src.name,
    via: pair.via,
    bucket: o.bucket!,
    prefix: o.prefix ?? src.name,
    endpoint: o.endpoint!,
    encrypted,
  };
  return {
    report,
    values: {
      SOURCE_INVENTORY: report.inventory_name,
      SOURCE_HOST: src.name,
      SOURCE_APP: src.vars.app,
      SOURCE_BUCKET: report.bucket,
      SOURCE_PREFIX: report.prefix,
      SOURCE_ENDPOINT: report.endpoint,
      SOURCE_RCLONE_CONF: rclone,
      HOST_CONF: staging.vars.paths.config_file,
      // The source's identity replaces the host's own: it decrypts the source's backups.
      AGE_IDENTITY: encrypted ? (src.vars.encryption.identity ?? "") : "",
    },
  };
}

/**
 * The run's source, or undefined for a drill of the hosts' own backups. Loads the source inventory
 * (validated, secrets resolved; its hosts never contacted), pairs the hosts and checks everything:
 * any problem is bad input (exit 1) before a connection, all of them listed.
 */
export async function loadDrillSource(args: {
  opts: CommonOptions;
  mode: DrillMode;
  inv: Inventory;
  hosts: readonly Host[];
  shown: string;
  cwd: string;
  env?: NodeJS.ProcessEnv;
}): Promise<DrillSource | undefined> {
  const { opts, inv, hosts, shown } = args;
  const given = sourceInventoryOf(opts.source, hosts, shown);
  if (given === undefined) return undefined;
  const file = resolveInventoryPath(given, args.cwd);
  if (file.file === inv.file)
    throw new InputError([
      `${shown}: drill.source: expected another inventory than the one drilled (for a host's own off-site copy: --from offsite)`,
    ]);
  const src = await loadInventory(given, { cwd: args.cwd, ...(args.env ? { env: args.env } : {}) });
  const problems = sourceModeProblems(args.mode, opts.from, hosts, shown, given);
  const { pairs, problems: pairing } = pairSourceHosts(
    { shown, all: inv.hosts.map((h) => ({ name: h.name, map: h.vars.drill.map })) },
    hosts.map((h) => h.name),
    { shown: file.shown, hosts: src.hosts.map((h) => h.name) },
  );
  problems.push(...pairing);
  const out: DrillSource["hosts"] = new Map();
  for (const p of pairs) {
    const r = sourceHostValues(
      hosts.find((h) => h.name === p.staging)!,
      src.hosts.find((h) => h.name === p.source)!,
      p,
      { inventory: given, shown: file.shown, stagingShown: shown },
    );
    if ("problems" in r) problems.push(...r.problems);
    else out.set(p.staging, r);
  }
  if (problems.length) throw new InputError(problems);
  return {
    inventory: given,
    inventory_name: inventoryName(given),
    file: file.shown,
    environment: src.environment,
    mode: args.mode,
    hosts: out,
    secrets: src.secrets,
  };
}

// ---- the report's part ------------------------------------------------------------------------

/** A host's source in its report: the pair, and what became of the credentials sent. */
export type DrillSourceHostReport = DrillSourceHost & {
  /** drill.sh's word on the credential files: "removed: <folder>", "left: <folder>", or not confirmed. */
  credentials: string;
};

/** The run's source in the report's `drill` section (status finds the source hosts' drills by it). */
export interface DrillSourceSection {
  inventory: string;
  inventory_name: string;
  file: string;
  environment: string;
  mode: DrillMode;
  /** staging host → source host. */
  hosts: Record<string, string>;
}

/** The report section's source fields (none without --source). */
export function sourceSection(source: DrillSource | undefined): { source?: DrillSourceSection } {
  if (!source) return {};
  return {
    source: {
      inventory: source.inventory,
      inventory_name: source.inventory_name,
      file: source.file,
      environment: source.environment,
      mode: source.mode,
      hosts: Object.fromEntries([...source.hosts].map(([h, p]) => [h, p.report.host])),
    },
  };
}

/** What the drill script said of the credential files (`DRILL|cleanup|credentials|...`). */
export function credentialsCleanup(stdout: string): string {
  const line = stdout.split("\n").find((l) => l.startsWith("DRILL|cleanup|credentials|"));
  return line ? line.slice("DRILL|cleanup|credentials|".length) : "not confirmed (the drill script did not say)";
}

/** The confirmation question's sentence about the source. */
export function sourceQuestion(source: DrillSource): string {
  const pairs = [...source.hosts].map(([h, p]) => `${h} ← ${p.report.host}`).join(", ");
  return `The data comes from ${source.file} (${source.environment}), whose hosts are not contacted: each host restores the newest backups of a host of it from its off-site copy (${pairs}).`;
}

interface SourceReportLike {
  drill: { source?: DrillSourceSection };
  hosts: readonly {
    name: string;
    source?: DrillSourceHostReport;
    drill?: { scratch_db: string; workdir: string | null; cleanup: { scratch_db: string; workdir: string } };
  }[];
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The Markdown header table's Source row. */
export function sourceHeadRows(report: SourceReportLike): string[] {
  const s = report.drill.source;
  if (!s) return [];
  return [
    `| Source | ${cell(s.inventory_name)} (${s.environment}, ${cell(s.file)}): each host restored the newest backups of a host of it from its off-site copy; no host of ${cell(s.inventory_name)} was contacted |`,
  ];
}

/** The Markdown section on the source data: whose backups, from where, where they went and that they are gone. */
export function sourceMarkdown(report: SourceReportLike): string[] {
  const s = report.drill.source;
  if (!s) return [];
  const rows = report.hosts.flatMap((h) => {
    const p = h.source;
    if (!p) return [];
    const d = h.drill;
    const scratch = d
      ? `scratch database ${d.cleanup.scratch_db}; temporary folder ${d.cleanup.workdir}`
      : "not reached";
    return [
      `| ${h.name} | ${p.host} of ${cell(p.inventory_name)} (${p.via}) | s3://${p.bucket}/${p.prefix} at ${cell(p.endpoint)}${p.encrypted ? " (encrypted: decrypted with the source's identity)" : ""} | ${cell(scratch)} | ${cell(p.credentials)} |`,
    ];
  });
  return [
    "",
    "## Source data",
    "",
    (s.mode === "scratch"
      ? `The data of ${cell(s.inventory_name)} (${s.environment}) went only into scratch space on these hosts and was dropped afterwards, whatever happened.`
      : `The data of ${cell(s.inventory_name)} (${s.environment}) was restored over these hosts' live data (--live, drill.allow_live_from_source: true); its downloads were removed afterwards.`) +
      " The read-only keys and the age identity were on each host only in 0600 files of the backup user, for the drill's length.",
    "",
    "| Host | Restored | From | Where it was, and that it is gone | Credentials |",
    "|---|---|---|---|---|",
    ...rows,
  ];
}
