// The bench's arguments: parsed and checked before anything starts (bad input → InputError, exit 1).
import { parseArgs } from "node:util";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { InputError } from "../errors.ts";

/** The project's root (the bench runs its playbooks and reads bench/ansible from there). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export const USAGE = `Usage: npm run bench -- [options]

Options:
  --hosts N          lab hosts; no-op re-provision is measured on 1, 10 and N (default 25)
  --scale S          small (default: the lab's seeded data) or large (+ ~1 GB of media in a few
                     thousand files and a million-row table on lab1; needs ~3 GB free in $TMPDIR)
  --rows N           rows generated for --scale large, over 4 tables (default 1000000)
  --media-side       also back up a generated tree of small files (--media-files, default 100000) with
                     backup-media.sh and with bare rsync side by side (on by default with --scale large)
  --media-files N    the side by side's file count (default 100000)
  --reps R           repetitions per figure, the median is reported (default 5)
  --json FILE        where the JSON results go (default bench/results/latest.json)
  --ansible          also run bench/ansible/noop.yml with ansible-playbook (apt-get install ansible-core)
  --forks N          passed to provision (default: provision's own, 10)
  -h, --help         this help
`;

export interface BenchOptions {
  hosts: number;
  reps: number;
  /** undefined: provision's own default. */
  forks?: number;
  scale: "small" | "large";
  /** Rows generated for --scale large. */
  rows: number;
  /** Absolute path of the JSON results. */
  json: string;
  ansible: boolean;
  /** The media side by side with bare rsync (--media-side, or --scale large). */
  mediaSide: boolean;
  mediaFiles: number;
  /** The arguments as given (recorded in the JSON as the command that reproduces the run). */
  argv: string[];
}

function int(name: string, v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
    throw new InputError([`arguments: --${name}: expected an integer from ${min} to ${max}, got "${v}"`]);
  return Number(v);
}

/** The options, or "help" for -h/--help. `cwd` resolves a relative --json; `repo` holds the default one. */
export function parseBenchArgs(
  argv: string[],
  { cwd = process.cwd(), repo = REPO }: { cwd?: string; repo?: string } = {},
): BenchOptions | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        hosts: { type: "string" },
        scale: { type: "string" },
        reps: { type: "string" },
        rows: { type: "string" },
        json: { type: "string" },
        ansible: { type: "boolean" },
        "media-side": { type: "boolean" },
        "media-files": { type: "string" },
        forks: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new InputError([`arguments: ${(e as Error).message}`]);
  }
  const a = parsed.values;
  if (a.help) return "help";
  const hosts = int("hosts", a.hosts, 25, 1, 200);
  const reps = int("reps", a.reps, 5, 1, 50);
  const rows = int("rows", a.rows, 1_000_000, 1000, 100_000_000);
  const forks = a.forks === undefined ? undefined : int("forks", a.forks, 10, 1, 500);
  const mediaFiles = int("media-files", a["media-files"], 100_000, 100, 1_000_000);
  const scale = a.scale ?? "small";
  if (scale !== "small" && scale !== "large")
    throw new InputError([`arguments: --scale: expected small or large, got "${scale}"`]);
  return {
    hosts,
    reps,
    forks,
    scale,
    rows,
    json: resolve(cwd, a.json ?? join(repo, "bench/results/latest.json")),
    ansible: a.ansible ?? false,
    mediaSide: (a["media-side"] ?? false) || scale === "large",
    mediaFiles,
    argv,
  };
}
