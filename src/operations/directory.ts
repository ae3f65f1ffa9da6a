// Operation: a directory with mode and owner (parents created as needed).
import type { DesiredDir } from "../backup/desired.ts";
import type { PathFact } from "../facts/files.ts";
import { shellQuote } from "../render/quote.ts";
import { modeString, type Planned } from "./types.ts";

export function planDirectory(d: DesiredDir, fact: PathFact): Planned {
  const base = { id: `dir:${d.path}`, name: `directory ${d.path}`, tags: d.tags };
  if (fact.exists && fact.type !== "directory") {
    return {
      ...base,
      changed: false,
      reason: "",
      script: "",
      error: `${d.path} exists but is a ${fact.type}, not a directory`,
    };
  }
  const want = `${modeString(d.mode)} ${d.owner}:${d.group}`;
  if (d.ensureOnly && fact.exists)
    return {
      ...base,
      changed: false,
      reason: `${d.path} exists (a system directory: mode and owner left as they are)`,
      script: "",
    };
  if (fact.exists && fact.mode === d.mode && fact.owner === d.owner && fact.group === d.group) {
    return { ...base, changed: false, reason: `${d.path} exists (${want})`, script: "" };
  }
  const why = fact.exists ? `${modeString(fact.mode ?? 0)} ${fact.owner}:${fact.group} → ${want}` : `create (${want})`;
  const q = shellQuote(d.path);
  return {
    ...base,
    changed: true,
    reason: `${d.path}: ${why}`,
    // Parents get 0755 whatever the apply script's umask (077): a non-root backup user must reach
    // /infra/backup/scripts. On an owner change of a tree the user writes into (backups, logs), the
    // files already there change owner too, or the next job could not append to its own log.
    script: [
      `(umask 022 && mkdir -p -- ${q})`,
      `chmod ${modeString(d.mode)} -- ${q}`,
      // -H: a directory that is a symlink (a backup dir on another disk) changes its target's owner.
      `chown${d.recurse && fact.exists && (fact.owner !== d.owner || fact.group !== d.group) ? " -R -H" : ""} ${shellQuote(`${d.owner}:${d.group}`)} -- ${q}`,
    ].join("\n"),
  };
}
