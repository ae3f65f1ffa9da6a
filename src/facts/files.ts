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

export function filesCommand(paths: string[], opts: { wantSha?: (string | undefined)[]; withContent?: boolean } = {}): string {
  const lines = [
    "cep_path_fact() {",
    '  local i=$1 p=$2 want=$3 s h=-',
    '  if [ ! -e "$p" ] && [ ! -L "$p" ]; then printf "P|%s|absent\\n" "$i"; return; fi',
    // -L: a managed path may be a symlink on purpose (/var/run -> /run, a backup dir on another disk).
    '  s=$(stat -L -c "%F|%a|%U|%G" -- "$p" 2>/dev/null) || s="dangling symlink|0|-|-"',
    '  if [ -f "$p" ] && [ ! -L "$p" ]; then h=$(sha256sum < "$p"); h=${h%% *}; fi',
    '  printf "P|%s|%s|%s\\n" "$i" "$s" "$h"',
    `  if [ ${opts.withContent ? 1 : 0} = 1 ] && [ "$h" != - ] && [ -n "$want" ] && [ "$h" != "$want" ]; then printf "C|%s|" "$i"; base64 -w0 < "$p"; echo; fi`,
    "}",
  ];
  paths.forEach((p, i) => lines.push(`cep_path_fact ${i} ${shellQuote(p)} ${shellQuote(opts.wantSha?.[i] ?? "")}`));
  return lines.join("\n");
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
