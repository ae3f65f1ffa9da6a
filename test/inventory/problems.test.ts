// The words an operator reads for every kind of schema the inventory uses. problems.ts reads zod's
// internals to say what a schema expects: these exact strings are what a zod upgrade must keep.
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { describe as expects, issuesToProblems, joinKey, keyPath, schemaAt } from "../../src/inventory/problems.ts";
import {
  absPath,
  cronExpression,
  identifier,
  inventorySchema,
  relPath,
  retentionVars,
  secretRef,
  unixOwner,
  unixUser,
  varsSchema,
} from "../../src/inventory/schema.ts";

/** The problems of `data` against `schema`, as "key.path: message" lines. */
function problems(schema: z.ZodType, data: unknown): string[] {
  const r = schema.safeParse(data);
  if (r.success) throw new Error(`expected ${JSON.stringify(data)} to be invalid`);
  return issuesToProblems(r.error.issues, schema, data).map((p) => `${keyPath(p.path)}: ${p.message}`);
}
/** One value `v` under a key, so the key path shows. */
const at = (schema: z.ZodType, v: unknown) => problems(z.strictObject({ v: schema }), { v });

const SECRET = "a secret reference { env: NAME } or { vault: key } (secrets are never plaintext in an inventory)";

describe("what a schema expects, per kind", () => {
  it("strings: the regex's own message, or the pattern; lengths; email", () => {
    expect(at(identifier, "Bad")).toEqual([
      "v: expected a lowercase identifier: letters, digits and _ (at most 63), not starting with a digit",
    ]);
    expect(at(unixUser, "Root")).toEqual(["v: expected a Unix user name (lowercase letters, digits, _ and -)"]);
    expect(at(unixOwner, "a:B")).toEqual(["v: expected a Unix owner: user or user:group"]);
    expect(at(z.string().regex(/^a+$/), "b")).toEqual(["v: expected a string matching /^a+$/"]);
    expect(at(z.string().email("an email address"), "b")).toEqual(["v: expected an email address"]);
    expect(at(z.string().min(1), "")).toEqual(["v: expected a non-empty string"]);
    expect(at(z.string().min(3), "ab")).toEqual(["v: expected a string of at least 3 characters"]);
    expect(at(z.string().max(2), "abc")).toEqual(["v: expected a string of at most 2 characters"]);
    expect(at(z.string(), 5)).toEqual(["v: expected a string, got a whole number"]);
    expect(expects(identifier)).toBe(
      "a lowercase identifier: letters, digits and _ (at most 63), not starting with a digit",
    );
    expect(expects(z.string())).toBe("a string");
  });

  it("numbers: int, min, max, positive, ranges, fractions", () => {
    const port = z.number().int().min(1).max(65535);
    expect(at(port, 0)).toEqual(["v: expected a number between 1 and 65535"]);
    expect(at(port, "22")).toEqual(["v: expected a number between 1 and 65535, got a string"]);
    expect(at(port, 1.5)).toEqual(["v: expected a whole number between 1 and 65535, got a fraction"]);
    expect(at(z.number().int().min(1), 0)).toEqual(["v: expected a whole number of at least 1"]);
    expect(at(z.number().int().min(1), 2.5)).toEqual(["v: expected a whole number, got a fraction"]);
    expect(at(z.number().int().positive(), 0)).toEqual(["v: expected a whole number greater than 0"]);
    expect(at(z.number().positive(), -1)).toEqual(["v: expected a number greater than 0"]);
    expect(at(z.number().max(10), 11)).toEqual(["v: expected a number of at most 10"]);
    expect(at(z.number().int().max(10), 11)).toEqual(["v: expected a whole number of at most 10"]);
    expect(at(z.number(), "x")).toEqual(["v: expected a number, got a string"]);
    expect(at(z.number().int(), 1.5)).toEqual(["v: expected a whole number, got a fraction"]);
    expect(expects(z.number().int().min(0))).toBe("a whole number of at least 0");
  });

  it("booleans, enums and literals", () => {
    expect(at(z.boolean(), "yes")).toEqual(["v: expected true or false, got a string"]);
    expect(at(z.boolean(), null)).toEqual(["v: expected true or false, got an empty value (null)"]);
    expect(at(z.enum(["production", "staging"]), "prod")).toEqual(["v: expected one of production, staging"]);
    expect(at(z.literal("x"), "y")).toEqual(["v: expected one of x"]);
    expect(expects(z.boolean())).toBe("true or false");
    expect(expects(z.enum(["a", "b"]))).toBe("one of a, b");
    expect(expects(z.literal(""))).toBe('"" (empty)');
  });

  it("objects: unknown keys with a did-you-mean hint, missing keys, the wrong type", () => {
    const keys =
      "daily_days, weekly_weeks, media_days, config_days, docker_volumes_days, pre_restore_days, keep_min, monthly_months, monthly_keep_min";
    expect(problems(retentionVars.partial(), { daily_dayz: 1 })).toEqual([
      `daily_dayz: unknown key (did you mean daily_days?); expected one of ${keys}`,
    ]);
    expect(problems(retentionVars.partial(), { colour: 1 })).toEqual([`colour: unknown key; expected one of ${keys}`]);
    expect(problems(z.strictObject({ a: absPath, b: z.number() }), {})).toEqual([
      "a: required: expected an absolute path (starting with /)",
      "b: required: expected a number",
    ]);
    const ab = z.strictObject({ a: z.number(), b: z.number() });
    expect(at(ab, [])).toEqual(["v: expected a map with the keys a, b, got a list"]);
    expect(at(ab, "s")).toEqual(["v: expected a map with the keys a, b, got a string"]);
    expect(expects(ab)).toBe("a map with the keys a, b");
  });

  it("records: the value's type, each key, each value", () => {
    expect(at(z.record(z.string(), z.number()), "x")).toEqual(["v: expected a map, got a string"]);
    expect(at(z.record(z.string().regex(/^[a-z]+$/, "a lowercase name"), z.number()), { B: 1 })).toEqual([
      "v.B: invalid key: expected a lowercase name",
    ]);
    expect(at(z.record(z.string(), z.number().int().min(1)), { a: 0 })).toEqual([
      "v.a: expected a whole number of at least 1",
    ]);
    expect(problems(inventorySchema, { environment: "lab", hosts: { "-a": { ssh: { host: "x" } } } })).toEqual([
      "hosts.-a: invalid key: expected a host name: letters, digits, . _ -",
    ]);
    expect(expects(z.record(z.string(), z.number()))).toBe("a map");
  });

  it("arrays: the value's type, each item, lengths", () => {
    expect(at(z.array(relPath), "x")).toEqual([
      "v: expected a list (each item a path relative to app_dir), got a string",
    ]);
    expect(at(z.array(relPath), ["", "/abs", "a/../b"])).toEqual([
      "v[0]: expected a non-empty string",
      "v[1]: expected a path relative to app_dir (no leading /)",
      "v[2]: expected a path without .. segments",
    ]);
    expect(at(z.array(z.string()).min(1), [])).toEqual(["v: expected at least 1 item"]);
    expect(at(z.array(z.string()).min(2), [])).toEqual(["v: expected at least 2 items"]);
    expect(at(z.array(z.string()).max(1), ["a", "b"])).toEqual(["v: expected at most 1 item"]);
    expect(expects(z.array(absPath))).toBe("a list (each item an absolute path (starting with /))");
  });

  it("unions: every branch, or the branch the input meant", () => {
    const url = z.union([z.string().regex(/^https?:\/\//, "an http(s) URL"), secretRef]);
    expect(at(url, 5)).toEqual([`v: expected an http(s) URL, or ${SECRET}`]);
    expect(at(url, { x: 1 })).toEqual([`v: expected an http(s) URL, or ${SECRET}`]);
    const prefix = varsSchema.shape.prefix;
    expect(at(prefix, "rel")).toEqual(["v: expected an absolute path (starting with /)"]);
    expect(at(prefix, 5)).toEqual(['v: expected "" (empty), or an absolute path (starting with /)']);
    expect(expects(prefix)).toBe('"" (empty), or an absolute path (starting with /)');
  });

  it("secret references: never plaintext; the branch's own rule; its keys", () => {
    expect(at(secretRef, "hunter2")).toEqual([`v: expected ${SECRET}`]);
    expect(at(secretRef, { env: "A", vault: "b" })).toEqual([`v: expected ${SECRET}`]);
    expect(at(secretRef, { env: "bad name" })).toEqual(["v.env: expected an environment variable name"]);
    expect(at(secretRef, { env: "A", x: 1 })).toEqual(["v.x: unknown key; expected one of env, vault"]);
    expect(problems(z.strictObject({ v: secretRef }), {})).toEqual([`v: required: expected ${SECRET}`]);
    expect(expects(secretRef)).toBe(SECRET);
  });

  it("cron expressions: five fields, then Debian cron's grammar (src/inventory/cron.ts)", () => {
    const five = "a 5-field cron expression (minute hour day month weekday)";
    expect(at(cronExpression, "0 2 * *")).toEqual([`v: expected ${five}, got "0 2 * *"`]);
    expect(at(cronExpression, "0 25 * * *")[0]).toMatch(/^v: expected a valid cron expression: "0 25 \* \* \*": \S/);
    expect(at(cronExpression, 5)).toEqual([`v: expected ${five}, got a whole number`]);
    expect(problems(z.strictObject({ v: cronExpression }), {})).toEqual([`v: required: expected ${five}`]);
    expect(expects(cronExpression)).toBe(five);
  });

  it("absolute and relative paths: each refinement says its own rule", () => {
    expect(at(absPath, "rel")).toEqual(["v: expected an absolute path (starting with /)"]);
    expect(at(absPath, "/a/../b")).toEqual(["v: expected a path without .. segments"]);
    expect(at(absPath, "/a/")).toEqual(["v: expected a path without a trailing slash"]);
    expect(at(absPath, "/a\nb")).toEqual(["v: expected a path without control characters or newlines"]);
    expect(at(absPath, 5)).toEqual(["v: expected an absolute path (starting with /), got a whole number"]);
    expect(at(absPath, ["/a"])).toEqual(["v: expected an absolute path (starting with /), got a list"]);
    expect(at(relPath, "/a")).toEqual(["v: expected a path relative to app_dir (no leading /)"]);
    expect(expects(absPath)).toBe("an absolute path (starting with /)");
    expect(expects(relPath)).toBe("a path relative to app_dir");
  });

  it("optional, default and nullable wrappers say what their inner schema expects", () => {
    const n = z.number().int().min(1);
    expect(at(n.optional(), 0)).toEqual(["v: expected a whole number of at least 1"]);
    expect(at(n.default(3), "x")).toEqual(["v: expected a whole number of at least 1, got a string"]);
    expect(at(n.nullable(), "x")).toEqual(["v: expected a whole number of at least 1, got a string"]);
    expect(expects(z.any())).toBe("a valid value");
    expect(expects(undefined)).toBe("a valid value");
  });
});

describe("schemaAt", () => {
  it("walks objects, records, arrays, unions and the wrappers", () => {
    expect(expects(schemaAt(inventorySchema, ["hosts", "any", "ssh", "port"]))).toBe("a number between 1 and 65535");
    expect(expects(schemaAt(inventorySchema, ["groups", "g", "hosts", 0]))).toBe("a host name: letters, digits, . _ -");
    expect(expects(schemaAt(inventorySchema, ["vars", "alerts", "slack_webhook", "env"]))).toBe(
      "an environment variable name",
    );
    expect(schemaAt(varsSchema, ["config_files", 0])).toBe(relPath);
    expect(schemaAt(inventorySchema, ["vars", "nosuch"])).toBeUndefined();
  });
});

describe("key paths", () => {
  it("reads as an operator writes them", () => {
    expect(keyPath(["hosts", "web1", "vars", "media_excludes", 2])).toBe("hosts.web1.vars.media_excludes[2]");
    expect(keyPath([])).toBe("");
    expect(joinKey("hosts.web1.vars", "paths.app_dir")).toBe("hosts.web1.vars.paths.app_dir");
    expect(joinKey("vars", "[0]")).toBe("vars[0]");
    expect(joinKey("", "a")).toBe("a");
    expect(joinKey("a", "")).toBe("a");
  });
});

describe("values are never echoed", () => {
  it("whatever the kind, a wrong value does not appear in the message", () => {
    const value = "Hunter2/../Secret";
    const schemas: z.ZodType[] = [
      identifier,
      unixUser,
      absPath,
      relPath,
      secretRef,
      z.number(),
      z.boolean(),
      z.enum(["a"]),
      z.array(z.number()),
      z.record(z.string(), z.number()),
      z.strictObject({ a: z.number() }),
      varsSchema.shape.prefix,
    ];
    for (const s of schemas) for (const line of at(s, value)) expect(line).not.toContain(value);
    expect(at(z.array(z.number()), [value]).join()).not.toContain(value);
  });
});
