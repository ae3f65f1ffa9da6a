// Vars precedence, as Ansible's: built-in defaults < inventory vars < group vars (in file order) <
// host vars < -e. Maps merge key by key; lists, scalars and secret references replace. Every leaf
// remembers the layer that set it last, so a problem is reported where the value was written.
// After the merge, paths are derived from app and prefix (derivePaths), then the whole is validated
// with varsSchema and the cross-field rules (rules.ts).
import { DEFAULT_VARS, derivePaths } from "./defaults.ts";
import { issuesToProblems, joinKey, keyPath } from "./problems.ts";
import { crossFieldProblems } from "./rules.ts";
import { SECRET_VAR_PATHS } from "./secret-vars.ts";
import { varsSchema, type PathVars, type Vars, type VarsLayer } from "./schema.ts";

export const isMap = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** Values at secret var paths are leaves even though they are maps ({ env } / { vault }). */
const SECRET_PATHS = SECRET_VAR_PATHS;

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

/** Where each var came from: the layer that set it last, and where a problem about it is reported. */
export interface Provenance {
  /** Which layer last set a var path (dotted); undefined for derived paths nobody set. */
  origin: (varPath: string) => VarsSource | undefined;
  /** Where a var path is reported: the layer that set it, or the host's vars when nobody did. */
  where: (varPath: string) => { file: string; key: string };
}

export interface MergedVars extends Provenance {
  /** The merged, path-derived, validated vars (secret references still unresolved), if valid. */
  vars?: Vars;
  /** Problems as full "file: key.path: message" strings. */
  problems: string[];
  /** Names of the merged var paths that nobody set (required ones). */
  missing: { varPath: string; message: string }[];
}

/** The layers (lowest first) merged on top of DEFAULT_VARS, with who set what. Not validated. */
export function mergeLayers(
  layers: VarsSource[],
  file: string,
  hostKey: string,
): Provenance & { merged: Record<string, unknown> } {
  const defaults: VarsSource = { keyPrefix: "defaults", file: "", vars: DEFAULT_VARS as VarsLayer };
  const origins = new Map<string, VarsSource>();
  let merged: Record<string, unknown> = {};
  for (const layer of [defaults, ...layers]) {
    merged = mergeMaps(merged, layer.vars as Record<string, unknown>, "", (p) => origins.set(p, layer));
  }
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
  return { merged, origin, where };
}

/** The hook where paths are derived: every path nobody set follows app, prefix and backup_user. */
export function withDerivedPaths(merged: Record<string, unknown>): Record<string, unknown> {
  const explicitPaths = (isMap(merged["paths"]) ? merged["paths"] : {}) as Partial<PathVars>;
  const app = typeof merged["app"] === "string" ? merged["app"] : DEFAULT_VARS.app;
  const prefix = typeof merged["prefix"] === "string" ? merged["prefix"] : "";
  const backupUser = typeof merged["backup_user"] === "string" ? merged["backup_user"] : DEFAULT_VARS.backup_user;
  return { ...merged, paths: derivePaths(app, prefix, explicitPaths, backupUser) };
}

/**
 * Merge the layers (lowest first) on top of DEFAULT_VARS, derive `paths` from app and prefix
 * (explicitly set paths kept), validate with the full varsSchema and check the cross-field rules.
 * `hostKey` ("hosts.web1.vars") is where problems about values nobody set are reported.
 */
export function mergeHostVars(layers: VarsSource[], file: string, hostKey: string): MergedVars {
  const m = mergeLayers(layers, file, hostKey);
  const { origin, where } = m;
  const merged = withDerivedPaths(m.merged);
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
  if (r.success) problems.push(...crossFieldProblems(r.data, { origin, where }));
  return { vars: r.success && problems.length === 0 ? r.data : undefined, problems, origin, where, missing };
}
