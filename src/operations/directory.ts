// Operation: a directory with mode and owner (parents created as needed).
import type { DesiredDir } from "../backup/desired.ts";
import type { PathFact } from "../facts/files.ts";
import { shellQuote } from "../render/quote.ts";
import { modeString, type Planned } from "./types.ts";

export function planDirectory(d: DesiredDir, fact: PathFact): Planned {
  const base = { id: `dir:${d.path}`, name: `directory ${d.path}`, tags: d.tags };
  if (fact.exists && fact.type !== "directory") {
    return { ...base, changed: false, reason: "", script: "", error: `${d.path} exists but is a ${fact.type}, not a directory` };
  }
  const want = `${modeString(d.mode)} ${d.owner}:${d.group}`;
  if (fact.exists && fact.mode === d.mode && fact.owner === d.owner && fact.group === d.group) {
    return { ...base, changed: false, reason: `${d.path} exists (${want})`, script: "" };
  }
  const why = fact.exists ? `${modeString(fact.mode ?? 0)} ${fact.owner}:${fact.group} → ${want}` : `create (${want})`;
  const q = shellQuote(d.path);
  return {
    ...base,
    changed: true,
    reason: `${d.path}: ${why}`,
    script: `mkdir -p -- ${q}\nchmod ${modeString(d.mode)} -- ${q}\nchown ${shellQuote(`${d.owner}:${d.group}`)} -- ${q}`,
  };
}
