// Vars: the precedence merge (defaults < inventory vars < group vars < host vars < -e), path
// derivation from app/prefix, validation of the merged result, and zod issues turned into
// operator-readable "key.path: expected ..." problems. Values are never echoed in messages (a
// misplaced secret must not end up on a terminal or in a CI log).
import { readFileSync } from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { z } from "zod";
import { InputError } from "../errors.ts";
import { parseYamlDocument } from "./yaml.ts";
import { DEFAULT_VARS, derivePaths } from "./defaults.ts";
import {
  absPath,
  cronExpression,
  identifier,
  relPath,
  secretRef,
  unixOwner,
  unixUser,
  varsSchema,
  type PathVars,
  type Vars,
  type VarsLayer,
} from "./schema.ts";

/** An unvalidated vars layer (what -e produces); validated with varsLayerSchema by the loader. */
export type VarsLayerLike = Record<string, unknown>;

// ---- issue formatting ------------------------------------------------------------------------

type Path = readonly PropertyKey[];

/** `a.b[2].c` — the key path as an operator reads it. */
export function keyPath(p: Path): string {
  let s = "";
  for (const k of p) {
    if (typeof k === "number") s += `[${k}]`;
    else s += s === "" ? String(k) : `.${String(k)}`;
  }
  return s;
}

/** Join a prefix and a key path ("hosts.web1" + "ssh.port"). */
export function joinKey(prefix: string, rest: string): string {
  if (prefix === "") return rest;
  if (rest === "") return prefix;
  return rest.startsWith("[") ? `${prefix}${rest}` : `${prefix}.${rest}`;
}

// zod 4 internals used read-only to describe what a schema expects.
interface ZodInternals {
  _zod: { def: { type: string; [k: string]: unknown } };
}
const def = (s: unknown) => (s as ZodInternals)._zod.def;

function unwrap(s: unknown): unknown {
  let cur = s;
  for (let i = 0; i < 20; i++) {
    const d = def(cur);
    if (
      d.type === "optional" ||
      d.type === "default" ||
      d.type === "nullable" ||
      d.type === "prefault" ||
      d.type === "readonly"
    ) {
      cur = d["innerType"];
    } else if (d.type === "pipe") {
      cur = d["in"];
    } else return cur;
  }
  return cur;
}

/** The schema that validates the value at `p` under `root` (best effort; undefined if unknown). */
export function schemaAt(root: unknown, p: Path): unknown {
  let cur: unknown = unwrap(root);
  for (const k of p) {
    const d = def(cur);
    if (d.type === "object") {
      const shape = d["shape"] as Record<string, unknown>;
      if (typeof k !== "string" || !(k in shape)) return undefined;
      cur = shape[k];
    } else if (d.type === "record") {
      cur = d["valueType"];
    } else if (d.type === "array") {
      cur = d["element"];
    } else if (d.type === "union") {
      const options = d["options"] as unknown[];
      const found = options.map((o) => schemaAt(o, [k])).find((x) => x !== undefined);
      if (found === undefined) return undefined;
      cur = found;
    } else return undefined;
    cur = unwrap(cur);
  }
  return cur;
}

const KNOWN: [unknown, string][] = [
  [secretRef, "a secret reference { env: NAME } or { vault: key } (secrets are never plaintext in an inventory)"],
  [cronExpression, "a 5-field cron expression (minute hour day month weekday)"],
  [absPath, "an absolute path (starting with /)"],
  [relPath, "a path relative to app_dir"],
  [identifier, "a lowercase identifier: letters, digits and _ (at most 63), not starting with a digit"],
  [unixUser, "a Unix user name (lowercase letters, digits, _ and -)"],
  [unixOwner, "a Unix owner: user or user:group"],
];

function numberRange(s: unknown): string {
  const n = s as { minValue?: number | null; maxValue?: number | null; isInt?: boolean };
  const lim = 2 ** 53 - 1;
  const min =
    typeof n.minValue === "number" && Math.abs(n.minValue) < lim && Number.isFinite(n.minValue)
      ? n.minValue
      : undefined;
  const max =
    typeof n.maxValue === "number" && Math.abs(n.maxValue) < lim && Number.isFinite(n.maxValue)
      ? n.maxValue
      : undefined;
  // exclusive minimum of 0 (positive()) shows as "greater than 0"
  const checks =
    (def(s)["checks"] as { _zod: { def: { check: string; value: number; inclusive: boolean } } }[] | undefined) ?? [];
  const exclusiveMin = checks.find((c) => c._zod.def.check === "greater_than" && !c._zod.def.inclusive);
  const noun = n.isInt ? "a whole number" : "a number";
  if (min !== undefined && max !== undefined) return `a number between ${min} and ${max}`;
  if (exclusiveMin) return `${noun} greater than ${exclusiveMin._zod.def.value}`;
  if (min !== undefined) return `${noun} of at least ${min}`;
  if (max !== undefined) return `${noun} of at most ${max}`;
  return noun;
}

/** What a schema expects, in words. */
export function describe(s: unknown): string {
  if (s === undefined) return "a valid value";
  const u = unwrap(s);
  for (const [k, text] of KNOWN) if (u === k) return text;
  const d = def(u);
  switch (d.type) {
    case "number":
      return numberRange(u);
    case "string": {
      const checks = (d["checks"] as { _zod: { def: { check: string; error?: unknown } } }[] | undefined) ?? [];
      for (const c of checks) {
        const err = c._zod.def.error;
        if (typeof err === "function") {
          const m = (err as (i: unknown) => unknown)({});
          if (typeof m === "string") return m;
          if (m && typeof m === "object" && typeof (m as { message?: unknown }).message === "string")
            return (m as { message: string }).message;
        }
      }
      return "a string";
    }
    case "boolean":
      return "true or false";
    case "enum":
      return `one of ${Object.values(d["entries"] as Record<string, string>).join(", ")}`;
    case "literal":
      return (d["values"] as unknown[]).map((v) => (v === "" ? '"" (empty)' : JSON.stringify(v))).join(" or ");
    case "object":
      return `a map with the keys ${Object.keys(d["shape"] as object).join(", ")}`;
    case "record":
      return "a map";
    case "array":
      return `a list (each item ${describe(d["element"])})`;
    case "union":
      return (d["options"] as unknown[]).map(describe).join(", or ");
    default:
      return "a valid value";
  }
}

function typeName(v: unknown): string {
  if (v === null) return "an empty value (null)";
  if (Array.isArray(v)) return "a list";
  switch (typeof v) {
    case "string":
      return "a string";
    case "number":
      return Number.isInteger(v) ? "a whole number" : "a number";
    case "boolean":
      return "true/false";
    case "object":
      return "a map";
    default:
      return typeof v;
  }
}

function valueAt(data: unknown, p: Path): unknown {
  let cur = data;
  for (const k of p) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k as string];
  }
  return cur;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) dp[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min(dp[i - 1]![j]! + 1, dp[i]![j - 1]! + 1, dp[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, dp[i - 2]![j - 2]! + 1); // transposition
      dp[i]![j] = d;
    }
  return dp[a.length]![b.length]!;
}

const stripInvalid = (m: string) => !/^(Invalid|Too (small|big)|Unrecognized)/.test(m);

/** One problem: the key path (relative to the parsed value) and what was expected. */
export interface Problem {
  path: PropertyKey[];
  message: string;
}

/**
 * Turn zod issues into problems. `root` is the schema that was parsed and `data` the input, used to
 * describe what was expected and whether a value was missing. Never echoes input values.
 */
export function issuesToProblems(
  issues: readonly z.core.$ZodIssue[],
  root: unknown,
  data: unknown,
  base: PropertyKey[] = [],
): Problem[] {
  const out: Problem[] = [];
  for (const iss of issues) {
    const p = [...base, ...iss.path];
    const here = schemaAt(root, p);
    const value = valueAt(data, p);
    switch (iss.code) {
      case "invalid_type": {
        if (iss.expected === "int" && typeof value === "number") {
          out.push({
            path: p,
            message: `expected a whole number${here !== undefined && describe(here).startsWith("a number between") ? describe(here).replace(/^a number/, "") : ""}, got a fraction`,
          });
          break;
        }
        const want = here !== undefined ? describe(here) : iss.expected;
        if (value === undefined) out.push({ path: p, message: `required: expected ${want}` });
        else out.push({ path: p, message: `expected ${want}, got ${typeName(value)}` });
        break;
      }
      case "invalid_value":
        out.push({ path: p, message: `expected one of ${iss.values.map((v) => String(v)).join(", ")}` });
        break;
      case "too_small":
      case "too_big": {
        if (iss.origin === "number" || iss.origin === "bigint")
          out.push({ path: p, message: `expected ${describe(here)}` });
        else if (iss.origin === "string")
          out.push({
            path: p,
            message:
              iss.code === "too_small"
                ? Number(iss.minimum) === 1
                  ? "expected a non-empty string"
                  : `expected a string of at least ${iss.minimum} characters`
                : `expected a string of at most ${iss.maximum} characters`,
          });
        else if (iss.origin === "array")
          out.push({
            path: p,
            message:
              iss.code === "too_small"
                ? `expected at least ${iss.minimum} items`
                : `expected at most ${iss.maximum} items`,
          });
        else out.push({ path: p, message: `expected ${describe(here)}` });
        break;
      }
      case "not_multiple_of":
        out.push({ path: p, message: `expected ${describe(here)}` });
        break;
      case "invalid_format":
        out.push({
          path: p,
          message: stripInvalid(iss.message)
            ? `expected ${iss.message}`
            : `expected ${iss.pattern ? `a string matching ${iss.pattern}` : `a valid ${iss.format}`}`,
        });
        break;
      case "unrecognized_keys": {
        const parent = schemaAt(root, p);
        const allowed =
          parent !== undefined && def(parent).type === "object" ? Object.keys(def(parent)["shape"] as object) : [];
        for (const key of iss.keys) {
          const near = allowed.map((a) => [a, editDistance(a, key)] as const).sort((x, y) => x[1] - y[1])[0];
          const hint = near && near[1] <= Math.max(1, Math.floor(key.length / 3)) ? ` (did you mean ${near[0]}?)` : "";
          out.push({ path: [...p, key], message: `unknown key${hint}; expected one of ${allowed.join(", ")}` });
        }
        break;
      }
      case "invalid_union": {
        // zod already narrows to one branch when the input clearly meant it; here none matched.
        out.push({
          path: p,
          message: value === undefined ? `required: expected ${describe(here)}` : `expected ${describe(here)}`,
        });
        break;
      }
      case "invalid_key": {
        const inner = iss.issues.map((i) => i.message).find(stripInvalid);
        out.push({ path: p, message: `invalid key: expected ${inner ?? "a valid name"}` });
        break;
      }
      case "invalid_element":
        out.push({ path: p, message: `expected ${describe(here)}` });
        break;
      case "custom":
        out.push({
          path: p,
          message: stripInvalid(iss.message) ? `expected ${iss.message}` : `expected ${describe(here)}`,
        });
        break;
      default:
        out.push({ path: p, message: `expected ${describe(here)}` });
    }
  }
  return out;
}

// ---- -e extra vars ---------------------------------------------------------------------------

const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);
const KEY_SEGMENT = /^[A-Za-z0-9_-]+$/;

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

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

// ---- merging ---------------------------------------------------------------------------------

/** Values at these var paths are leaves even though they are maps ({ env } / { vault }). */
const SECRET_PATHS = new Set([
  "database.password",
  "alerts.slack_webhook",
  "alerts.discord_webhook",
  "alerts.healthcheck_url",
]);
export const SECRET_VAR_PATHS: readonly string[] = [...SECRET_PATHS];

/** Maps merge key by key; arrays, scalars and secret references replace. Inputs are not modified. */
export function mergeMaps(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
  at = "",
  onSet?: (p: string) => void,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const p = at === "" ? k : `${at}.${k}`;
    if (isMap(v) && isMap(out[k]) && !SECRET_PATHS.has(p)) {
      out[k] = mergeMaps(out[k] as Record<string, unknown>, v, p, onSet);
    } else {
      out[k] = structuredClone(v);
      markLeaves(v, p, onSet);
    }
  }
  return out;
}

function markLeaves(v: unknown, p: string, onSet?: (p: string) => void): void {
  if (!onSet) return;
  if (isMap(v) && !SECRET_PATHS.has(p)) for (const [k, x] of Object.entries(v)) markLeaves(x, `${p}.${k}`, onSet);
  else onSet(p);
}

/** A vars layer and where it came from: `keyPrefix` is its key path in the inventory file. */
export interface VarsSource {
  /** "defaults", "vars", "groups.web.vars", "hosts.web1.vars" or "-e". */
  keyPrefix: string;
  /** The file the layer was written in ("-e" for extra vars, "" for the built-in defaults). */
  file: string;
  vars: VarsLayer | Record<string, unknown>;
}

export interface MergedVars {
  /** The merged, path-derived, validated vars (secret references still unresolved), if valid. */
  vars?: Vars;
  /** Problems as full "file: key.path: message" strings. */
  problems: string[];
  /** Which layer last set each var path (dotted), for messages. */
  origin: (varPath: string) => VarsSource | undefined;
  /** Where a var path is reported: the layer that set it, or `fallbackKey` when nobody did. */
  where: (varPath: string) => { file: string; key: string };
  /** Names of the merged var paths that nobody set (required ones). */
  missing: { varPath: string; message: string }[];
}

/** "the built-in default", "-e", "groups.web.vars" ... for messages about another value. */
export function describeOrigin(src: VarsSource | undefined, varPath = ""): string {
  if (!src && varPath.startsWith("paths.")) return "derived from app and prefix";
  if (!src || src.keyPrefix === "defaults") return "the built-in default";
  if (src.keyPrefix === "-e") return "set with -e";
  return `from ${src.keyPrefix}`;
}

/**
 * Merge the layers (lowest first) on top of DEFAULT_VARS, derive `paths` from app and prefix
 * (explicitly set paths kept), validate with the full varsSchema and check the cross-field rules.
 * `hostKey` ("hosts.web1.vars") is where problems about values nobody set are reported.
 */
export function mergeHostVars(layers: VarsSource[], file: string, hostKey: string): MergedVars {
  const defaults: VarsSource = { keyPrefix: "defaults", file: "", vars: DEFAULT_VARS as VarsLayer };
  const origins = new Map<string, VarsSource>();
  let merged: Record<string, unknown> = {};
  for (const layer of [defaults, ...layers]) {
    merged = mergeMaps(merged, layer.vars as Record<string, unknown>, "", (p) => origins.set(p, layer));
  }
  const explicitPaths = (isMap(merged["paths"]) ? merged["paths"] : {}) as Partial<PathVars>;
  const app = typeof merged["app"] === "string" ? merged["app"] : DEFAULT_VARS.app;
  const prefix = typeof merged["prefix"] === "string" ? merged["prefix"] : "";
  const backupUser = typeof merged["backup_user"] === "string" ? merged["backup_user"] : DEFAULT_VARS.backup_user;
  merged["paths"] = derivePaths(app, prefix, explicitPaths, backupUser);

  const origin = (varPath: string): VarsSource | undefined => {
    for (let p = varPath; p !== ""; p = p.includes(".") ? p.slice(0, p.lastIndexOf(".")) : "") {
      const o = origins.get(p);
      if (o) return o;
    }
    return undefined;
  };
  const where = (varPath: string) => {
    const o = origin(varPath);
    if (!o || o.keyPrefix === "defaults") return { file, key: joinKey(hostKey, varPath) };
    if (o.keyPrefix === "-e") return { file: "-e", key: varPath };
    return { file: o.file, key: joinKey(o.keyPrefix, varPath) };
  };

  const problems: string[] = [];
  const missing: { varPath: string; message: string }[] = [];
  const r = varsSchema.safeParse(merged);
  if (!r.success) {
    for (const pr of issuesToProblems(r.error.issues, varsSchema, merged)) {
      const vp = keyPath(pr.path);
      if (pr.message.startsWith("required:")) {
        missing.push({ varPath: vp, message: pr.message });
        continue;
      }
      const w = where(vp);
      problems.push(`${w.file}: ${w.key}: ${pr.message}`);
    }
  }
  if (r.success) problems.push(...crossFieldProblems(r.data, origin, where));
  return { vars: r.success && problems.length === 0 ? r.data : undefined, problems, origin, where, missing };
}

/** Rules the per-field schema cannot express. Blames the value set last (the likelier mistake). */
function crossFieldProblems(
  v: Vars,
  origin: (p: string) => VarsSource | undefined,
  where: (p: string) => { file: string; key: string },
): string[] {
  const out: string[] = [];
  const at = (p: string, msg: string) => {
    const w = where(p);
    out.push(`${w.file}: ${w.key}: ${msg}`);
  };
  // The later layer (higher precedence) is the one that introduced the conflict.
  const rank = (p: string) => {
    const o = origin(p);
    if (!o || o.keyPrefix === "defaults") return 0;
    if (o.keyPrefix === "-e") return 4;
    if (o.keyPrefix.startsWith("hosts.")) return 3;
    if (o.keyPrefix.startsWith("groups.")) return 2;
    return 1;
  };
  const blame = (a: string, b: string) => (rank(b) > rank(a) ? ([b, a] as const) : ([a, b] as const));

  if (v.check.disk_warning_percent >= v.check.disk_critical_percent) {
    const w = "check.disk_warning_percent";
    const c = "check.disk_critical_percent";
    const [mine] = blame(w, c);
    if (mine === w)
      at(
        w,
        `expected less than ${c} (${v.check.disk_critical_percent}, ${describeOrigin(origin(c), c)}), got ${v.check.disk_warning_percent}`,
      );
    else
      at(
        c,
        `expected more than ${w} (${v.check.disk_warning_percent}, ${describeOrigin(origin(w), w)}), got ${v.check.disk_critical_percent}`,
      );
  }
  if (v.offsite.enabled && !v.offsite.bucket) {
    at("offsite.enabled", "expected offsite.bucket (an s3://bucket[/prefix] URL) to be set when offsite is enabled");
  }
  // Backups must not be inside what they back up, nor the reverse (each run would copy itself).
  const inside = (a: string, b: string) => a === b || a.startsWith(b.endsWith("/") ? b : `${b}/`);
  const { backup_dir, media_dir, app_dir, log_dir } = v.paths;
  for (const [other, name] of [
    [media_dir, "media_dir"],
    [app_dir, "app_dir"],
  ] as const) {
    if (inside(backup_dir, other) || inside(other, backup_dir)) {
      const [mine, them] = blame("paths.backup_dir", `paths.${name}`);
      at(
        mine,
        `expected paths.backup_dir and paths.${name} not to contain one another (${them} is ${describeOrigin(origin(them), them).replace(/^from /, "set in ")})`,
      );
    }
  }
  if (inside(log_dir, backup_dir)) {
    const [mine] = blame("paths.log_dir", "paths.backup_dir");
    at(mine, "expected paths.log_dir outside paths.backup_dir");
  }
  const files = ["config_file", "pgpass_file", "status_file", "cron_file", "logrotate_file"] as const;
  for (let i = 0; i < files.length; i++)
    for (let j = i + 1; j < files.length; j++) {
      if (v.paths[files[i]!] === v.paths[files[j]!]) {
        const [mine, them] = blame(`paths.${files[i]}`, `paths.${files[j]}`);
        at(mine, `expected a different file than ${them}`);
      }
    }
  // cron silently ignores /etc/cron.d files whose names contain a dot.
  const cronName = path.posix.basename(v.paths.cron_file);
  if (!/^[A-Za-z0-9_-]+$/.test(cronName)) {
    at(
      "paths.cron_file",
      "expected a file name of letters, digits, _ and - only (cron ignores cron.d files with other names, e.g. with a dot)",
    );
  }
  return out;
}
