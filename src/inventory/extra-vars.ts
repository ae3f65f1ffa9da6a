// `-e` extra vars, as Ansible's: `key=value` (a dotted key nests), `@file.yml` (a YAML map), or a
// YAML flow map (`{retention: {daily_days: 7}}`). Values are typed as YAML scalars. The result is
// one unvalidated layer: the loader validates it against the vars schema with the other layers.
import { readFileSync } from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { InputError } from "../errors.ts";
import { isMap, mergeMaps } from "./merge.ts";
import { parseYamlDocument } from "./yaml.ts";

/** An unvalidated vars layer (what -e produces); validated with varsLayerSchema by the loader. */
export type VarsLayerLike = Record<string, unknown>;

const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);
const KEY_SEGMENT = /^[A-Za-z0-9_-]+$/;

/** A `-e` value: YAML scalar typing (7 → number, true → boolean), otherwise the text verbatim. */
function parseScalar(raw: string, arg: string): unknown {
  if (raw === "") return "";
  if (/^(true|True|TRUE|false|False|FALSE)$/.test(raw)) return /^t/i.test(raw);
  if (/^(null|Null|NULL|~)$/.test(raw)) return null;
  if (
    /^[-+]?(\d+|\d+\.\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw) ||
    /^0x[0-9a-fA-F]+$/.test(raw) ||
    /^0o[0-7]+$/.test(raw)
  ) {
    return YAML.parse(raw) as unknown;
  }
  if (/^["'[{]/.test(raw)) {
    // quoted strings and flow collections: [a, b], {env: NAME}
    const doc = YAML.parseDocument(raw, { prettyErrors: false });
    if (doc.errors.length > 0)
      throw new InputError([`-e ${arg}: the value is not valid YAML (${doc.errors[0]!.code})`]);
    return doc.toJS() as unknown;
  }
  return raw;
}

function setDotted(target: Record<string, unknown>, dotted: string, value: unknown, arg: string): void {
  const segs = dotted.split(".");
  if (segs.some((s) => !KEY_SEGMENT.test(s) || FORBIDDEN_KEYS.has(s))) {
    throw new InputError([
      `-e ${arg}: expected key=value with a key of letters, digits, _ and - separated by dots (e.g. retention.daily_days=7)`,
    ]);
  }
  let cur = target;
  for (const s of segs.slice(0, -1)) {
    if (!isMap(cur[s])) cur[s] = {};
    cur = cur[s] as Record<string, unknown>;
  }
  cur[segs[segs.length - 1]!] = value;
}

function checkKeys(v: unknown, where: string): void {
  if (Array.isArray(v)) v.forEach((x) => checkKeys(x, where));
  else if (isMap(v))
    for (const [k, x] of Object.entries(v)) {
      if (FORBIDDEN_KEYS.has(k)) throw new InputError([`${where}: the key ${k} is not allowed`]);
      checkKeys(x, where);
    }
}

/**
 * Parse the values of `-e` options, in order, into one vars layer (later ones win; maps merge).
 * `key=value` (dotted key = nested), `@file.yml` (a YAML map, relative to cwd) or a YAML flow map.
 * Validation against the vars schema happens in the loader.
 */
export function parseExtraVars(args: string[], cwd: string = process.cwd()): VarsLayerLike {
  let out: Record<string, unknown> = {};
  for (const arg of args) {
    if (arg.startsWith("@")) {
      const file = arg.slice(1);
      if (file === "") throw new InputError([`-e ${arg}: expected @<file.yml>`]);
      let text: string;
      try {
        text = readFileSync(path.resolve(cwd, file), "utf8");
      } catch (e) {
        throw new InputError([
          `-e ${arg}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        ]);
      }
      const data: unknown = parseYamlDocument(text, file).toJS();
      if (data === null || data === undefined) continue;
      if (!isMap(data)) throw new InputError([`${file}: expected a YAML map of vars`]);
      checkKeys(data, file);
      out = mergeMaps(out, data);
      continue;
    }
    if (arg.trimStart().startsWith("{")) {
      const v = parseScalar(arg.trim(), arg);
      if (!isMap(v)) throw new InputError([`-e ${arg}: expected a map`]);
      checkKeys(v, `-e ${arg}`);
      out = mergeMaps(out, v);
      continue;
    }
    const eq = arg.indexOf("=");
    if (eq <= 0) throw new InputError([`-e ${arg}: expected key=value (e.g. retention.daily_days=7) or @file.yml`]);
    const key = arg.slice(0, eq).trim();
    const value = parseScalar(arg.slice(eq + 1), arg);
    checkKeys(value, `-e ${key}`);
    const layer: Record<string, unknown> = {};
    setDotted(layer, key, value, arg);
    out = mergeMaps(out, layer);
  }
  return out;
}
