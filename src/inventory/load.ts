// The inventory loader: find the file, parse the YAML, validate it with zod, merge the vars of every
// host, resolve secrets — and report every problem at once as "file: key.path: what was expected",
// before any host is contacted. Bad input throws InputError (exit 1).
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import YAML from "yaml";
import { InputError } from "../errors.ts";
import { parseYamlDocument } from "./yaml.ts";
import {
  groupSchema,
  sshSchema,
  inventorySchema,
  varsLayerSchema,
  vaultSchema,
  type SshConfig,
  type VarsLayer,
} from "./schema.ts";
import { resolveHostSsh, sshConfigFile, sshConfigFor, SshConfigCache, sshHostRequired } from "./host-ssh.ts";
import { resolveSecretVars } from "./secret-vars.ts";
import { SecretResolver, type VaultSource } from "./secrets.ts";
import type { Host, Inventory, ResolvedVars } from "./types.ts";
import type { VarsLayerLike } from "./extra-vars.ts";
import { isMap, mergeHostVars, type VarsSource } from "./merge.ts";
import { issuesToProblems, joinKey, keyPath } from "./problems.ts";

export type { VarsLayerLike } from "./extra-vars.ts";

export interface LoadOptions {
  /** Directory names and relative paths are resolved against (the project root). */
  cwd: string;
  /** Extra vars from `-e` (see parseExtraVars): the highest precedence. */
  extraVars?: VarsLayerLike;
  /** Where `{ env: NAME }` secrets and `identity_env` are read from; default process.env. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Where an inventory name or path points: `lab` → .lab/inventory.yml, a bare name `prod` →
 * inventories/prod.yml (or .yaml), anything else a path relative to cwd. `shown` is the file as
 * messages name it.
 */
export function resolveInventoryPath(nameOrPath: string, cwd: string): { file: string; shown: string } {
  const show = (abs: string) => showPath(abs, cwd);
  if (nameOrPath === "lab") {
    const file = path.join(cwd, ".lab", "inventory.yml");
    return { file, shown: show(file) };
  }
  const bare = /^[\p{L}\p{N}_][\p{L}\p{N}._-]*$/u.test(nameOrPath) && !/\.ya?ml$/i.test(nameOrPath);
  if (bare) {
    const candidates = [".yml", ".yaml"].map((ext) => path.join(cwd, "inventories", `${nameOrPath}${ext}`));
    const found = candidates.find((c) => existsSync(c));
    if (!found) {
      throw new InputError([
        `inventory ${nameOrPath}: not found: expected ${candidates.map(show).join(" or ")} (or give a path to a YAML file)`,
      ]);
    }
    return { file: found, shown: show(found) };
  }
  const file = path.resolve(cwd, nameOrPath);
  return { file, shown: path.isAbsolute(nameOrPath) ? nameOrPath : show(file) };
}

/** A path as messages show it: relative to cwd when below it, otherwise absolute. */
export function showPath(abs: string, cwd: string): string {
  const rel = path.relative(cwd, abs);
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : abs;
}

/** `~` and `~/x` → home; relative → against `base`. Returns undefined for `~user` forms. */
export function expandPath(p: string, base: string): string | undefined {
  if (p === "~") return os.homedir();
  if (p.startsWith("~/")) return path.join(os.homedir(), p.slice(2));
  if (p.startsWith("~")) return undefined;
  return path.resolve(base, p);
}

/** Keys of a top-level map in file order (JS objects put integer-like keys first). */
function keysInOrder(doc: YAML.Document, key: string, fallback: Record<string, unknown>): string[] {
  const node = doc.get(key, true);
  const out: string[] = [];
  if (YAML.isMap(node)) {
    for (const item of node.items) {
      const k = YAML.isScalar(item.key) ? item.key.value : item.key;
      if (typeof k === "string" || typeof k === "number") {
        const s = String(k);
        if (s !== "<<" && s in fallback && !out.includes(s)) out.push(s);
      }
    }
  }
  for (const k of Object.keys(fallback)) if (!out.includes(k)) out.push(k);
  return out;
}

/** Hosts with neither ssh.host nor an ssh_config that applies to them (the message resolveHostSsh gives too). */
function missingSshHosts(data: Record<string, unknown>): { path: PropertyKey[]; message: string }[] {
  const hosts = isMap(data["hosts"]) ? data["hosts"] : {};
  const groups = isMap(data["groups"]) ? data["groups"] : {};
  return Object.entries(hosts).flatMap(([name, h]) => {
    if (!isMap(h) || (isMap(h["ssh"]) && h["ssh"]["host"] !== undefined)) return [];
    const memberOf = Object.keys(groups).filter((g) => {
      const list = isMap(groups[g]) ? groups[g]["hosts"] : undefined;
      return Array.isArray(list) && list.includes(name);
    });
    const setting = sshConfigFor(data, Object.keys(groups), memberOf, name);
    if (setting && setting.value !== false) return [];
    return [{ path: ["hosts", name, "ssh", "host"], message: sshHostRequired(name) }];
  });
}

/** Where the node at `p` (or its nearest existing ancestor) starts in the file. */
function offsetOf(doc: YAML.Document, p: readonly PropertyKey[]): number {
  for (let n = p.length; n >= 0; n--) {
    const node: unknown = n === 0 ? doc.contents : doc.getIn(p.slice(0, n) as unknown[], true);
    if (YAML.isNode(node) && node.range) return node.range[0];
  }
  return 0;
}

export async function loadInventory(nameOrPath: string, opts: LoadOptions): Promise<Inventory> {
  const cwd = path.resolve(opts.cwd);
  const env = opts.env ?? process.env;
  const { file, shown } = resolveInventoryPath(nameOrPath, cwd);
  const dir = path.dirname(file);
  const show = (abs: string) => showPath(abs, cwd);

  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError([
      `${shown}: cannot read the inventory: ${code === "ENOENT" ? "no such file" : (code ?? (e as Error).message)}`,
    ]);
  }

  // ---- YAML ----
  const doc = parseYamlDocument(text, shown, {
    describe: (err, line, col) => `line ${line}, column ${col}: YAML syntax error: ${err.message.split("\n")[0]}`,
  });
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    throw new InputError([`${shown}: ${(e as Error).message}`]);
  }
  if (!isMap(data)) {
    throw new InputError([`${shown}: expected a YAML map with environment, vars, groups and hosts at the top level`]);
  }

  // ---- schema: every issue of the whole file at once ----
  const problems: string[] = [];
  const add = (p: string) => {
    if (!problems.includes(p)) problems.push(p);
  };
  const full = inventorySchema.safeParse(data);
  if (!full.success) {
    // in the order they appear in the file (zod lists unknown keys after the known ones)
    const found = issuesToProblems(full.error.issues, inventorySchema, data).map((pr, i) => ({
      pr,
      i,
      at: offsetOf(doc, pr.path),
    }));
    // A host without ssh.host and without an ssh_config to look it up in: reported in file order too.
    for (const pr of missingSshHosts(data)) found.push({ pr, i: found.length, at: offsetOf(doc, pr.path) });
    found.sort((a, b) => a.at - b.at || a.i - b.i);
    for (const { pr } of found) add(`${shown}: ${keyPath(pr.path)}: ${pr.message}`);
  }

  let extra: VarsLayer | undefined = {};
  if (opts.extraVars !== undefined) {
    const r = varsLayerSchema.safeParse(opts.extraVars);
    if (r.success) extra = r.data;
    else {
      extra = undefined;
      for (const pr of issuesToProblems(r.error.issues, varsLayerSchema, opts.extraVars))
        add(`-e: ${keyPath(pr.path)}: ${pr.message}`);
    }
  }

  // The pieces that are valid on their own, so one broken host does not hide the others' problems.
  const envR = inventorySchema.shape.environment.safeParse(data["environment"]);
  const environment = envR.success ? envR.data : undefined;
  const invVarsR = varsLayerSchema.safeParse(data["vars"] ?? {});
  const invVars = invVarsR.success ? invVarsR.data : undefined;
  const rawGroups = isMap(data["groups"]) ? data["groups"] : {};
  const rawHosts = isMap(data["hosts"]) ? data["hosts"] : {};
  const groupOrder = keysInOrder(doc, "groups", rawGroups);
  const hostOrder = keysInOrder(doc, "hosts", rawHosts);

  // ---- cross-field rules on the file ----
  for (const g of groupOrder) {
    if (g === "all") add(`${shown}: groups.all: expected another group name (all is reserved: it means every host)`);
    if (g in rawHosts)
      add(`${shown}: groups.${g}: expected a group name different from every host name (${g} is also a host)`);
    const list = isMap(rawGroups[g]) ? rawGroups[g]["hosts"] : undefined;
    if (Array.isArray(list)) {
      list.forEach((h, i) => {
        if (typeof h === "string" && !(h in rawHosts))
          add(`${shown}: groups.${g}.hosts[${i}]: expected a host defined under hosts (${h} is not)`);
      });
    }
  }

  let vault: VaultSource | undefined;
  if (data["vault"] !== undefined) {
    const vr = vaultSchema.safeParse(data["vault"]);
    if (vr.success) {
      const v = vr.data;
      if (v.identity_file === undefined && v.identity_env === undefined) {
        add(
          `${shown}: vault: expected identity_file (a path to an age identity file) or identity_env (an environment variable holding the identity)`,
        );
      } else if (v.identity_file !== undefined && v.identity_env !== undefined) {
        add(`${shown}: vault: expected only one of identity_file and identity_env`);
      }
      const vf = expandPath(v.file, dir);
      const idf = v.identity_file !== undefined ? expandPath(v.identity_file, dir) : undefined;
      if (vf === undefined) add(`${shown}: vault.file: expected a path (~user/ is not supported; use ~/ or a path)`);
      if (v.identity_file !== undefined && idf === undefined)
        add(`${shown}: vault.identity_file: expected a path (~user/ is not supported; use ~/ or a path)`);
      if (vf !== undefined) vault = { file: vf, identityFile: idf, identityEnv: v.identity_env };
    }
  }

  let knownHostsFile = path.join(dir, "known_hosts");
  if (typeof data["known_hosts"] === "string") {
    const k = expandPath(data["known_hosts"], dir);
    if (k === undefined) add(`${shown}: known_hosts: expected a path (~user/ is not supported; use ~/ or a path)`);
    else knownHostsFile = k;
  }

  // ---- hosts: ssh (with ssh_config), merge vars, validate, resolve secrets ----
  const sshConfigs = new SshConfigCache();
  const hostReach = (ssh: SshConfig, name: string, memberOf: string[]) => {
    const setting = sshConfigFor(data, groupOrder, memberOf, name);
    const file = setting ? sshConfigFile(setting.value, dir) : undefined;
    const config = file !== undefined ? sshConfigs.load(file) : undefined;
    if (config instanceof Error) {
      add(`${shown}: ${setting!.key}: expected a readable OpenSSH config: ${config.message}`);
      return undefined;
    }
    const rawSsh = isMap(rawHosts[name]) && isMap(rawHosts[name]["ssh"]) ? rawHosts[name]["ssh"] : {};
    const r = resolveHostSsh({
      name,
      shown,
      ssh,
      explicit: new Set(Object.keys(rawSsh)),
      ...(config ? { config } : {}),
      knownHostsExplicit: typeof data["known_hosts"] === "string",
    });
    r.problems.forEach(add);
    return r;
  };

  const resolver = new SecretResolver({ inventory: shown, env, vault, show });
  const groupsR = new Map(groupOrder.map((g) => [g, groupSchema.safeParse(rawGroups[g])] as const));
  const missing = new Map<string, { message: string; hosts: string[] }>();
  const hosts: Host[] = [];
  let mergedHosts = 0;

  for (const name of hostOrder) {
    const rawHost = rawHosts[name];
    if (!isMap(rawHost)) continue;
    // ssh and vars separately: a bad ssh block must not hide the problems of the host's vars.
    const sshR = sshSchema.safeParse(rawHost["ssh"] ?? {});
    const hostVarsR = varsLayerSchema.safeParse(rawHost["vars"] ?? {});
    const memberOf = groupOrder.filter((g) => {
      const list = isMap(rawGroups[g]) ? rawGroups[g]["hosts"] : undefined;
      return Array.isArray(list) && list.includes(name);
    });
    const ssh = sshR.success ? { ...sshR.data } : undefined;
    if (ssh?.private_key !== undefined) {
      const k = expandPath(ssh.private_key, dir);
      if (k === undefined)
        add(`${shown}: hosts.${name}.ssh.private_key: expected a path (~user/ is not supported; use ~/ or a path)`);
      else ssh.private_key = k;
    }
    // How it is reached: the ssh block over its OpenSSH config, jump hosts resolved.
    const reach = ssh ? hostReach(ssh, name, memberOf) : undefined;
    const groupLayers: VarsSource[] = [];
    let layersOk = invVars !== undefined && extra !== undefined && hostVarsR.success;
    for (const g of memberOf) {
      const gr = groupsR.get(g);
      if (!gr?.success) layersOk = false;
      else groupLayers.push({ keyPrefix: `groups.${g}.vars`, file: shown, vars: gr.data.vars });
    }
    if (!layersOk) continue;
    const layers: VarsSource[] = [
      { keyPrefix: "vars", file: shown, vars: invVars! },
      ...groupLayers,
      { keyPrefix: `hosts.${name}.vars`, file: shown, vars: hostVarsR.data! },
      { keyPrefix: "-e", file: "-e", vars: extra! },
    ];
    const m = mergeHostVars(layers, shown, `hosts.${name}.vars`);
    mergedHosts++;
    m.problems.forEach(add);
    for (const miss of m.missing) {
      const e = missing.get(miss.varPath) ?? { message: miss.message, hosts: [] };
      e.hosts.push(name);
      missing.set(miss.varPath, e);
    }
    if (!m.vars) continue;
    const v = m.vars;

    // Resolved values are checked too, without ever showing them.
    const resolved = await resolveSecretVars(
      v,
      async (ref, varPath) => {
        const w = m.where(varPath);
        const r = await resolver.resolve(ref, `${w.file}: ${w.key}`);
        if (r.ok) return r.value;
        if (r.problem) add(r.problem);
        return undefined;
      },
      (ref, varPath, expected) => {
        const w = m.where(varPath);
        const from = "env" in ref ? `environment variable ${ref.env}` : `vault key ${ref.vault}`;
        add(`${w.file}: ${w.key}: expected ${from} to hold ${expected} (value not shown)`);
      },
    );
    if (!resolved || environment === undefined || reach?.ssh === undefined) continue;
    // The off-site key prefix defaults to the host's name: a fleet shares one bucket.
    if (resolved.offsite.prefix === undefined) resolved.offsite.prefix = name;
    const vars: ResolvedVars = { ...resolved, environment };
    const knownHosts = reach.knownHostsFile !== undefined ? { knownHostsFile: reach.knownHostsFile } : {};
    hosts.push({ name, groups: memberOf, ssh: reach.ssh, ...knownHosts, vars });
  }

  // A required var nobody set: once for the inventory when every host lacks it, else per host.
  for (const [varPath, { message, hosts: lacking }] of missing) {
    if (lacking.length > 1 && lacking.length === mergedHosts)
      add(`${shown}: ${joinKey("vars", varPath)}: ${message} (set it in vars, a group's vars or each host's vars)`);
    else
      for (const h of lacking)
        add(
          `${shown}: ${joinKey(`hosts.${h}.vars`, varPath)}: ${message} (set it here, in one of the host's groups' vars or in vars)`,
        );
  }
  resolver.vaultProblems.forEach(add);

  if (problems.length > 0) throw new InputError(problems);
  if (hosts.length === 0) throw new InputError([`${shown}: hosts: expected at least one host`]);

  return {
    file,
    environment: environment!,
    knownHostsFile,
    hosts,
    // longest first, so masking never leaves the tail of a secret that contains a shorter one
    secrets: [...resolver.values].sort((a, b) => b.length - a.length),
  };
}
