// How a host is reached: its `ssh` block over what its OpenSSH config says (ssh_config: true|PATH
// at the inventory, group or host level), and its jump hosts resolved. What the inventory sets
// explicitly wins; the config fills in the rest with OpenSSH's first-match precedence; then the
// built-in defaults (port 22, user root). Pure, given the parsed config: problems as strings.
import os from "node:os";
import path from "node:path";
import { existsSync } from "node:fs";
import type { JumpHost, SshTarget } from "../connection/types.ts";
import { jumpSpecsProblems, parseJumpSpecs } from "../connection/jump.ts";
import {
  expandHostName,
  expandSshConfigPath,
  lookupSshConfig,
  readSshConfig,
  type ParsedSshConfig,
} from "../connection/ssh-config.ts";
import type { SshConfig } from "./schema.ts";
import { isMap } from "./merge.ts";
import { shown as showValue } from "./shown.ts";

const HOST = /^[A-Za-z0-9.:_-]+$/;
const USER = /^[a-z_][a-z0-9_-]{0,31}$/;

export interface LoadedSshConfig {
  file: string;
  parsed: ParsedSshConfig;
}

export interface HostSshInput {
  /** The host's inventory name (the alias looked up when ssh.host is not set). */
  name: string;
  /** The inventory file as messages show it. */
  shown: string;
  /** The host's ssh block, validated, defaults applied, private_key already absolute. */
  ssh: SshConfig;
  /** The keys the inventory wrote in that block (the others are defaults the config may override). */
  explicit: ReadonlySet<string>;
  /** The host's OpenSSH config, when ssh_config applies to it. */
  config?: LoadedSshConfig;
  /** Whether the inventory sets known_hosts itself (then UserKnownHostsFile is not used). */
  knownHostsExplicit: boolean;
}

export interface HostSshResult {
  ssh?: SshTarget;
  knownHostsFile?: string;
  problems: string[];
}

/** The problem of a host with no ssh.host and no ssh_config to look it up in. */
export const sshHostRequired = (name: string) =>
  `required: expected a host name or IP address (or set ssh_config to look ${name} up in an OpenSSH config)`;

/** The ssh_config setting that applies to a host: its own, else its last group's (file order), else the inventory's. */
export function sshConfigFor(
  data: Record<string, unknown>,
  groupOrder: readonly string[],
  memberOf: readonly string[],
  name: string,
): { value: boolean | string; key: string } | undefined {
  const valid = (v: unknown): v is boolean | string => typeof v === "boolean" || (typeof v === "string" && v !== "");
  const hosts = isMap(data["hosts"]) ? data["hosts"] : {};
  const own = isMap(hosts[name]) ? hosts[name]["ssh_config"] : undefined;
  if (valid(own)) return { value: own, key: `hosts.${name}.ssh_config` };
  const groups = isMap(data["groups"]) ? data["groups"] : {};
  for (const g of [...groupOrder].reverse()) {
    if (!memberOf.includes(g)) continue;
    const v = isMap(groups[g]) ? groups[g]["ssh_config"] : undefined;
    if (valid(v)) return { value: v, key: `groups.${g}.ssh_config` };
  }
  const top = data["ssh_config"];
  return valid(top) ? { value: top, key: "ssh_config" } : undefined;
}

/** The file an ssh_config setting names (true = ~/.ssh/config; a path relative to the inventory), or undefined for false. */
export function sshConfigFile(value: boolean | string, inventoryDir: string): string | undefined {
  if (value === false) return undefined;
  if (value === true) return path.join(os.homedir(), ".ssh", "config");
  if (value === "~") return os.homedir();
  if (value.startsWith("~/")) return path.join(os.homedir(), value.slice(2));
  return path.resolve(inventoryDir, value);
}

/** Read each config file once for a whole inventory; a problem per file that cannot be read. */
export class SshConfigCache {
  #files = new Map<string, LoadedSshConfig | Error>();
  load(file: string): LoadedSshConfig | Error {
    let c = this.#files.get(file);
    if (c === undefined) {
      try {
        c = { file, parsed: readSshConfig(file) };
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        c = new Error(code === "ENOENT" ? `${file} does not exist` : (e as Error).message);
      }
      this.#files.set(file, c);
    }
    return c;
  }
}

export function resolveHostSsh(i: HostSshInput): HostSshResult {
  const { name, shown, ssh, explicit, config } = i;
  const problems: string[] = [];
  const at = (key: string, msg: string) => problems.push(`${shown}: hosts.${name}.${key}: ${msg}`);
  const base = {
    become: ssh.become,
    connect_timeout_s: ssh.connect_timeout_s,
    command_timeout_s: ssh.command_timeout_s,
  };

  if (!config) {
    if (ssh.host === undefined) {
      at("ssh.host", sshHostRequired(name));
      return { problems };
    }
    const jump = (ssh.proxy_jump ? parseJumpSpecs(ssh.proxy_jump) : []).map((h): JumpHost => ({
      host: h.host,
      port: h.port ?? 22,
      user: h.user ?? ssh.user,
    }));
    return {
      ssh: { ...base, host: ssh.host, port: ssh.port, user: ssh.user, jump, ...optionalKey(ssh.private_key) },
      problems,
    };
  }

  const alias = ssh.host ?? name;
  const from = `${config.file} (Host ${alias})`;
  const entry = lookupSshConfig(config.parsed, alias);
  const bad = (what: string, value: string, expected: string) =>
    at("ssh_config", `${from}: ${what} ${showValue(value)} is not ${expected}`);

  const host = expandHostName(entry.hostName ?? alias, alias);
  if (!HOST.test(host)) bad("HostName", host, "a host name or IP address");
  let port = ssh.port;
  if (!explicit.has("port") && entry.port !== undefined) {
    port = Number(entry.port);
    if (!/^\d{1,5}$/.test(entry.port) || port < 1 || port > 65535) bad("Port", entry.port, "a port number (1-65535)");
  }
  const user = explicit.has("user") || entry.user === undefined ? ssh.user : entry.user;
  if (!USER.test(user)) bad("User", user, "a Unix user name (lowercase letters, digits, _ and -)");

  const tokens = { host, alias, port, user };
  const expand = (what: string, value: string): string | undefined => {
    try {
      return expandSshConfigPath(value, tokens);
    } catch (e) {
      at("ssh_config", `${from}: ${what}: ${(e as Error).message}`);
      return undefined;
    }
  };
  let privateKey = ssh.private_key;
  if (!explicit.has("private_key")) {
    // OpenSSH tries each IdentityFile that exists; ssh2 takes one key: the first that exists.
    privateKey = entry.identityFiles
      .map((f) => expand("IdentityFile", f))
      .find((f): f is string => f !== undefined && existsSync(f));
  }

  let jumpSpec: string | string[] | undefined = ssh.proxy_jump;
  if (!explicit.has("proxy_jump")) {
    if (entry.proxyCommand !== undefined)
      at(
        "ssh_config",
        `${from}: ProxyCommand is not supported (no shell is run to connect): use ProxyJump there, or ssh.proxy_jump here`,
      );
    jumpSpec = entry.proxyJump;
    for (const p of jumpSpec ? jumpSpecsProblems(jumpSpec) : []) at("ssh_config", `${from}: ProxyJump ${p}`);
  }
  const jump: JumpHost[] = [];
  if (jumpSpec && !jumpSpecsProblems(jumpSpec).length) {
    for (const h of parseJumpSpecs(jumpSpec)) {
      // A hop's own name goes through the config too (its HostName, Port, User), not its ProxyJump.
      const e = lookupSshConfig(config.parsed, h.host);
      const hopHost = expandHostName(e.hostName ?? h.host, h.host);
      const hopPort = h.port ?? (e.port !== undefined ? Number(e.port) : 22);
      const hopUser = h.user ?? e.user ?? user;
      if (!HOST.test(hopHost)) bad(`HostName of jump host ${h.host}`, hopHost, "a host name or IP address");
      if (!Number.isInteger(hopPort) || hopPort < 1 || hopPort > 65535)
        bad(`Port of jump host ${h.host}`, String(e.port), "a port number (1-65535)");
      jump.push({ host: hopHost, port: hopPort, user: hopUser });
    }
  }

  let knownHostsFile: string | undefined;
  if (!i.knownHostsExplicit && entry.userKnownHostsFiles.length > 0) {
    const f = expand("UserKnownHostsFile", entry.userKnownHostsFiles[0]!);
    if (f === "none" || f === "/dev/null")
      at(
        "ssh_config",
        `${from}: UserKnownHostsFile ${f} turns host-key checking off, which is not supported: name a file, or set known_hosts in the inventory`,
      );
    else knownHostsFile = f;
  }
  if (problems.length) return { problems };
  return {
    ssh: { ...base, host, port, user, jump, ...optionalKey(privateKey) },
    ...(knownHostsFile !== undefined ? { knownHostsFile } : {}),
    problems,
  };
}

const optionalKey = (k: string | undefined) => (k !== undefined ? { private_key: k } : {});
