// The vars that hold secrets: where they are, what a resolved value must look like, and how a
// validated vars tree becomes one with every reference replaced by its value. One list, used by
// the merge (a reference is a leaf, never merged key by key) and by the loader (resolution).
import type { SecretRef, Vars } from "./schema.ts";

const URL = (s: string) => (/^https?:\/\/[^\s'"`\\]+$/.test(s) ? undefined : "an http(s) URL without spaces or quotes");
const LINE = (s: string) =>
  /[\u0000-\u001f\u007f]/.test(s) ? "a password without newlines or control characters" : undefined;
// S3 keys land in rclone's config file, whose parser strips quotes: none at all in them.
const S3_KEY = (s: string) =>
  /^[\x21-\x7e]+$/.test(s) && !/["'`]/.test(s) ? undefined : "a key without spaces, quotes or control characters";
const AGE_IDENTITY = (s: string) =>
  /^AGE-SECRET-KEY-1[0-9A-Z]{58}$/.test(s.trim()) ? undefined : "an age identity (AGE-SECRET-KEY-1...)";

/** Every secret var: its dotted path and the check its resolved value must pass. */
export const SECRET_VARS: readonly { path: string; check: (value: string) => string | undefined }[] = [
  { path: "database.password", check: LINE },
  { path: "alerts.slack_webhook", check: URL },
  { path: "alerts.discord_webhook", check: URL },
  { path: "alerts.healthcheck_url", check: URL },
  ...["database", "weekly", "media", "config", "docker_volumes", "check"].map((k) => ({
    path: `alerts.healthchecks.${k}`,
    check: URL,
  })),
  { path: "alerts.smtp.password", check: LINE },
  { path: "offsite.access_key_id", check: S3_KEY },
  { path: "offsite.secret_access_key", check: S3_KEY },
  { path: "drill.source_offsite.access_key_id", check: S3_KEY },
  { path: "drill.source_offsite.secret_access_key", check: S3_KEY },
  { path: "encryption.identity", check: AGE_IDENTITY },
];

export const SECRET_VAR_PATHS: ReadonlySet<string> = new Set(SECRET_VARS.map((s) => s.path));

/** A vars tree with every secret reference replaced by its value. */
export type Resolved<T> = T extends SecretRef
  ? string
  : T extends readonly (infer U)[]
    ? Resolved<U>[]
    : T extends object
      ? { [K in keyof T]: Resolved<T[K]> }
      : T;

export type ResolvedVarsTree = Resolved<Vars>;

const isRef = (v: unknown): v is SecretRef =>
  v !== null && typeof v === "object" && !Array.isArray(v) && ("env" in v || "vault" in v);

/**
 * Replace every secret reference of `vars` (validated) by the value `resolve` gives for it; plain
 * strings at secret paths (a webhook URL written as such) are kept. Undefined when a reference
 * could not be resolved or its value fails its check (resolve/onBad report why).
 */
export async function resolveSecretVars(
  vars: Vars,
  resolve: (ref: SecretRef, varPath: string) => Promise<string | undefined>,
  onBad: (ref: SecretRef, varPath: string, expected: string) => void,
): Promise<ResolvedVarsTree | undefined> {
  const out = structuredClone(vars) as Record<string, unknown>;
  let ok = true;
  for (const { path, check } of SECRET_VARS) {
    const keys = path.split(".");
    let parent: Record<string, unknown> | undefined = out;
    for (const k of keys.slice(0, -1)) {
      const next: unknown = parent?.[k];
      parent = next !== null && typeof next === "object" ? (next as Record<string, unknown>) : undefined;
    }
    const leaf = keys[keys.length - 1]!;
    const ref = parent?.[leaf];
    if (!parent || !isRef(ref)) continue;
    const value = await resolve(ref, path);
    if (value === undefined) {
      ok = false;
      continue;
    }
    const bad = check(value);
    if (bad !== undefined) {
      onBad(ref, path, bad);
      ok = false;
      continue;
    }
    parent[leaf] = path === "encryption.identity" ? value.trim() : value;
  }
  return ok ? (out as ResolvedVarsTree) : undefined;
}
