// Fact: type, mode, owner, group and sha256 of a list of paths. With `want` hashes, also the
// current content (base64) of regular files that differ, so --diff needs no extra round trip.
import { shellQuote } from "../render/quote.ts";

export interface PathFact {
  exists: boolean;
  type?: "file" | "directory" | "symlink" | "other";
  mode?: number;
  owner?: string;
  group?: string;
  sha256?: string;
  /** Current content, only gathered for differing files in diff mode. */
  content?: string;
}

export function filesCommand(
  paths: string[],
  opts: { wantSha?: (string | undefined)[]; withContent?: boolean } = {},
): string {
  return opts.withContent ? filesWithContentCommand(paths, opts.wantSha ?? []) : filesBatchCommand(paths);
}

/**
 * Two programs for any number of paths: one `stat -L` and one `sha256sum` (a per-path loop costs
 * two forks a path on every host of every run). -L: a managed path may be a symlink on purpose
 * (/var/run -> /run, a backup dir on another disk). Lines: `S|name|type|mode|owner|group` and
 * sha256sum's own `hash  name` (escaped with a leading backslash when the name needs it).
 * Paths hold no control characters (the schema's rule), so one line is one record.
 */
function filesBatchCommand(paths: string[]): string {
  if (paths.length === 0) return ":";
  return [
    `cep_p=(${paths.map((p) => shellQuote(p)).join(" ")})`,
    "cep_f=()",
    'for cep_x in "${cep_p[@]}"; do if [ -f "$cep_x" ]; then cep_f+=("$cep_x"); fi; done',
    "stat -L -c 'S|%n|%F|%a|%U|%G' -- \"${cep_p[@]}\" 2>/dev/null || true",
    'if [ "${#cep_f[@]}" -gt 0 ]; then sha256sum -- "${cep_f[@]}"; fi',
  ].join("\n");
}

/** --diff: per path, with the current content (base64) of regular files whose hash differs. */
function filesWithContentCommand(paths: string[], wantSha: (string | undefined)[]): string {
  const lines = [
    "cep_path_fact() {",
    "  local i=$1 p=$2 want=$3 s h=-",
    '  if [ ! -e "$p" ]; then printf "P|%s|absent\\n" "$i"; return; fi',
    '  s=$(stat -L -c "%F|%a|%U|%G" -- "$p")',
    '  if [ -f "$p" ]; then h=$(sha256sum < "$p"); h=${h%% *}; fi',
    '  printf "P|%s|%s|%s\\n" "$i" "$s" "$h"',
    '  if [ "$h" != - ] && [ -n "$want" ] && [ "$h" != "$want" ]; then printf "C|%s|" "$i"; base64 -w0 < "$p"; echo; fi',
    "}",
  ];
  paths.forEach((p, i) => lines.push(`cep_path_fact ${i} ${shellQuote(p)} ${shellQuote(wantSha[i] ?? "")}`));
  return lines.join("\n");
}

/** sha256sum escapes a name holding a backslash or newline: the line starts with "\\". */
function unescapeSum(line: string): { hash: string; name: string } {
  const escaped = line.startsWith("\\");
  const body = escaped ? line.slice(1) : line;
  const name = body.slice(66);
  return {
    hash: body.slice(0, 64),
    name: escaped ? name.replace(/\\(\\|n)/g, (_m, c: string) => (c === "n" ? "\n" : "\\")) : name,
  };
}

const TYPES: Record<string, PathFact["type"]> = {
  "regular file": "file",
  "regular empty file": "file",
  directory: "directory",
  "symbolic link": "symlink",
};

export function parseFiles(output: string, paths: string[]): Map<string, PathFact> {
  const facts = new Map<string, PathFact>(paths.map((p) => [p, { exists: false }]));
  for (const line of output.split("\n")) {
    if (line.startsWith("S|")) {
      // The name may hold "|": the last four fields are fixed.
      const f = line.slice(2).split("|");
      const [type, mode, owner, group] = f.slice(-4);
      const path = f.slice(0, -4).join("|");
      if (facts.has(path))
        facts.set(path, {
          ...facts.get(path),
          exists: true,
          type: TYPES[type ?? ""] ?? "other",
          mode: parseInt(mode ?? "0", 8),
          owner,
          group,
        });
      continue;
    }
    if (/^\\?[0-9a-f]{64}  /.test(line)) {
      const { hash, name } = unescapeSum(line);
      const f = facts.get(name);
      if (f) f.sha256 = hash;
      continue;
    }
    const parts = line.split("|");
    const path = paths[Number(parts[1])];
    if (path === undefined) continue;
    if (parts[0] === "P") {
      if (parts[2] === "absent") continue;
      const [, , type, mode, owner, group, sha] = parts;
      facts.set(path, {
        exists: true,
        type: TYPES[type ?? ""] ?? "other",
        mode: parseInt(mode ?? "0", 8),
        owner,
        group,
        sha256: sha && sha !== "-" ? sha : undefined,
      });
    } else if (parts[0] === "C") {
      const f = facts.get(path);
      if (f) f.content = Buffer.from(parts.slice(2).join("|"), "base64").toString("utf8");
    }
  }
  return facts;
}
