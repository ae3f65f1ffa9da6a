// --limit: which hosts of an inventory a run touches. Comma-separated patterns, each a host name, a
// group name (or `all`) or a glob over host names; `!pattern` excludes. A pattern that matches
// nothing is bad input (a typo must not silently shrink or widen a fleet-wide run).
import picomatch from "picomatch";
import { InputError } from "../errors.ts";
import type { Host, Inventory } from "./types.ts";

const GLOB_CHARS = /[*?[\]{}()!+@]/;

function matching(inv: Inventory, pattern: string): Set<string> {
  const out = new Set<string>();
  if (pattern === "all") {
    for (const h of inv.hosts) out.add(h.name);
    return out;
  }
  for (const h of inv.hosts) {
    if (h.name === pattern || h.groups.includes(pattern)) out.add(h.name);
  }
  if (GLOB_CHARS.test(pattern)) {
    const isMatch = picomatch(pattern, { dot: true, nocase: false });
    for (const h of inv.hosts) if (isMatch(h.name)) out.add(h.name);
  }
  return out;
}

/** Split on commas that are not inside a glob's {a,b} or [...] . */
function splitPatterns(limit: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of limit) {
    if (ch === "{" || ch === "[") depth++;
    else if ((ch === "}" || ch === "]") && depth > 0) depth--;
    if (ch === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** The hosts selected by `limit` (all when undefined), in inventory order. */
export function selectHosts(inv: Inventory, limit?: string): Host[] {
  if (limit === undefined) return [...inv.hosts];
  const patterns = splitPatterns(limit)
    .map((p) => p.trim())
    .filter((p) => p !== "");
  if (patterns.length === 0) {
    throw new InputError([`--limit: expected host, group or glob patterns separated by commas, got an empty value`]);
  }
  const problems: string[] = [];
  let include: Set<string> | undefined;
  const exclude = new Set<string>();
  for (const raw of patterns) {
    const negate = raw.startsWith("!");
    const pattern = negate ? raw.slice(1).trim() : raw;
    if (pattern === "") {
      problems.push(`--limit: ${raw}: expected a host, group or glob after !`);
      continue;
    }
    const names = matching(inv, pattern);
    if (names.size === 0) {
      problems.push(`--limit: ${raw}: matches no host or group in ${inv.file}`);
      continue;
    }
    if (negate) for (const n of names) exclude.add(n);
    else {
      include ??= new Set();
      for (const n of names) include.add(n);
    }
  }
  if (problems.length > 0) throw new InputError(problems);
  const selected = inv.hosts.filter((h) => (include === undefined || include.has(h.name)) && !exclude.has(h.name));
  if (selected.length === 0) throw new InputError([`--limit: ${limit}: selects no hosts (every match is excluded)`]);
  return selected;
}
