// Fact: type, mode, owner, group and sha256 of a list of paths. With `want` hashes, also the
// current content (base64) of regular files that differ, so --diff needs no extra round trip.
import { remoteScript } from "../render/remote.ts";

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

/** One `stat -L` and one `sha256sum` for any number of paths: templates/remote/facts/files.sh. */
function filesBatchCommand(paths: string[]): string {
  return remoteScript("facts/files.sh", { CEP_PATHS: paths });
}

/** --diff: per path, with the current content (base64) of regular files whose hash differs: facts/files-content.sh. */
function filesWithContentCommand(paths: string[], wantSha: (string | undefined)[]): string {
  return remoteScript("facts/files-content.sh", { CEP_PATHS: paths, CEP_WANT: paths.map((_, i) => wantSha[i] ?? "") });
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
