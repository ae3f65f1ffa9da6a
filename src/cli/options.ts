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
  rest: string[];
}

export const USAGE_OPTIONS = `Options:
  --limit <host|group|glob,...>   only these hosts (!pattern excludes)
  --tags <t,...> / --skip-tags <t,...>   ${TAGS.join(", ")}
  --check                          change nothing, report what would change
  --diff                           unified diff of every file that would change (secrets masked)
  --forks N                        hosts at once (default 10)
  --serial N|N%                    rolling batches
  --max-fail-percent N             stop after a batch whose failed share exceeds N
  --json FILE                      machine-readable report
  -e key=value                     extra vars (dotted keys nest: -e retention.daily_days=7)
  --accept-new-host-keys           record unknown host keys (a changed key always fails)
  --skip-smoke                     no smoke backup / test restore
  --verbose                        more output`;

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

export function parseCommonArgs(argv: string[], usage: string): CommonOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
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
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new InputError([`arguments: ${(e as Error).message}`, usage]);
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
  };
}
