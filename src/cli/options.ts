// The options every playbook shares, parsed and checked in one place. Bad arguments are bad input
// (InputError → exit 1) before anything is contacted.
import { parseArgs } from "node:util";
import { InputError } from "../errors.ts";
import { TAGS } from "../backup/desired.ts";
import { shown } from "../inventory/shown.ts";

export interface CommonOptions {
  inventory: string;
  limit?: string;
  tags?: string[];
  skipTags?: string[];
  check: boolean;
  diff: boolean;
  forks: number;
  serial?: { count: number } | { percent: number };
  maxFailPercent?: number;
  json?: string;
  extraVars: string[];
  acceptNewHostKeys: boolean;
  skipSmoke: boolean;
  verbose: boolean;
  force: boolean;
  /** backups: only this kind of restore point. */
  kind?: BackupKind;
  /** backups: verify every restore point's checksum, not only the newest of each kind. */
  verifyAll: boolean;
  /** backups: also list the off-site copy (issue 8). */
  offsite: boolean;
  /** restore: what to restore. */
  component?: Component;
  /** restore: the restore point by name (or "latest"). */
  backup?: string;
  /** restore: the newest restore point not newer than this time (as given; see src/restore/select.ts). */
  at?: string;
  /** restore: where the backup is read from. */
  from?: "local" | "offsite";
  /** restore: the database to restore into (default the app's). */
  targetDb?: string;
  /** restore: the folder to restore into (default the media or app folder). */
  target?: string;
  /** The drill reports' folder (default reports/drills/<inventory>/): drill writes there, status reads. */
  reportDir?: string;
  /** drill: restore over the live data (--live) instead of scratch space (--scratch, the default). */
  live: boolean;
  scratch: boolean;
  /** drill: the inventory whose off-site copy the hosts restore (production's, on staging). */
  source?: string;
  rest: string[];
}

export const BACKUP_KINDS = ["database", "weekly", "monthly", "media", "config"] as const;
export type BackupKind = (typeof BACKUP_KINDS)[number];
export const COMPONENTS = ["database", "media", "config"] as const;
export type Component = (typeof COMPONENTS)[number];

/** The options a job may or may not take: each job lists the ones it supports (its `supports`). */
export const JOB_OPTIONS = [
  "check",
  "diff",
  "tags",
  "skipTags",
  "serial",
  "maxFailPercent",
  "force",
  "skipSmoke",
  "verbose",
  "kind",
  "verifyAll",
  "offsite",
  "component",
  "backup",
  "at",
  "from",
  "targetDb",
  "target",
  "reportDir",
  "live",
  "scratch",
  "source",
] as const;
export type JobOption = (typeof JOB_OPTIONS)[number];

export const FLAGS: Record<JobOption, string> = {
  check: "--check",
  diff: "--diff",
  tags: "--tags",
  skipTags: "--skip-tags",
  serial: "--serial",
  maxFailPercent: "--max-fail-percent",
  force: "--force",
  skipSmoke: "--skip-smoke",
  verbose: "--verbose",
  kind: "--kind",
  verifyAll: "--verify-all",
  offsite: "--offsite",
  component: "--component",
  backup: "--backup",
  at: "--at",
  from: "--from",
  targetDb: "--target-db",
  target: "--target",
  reportDir: "--report-dir",
  live: "--live",
  scratch: "--scratch",
  source: "--source",
};

/** The job options given on the command line (a default is not "given"). */
export function givenOptions(opts: CommonOptions): JobOption[] {
  return JOB_OPTIONS.filter((k) => (typeof opts[k] === "boolean" ? opts[k] : opts[k] !== undefined));
}

/** Every option given that a job does not take, as bad input (before anything is contacted). */
export function refuseUnsupported(
  job: { name: string; supports: readonly JobOption[]; refuses?: string },
  opts: CommonOptions,
): void {
  const refused = givenOptions(opts).filter((o) => !job.supports.includes(o));
  if (refused.length)
    throw new InputError(
      refused.map(
        (o) => `arguments: ${FLAGS[o]}: not supported by ${job.name}${job.refuses ? ` (${job.refuses})` : ""}`,
      ),
    );
}

/** Help lines: every job takes the untagged ones; the others only where the job supports them. */
const HELP: [JobOption | undefined, string][] = [
  [undefined, "  --limit <host|group|glob,...>    only these hosts (!pattern excludes)"],
  ["tags", `  --tags <t,...>                   only these tags: ${TAGS.join(", ")}`],
  ["skipTags", "  --skip-tags <t,...>              all but these tags"],
  ["check", "  --check                          change nothing, report what would change"],
  ["diff", "  --diff                           unified diff of every file that would change (secrets masked)"],
  ["force", "  --force                          do not ask for confirmation (needed without a terminal)"],
  ["reportDir", "  --report-dir DIR                 the drill reports' folder (default reports/drills/<inventory>/)"],
  ["scratch", "  --scratch                        restore into a scratch database and temporary folders (default)"],
  [
    "live",
    "  --live                           restore over the live database, media and app config, then drill.verify_command",
  ],
  [undefined, "  --forks N                        hosts at once (default 10)"],
  ["serial", "  --serial N|N%                    rolling batches"],
  ["maxFailPercent", "  --max-fail-percent N             stop after a batch whose failed share exceeds N"],
  [undefined, "  --json FILE                      machine-readable report"],
  [undefined, "  -e key=value | -e @vars.yml      extra vars (dotted keys nest: -e retention.daily_days=7)"],
  [undefined, "  --accept-new-host-keys           record unknown host keys (a changed key always fails)"],
  ["skipSmoke", "  --skip-smoke                     no smoke backup / test restore"],
  ["verbose", "  --verbose                        also list what needed no change, and why"],
  ["kind", `  --kind ${BACKUP_KINDS.join("|")}   only this kind of restore point`],
  [
    "verifyAll",
    "  --verify-all                     check every restore point's checksum (default: the newest of each kind)",
  ],
  ["offsite", "  --offsite                        also list the off-site copy (where: local, off-site, both)"],
  ["component", `  --component ${COMPONENTS.join("|")}   what to restore (required)`],
  ["backup", "  --backup NAME|latest             the restore point by name (default latest)"],
  ["at", "  --at TIME                        the newest restore point not newer than TIME (ISO, or 2d/6h/30m ago)"],
  [
    "from",
    "  --from local|offsite             only the host's copy, or the off-site copy (default: the host's; restore\n" +
      "                                   then falls back to the off-site copy when it is missing or fails its checksum)",
  ],
  [
    "source",
    "  --source INVENTORY               restore each host from that inventory's off-site copy (drill.source, drill.map)",
  ],
  ["targetDb", "  --target-db NAME                 restore into this database (default the app's)"],
  ["target", "  --target DIR                     restore into this folder (default the media or app folder)"],
];

/** The options block of a job's usage text: only what it takes. */
export function optionsUsage(supports: readonly JobOption[]): string {
  return ["Options:", ...HELP.filter(([k]) => k === undefined || supports.includes(k)).map(([, l]) => l)].join("\n");
}

function positiveInt(name: string, v: string | undefined, min = 1): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min)
    throw new InputError([`arguments: --${name}: expected an integer >= ${min}, got ${shown(v)}`]);
  return Number(v);
}

function tagList(name: string, v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const list = v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = list.filter((t) => !(TAGS as readonly string[]).includes(t));
  if (bad.length)
    throw new InputError([
      `arguments: --${name}: unknown tag ${bad.map((b) => shown(b)).join(", ")}; expected one of ${TAGS.join(", ")}`,
    ]);
  return list;
}

/** Levenshtein distance (insertions, deletions, substitutions; a swap of two letters counts 2). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The known option nearest to a mistyped one (`--chek` → `--check`), if one is close enough to be meant. */
export function suggestOption(given: string, known: readonly string[]): string | undefined {
  const name = given.split("=")[0]!;
  let best: { option: string; d: number } | undefined;
  for (const k of known) {
    const d = editDistance(name, k);
    if (!best || d < best.d) best = { option: k, d };
  }
  return best && best.d <= Math.min(2, Math.floor(name.replace(/^-+/, "").length / 3)) ? best.option : undefined;
}

const OPTIONS = {
  limit: { type: "string", short: "l" },
  tags: { type: "string", short: "t" },
  "skip-tags": { type: "string" },
  check: { type: "boolean", short: "C" },
  diff: { type: "boolean", short: "D" },
  forks: { type: "string", short: "f" },
  serial: { type: "string" },
  "max-fail-percent": { type: "string" },
  json: { type: "string" },
  "extra-vars": { type: "string", short: "e", multiple: true },
  "accept-new-host-keys": { type: "boolean" },
  "skip-smoke": { type: "boolean" },
  verbose: { type: "boolean", short: "v" },
  force: { type: "boolean" },
  kind: { type: "string" },
  "verify-all": { type: "boolean" },
  offsite: { type: "boolean" },
  component: { type: "string" },
  backup: { type: "string" },
  at: { type: "string" },
  from: { type: "string" },
  "target-db": { type: "string" },
  target: { type: "string" },
  "report-dir": { type: "string" },
  live: { type: "boolean" },
  scratch: { type: "boolean" },
  source: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

function choice<T extends string>(name: string, v: string | undefined, choices: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(choices as readonly string[]).includes(v))
    throw new InputError([`arguments: --${name}: expected one of ${choices.join(", ")}, got ${shown(v)}`]);
  return v as T;
}

/** A value matching `re` (names that reach paths or SQL), else bad input saying what was expected. */
function matching(name: string, v: string | undefined, re: RegExp, expected: string): string | undefined {
  if (v === undefined) return undefined;
  if (!re.test(v)) throw new InputError([`arguments: --${name}: expected ${expected}, got ${shown(v)}`]);
  return v;
}

/** A backup's file or folder name as the backup scripts write them: no path, no leading dot. */
export const BACKUP_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,200}$/;
/** A database name: the inventory schema's rule for database.name. */
export const DB_NAME_RE = /^[a-z_][a-z0-9_]{0,62}$/;

export function parseCommonArgs(argv: string[], usage: string): CommonOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: OPTIONS,
    });
  } catch (e) {
    const err = e as Error & { code?: string };
    const unknown = err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ? /Unknown option '([^']+)'/.exec(err.message) : null;
    if (unknown) {
      const meant = suggestOption(
        unknown[1]!,
        Object.keys(OPTIONS).map((o) => `--${o}`),
      );
      throw new InputError([
        `arguments: unknown option ${unknown[1]}${meant ? ` (did you mean ${meant}?)` : ""}`,
        usage,
      ]);
    }
    throw new InputError([`arguments: ${err.message}`, usage]);
  }
  const v = parsed.values;
  if (v.help) throw new InputError([usage]);
  const [inventory, ...rest] = parsed.positionals;
  if (!inventory) throw new InputError(["arguments: expected an inventory name or path", usage]);
  let serial: CommonOptions["serial"];
  if (v.serial !== undefined) {
    const m = /^(\d+)(%?)$/.exec(v.serial);
    if (!m || Number(m[1]) < 1 || (m[2] && Number(m[1]) > 100))
      throw new InputError([`arguments: --serial: expected N or N% (1-100%), got ${shown(String(v.serial))}`]);
    serial = m[2] ? { percent: Number(m[1]) } : { count: Number(m[1]) };
  }
  const maxFail = positiveInt("max-fail-percent", v["max-fail-percent"], 0);
  if (v.live && v.scratch)
    throw new InputError(["arguments: --live and --scratch: give one (--scratch is the default)"]);
  if (maxFail !== undefined && maxFail > 100)
    throw new InputError([`arguments: --max-fail-percent: expected 0-100, got ${maxFail}`]);
  return {
    inventory,
    rest,
    limit: v.limit,
    tags: tagList("tags", v.tags),
    skipTags: tagList("skip-tags", v["skip-tags"]),
    check: v.check ?? false,
    diff: v.diff ?? false,
    forks: positiveInt("forks", v.forks) ?? 10,
    serial,
    maxFailPercent: maxFail,
    json: v.json,
    extraVars: v["extra-vars"] ?? [],
    acceptNewHostKeys: v["accept-new-host-keys"] ?? false,
    skipSmoke: v["skip-smoke"] ?? false,
    verbose: v.verbose ?? false,
    force: v.force ?? false,
    kind: choice("kind", v.kind, BACKUP_KINDS),
    verifyAll: v["verify-all"] ?? false,
    offsite: v.offsite ?? false,
    component: choice("component", v.component, COMPONENTS),
    backup: matching(
      "backup",
      v.backup,
      BACKUP_NAME_RE,
      "a restore point's name as `npm run backups` lists it, or latest",
    ),
    at: matching("at", v.at, /^\S{1,64}$/, "a time (ISO 8601, or 2d, 6h, 30m ago)"),
    from: choice("from", v.from, ["local", "offsite"] as const),
    targetDb: matching(
      "target-db",
      v["target-db"],
      DB_NAME_RE,
      "a database name (lowercase letters, digits and _, at most 63)",
    ),
    target: matching("target", v.target, /^\/[^\n\0]*$/, "an absolute folder path"),
    reportDir: v["report-dir"],
    live: v.live ?? false,
    scratch: v.scratch ?? false,
    source: matching("source", v.source, /^[^\u0000-\u001f\u007f]{1,4096}$/u, "an inventory name or path"),
  };
}
