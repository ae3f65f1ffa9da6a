// The options every playbook shares, parsed and checked in one place. Bad arguments are bad input
// (InputError → exit 1) before anything is contacted.
import { parseArgs } from "node:util";
import { InputError } from "../errors.ts";
import { TAGS } from "../backup/desired.ts";

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
  /** Where a drill restores from: the hosts' own backups (default) or their off-site copy. */
  from?: "local" | "offsite";
  /** The drill reports' folder (default reports/drills/<inventory>/): drill writes there, status reads. */
  reportDir?: string;
  rest: string[];
}

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
  "from",
  "reportDir",
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
  from: "--from",
  reportDir: "--report-dir",
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
  ["from", "  --from local|offsite             restore the hosts' own backups (default) or their off-site copy"],
  ["reportDir", "  --report-dir DIR                 the drill reports' folder (default reports/drills/<inventory>/)"],
  [undefined, "  --forks N                        hosts at once (default 10)"],
  ["serial", "  --serial N|N%                    rolling batches"],
  ["maxFailPercent", "  --max-fail-percent N             stop after a batch whose failed share exceeds N"],
  [undefined, "  --json FILE                      machine-readable report"],
  [undefined, "  -e key=value | -e @vars.yml      extra vars (dotted keys nest: -e retention.daily_days=7)"],
  [undefined, "  --accept-new-host-keys           record unknown host keys (a changed key always fails)"],
  ["skipSmoke", "  --skip-smoke                     no smoke backup / test restore"],
  ["verbose", "  --verbose                        also list what needed no change, and why"],
];

/** The options block of a job's usage text: only what it takes. */
export function optionsUsage(supports: readonly JobOption[]): string {
  return ["Options:", ...HELP.filter(([k]) => k === undefined || supports.includes(k)).map(([, l]) => l)].join("\n");
}

function positiveInt(name: string, v: string | undefined, min = 1): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min)
    throw new InputError([`arguments: --${name}: expected an integer >= ${min}, got "${v}"`]);
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
      `arguments: --${name}: unknown tag ${bad.map((b) => `"${b}"`).join(", ")}; expected one of ${TAGS.join(", ")}`,
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
  from: { type: "string" },
  "report-dir": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

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
      throw new InputError([`arguments: --serial: expected N or N% (1-100%), got "${v.serial}"`]);
    serial = m[2] ? { percent: Number(m[1]) } : { count: Number(m[1]) };
  }
  const maxFail = positiveInt("max-fail-percent", v["max-fail-percent"], 0);
  if (maxFail !== undefined && maxFail > 100)
    throw new InputError([`arguments: --max-fail-percent: expected 0-100, got ${maxFail}`]);
  if (v.from !== undefined && v.from !== "local" && v.from !== "offsite")
    throw new InputError([`arguments: --from: expected local or offsite, got "${v.from}"`]);
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
    from: v.from as CommonOptions["from"],
    reportDir: v["report-dir"],
  };
}
