// Zod issues in an operator's words: "key.path: expected …", never echoing the value (a misplaced
// secret must not end up on a terminal or in a CI log). The only module that reads zod's internals
// (`_zod.def`), read-only, to say what a schema expects; test/inventory/problems.test.ts pins the
// words for every schema kind, so a zod upgrade that changes them fails there.
import type { z } from "zod";
import { absPath, cronExpression, identifier, relPath, secretRef, unixOwner, unixUser } from "./schema.ts";

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

/** The keys a map may hold: an object's, or those of every object a union offers ({ env } | { vault }). */
function objectKeys(s: unknown): string[] {
  if (s === undefined) return [];
  const d = def(s);
  if (d.type === "object") return Object.keys(d["shape"] as object);
  if (d.type === "union") return [...new Set((d["options"] as unknown[]).flatMap((o) => objectKeys(unwrap(o))))];
  return [];
}

const items = (n: number) => `${n} item${n === 1 ? "" : "s"}`;

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
                ? `expected at least ${items(Number(iss.minimum))}`
                : `expected at most ${items(Number(iss.maximum))}`,
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
        const allowed = objectKeys(schemaAt(root, p));
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
