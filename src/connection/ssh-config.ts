// OpenSSH client config files (ssh_config(5)): the one place the `ssh-config` parser is used. Read
// at inventory load, never while connecting: what a Host block says for an alias (HostName, Port,
// User, IdentityFile, ProxyJump, UserKnownHostsFile), with OpenSSH's first-match precedence.
//
// Supported besides Host blocks: `Match` blocks with host/originalhost/user/localuser/all criteria
// (the parser's own matching; `Match exec` is never run), `Include` at the top level (relative paths
// in ~/.ssh as OpenSSH has them, a glob in the last path component), and the tokens %% %h %n %p %r
// %u %d and a leading ~ in IdentityFile and UserKnownHostsFile. ProxyCommand cannot be honoured
// without running a shell, so a host that has one is refused (ProxyJump does the same job).
import { readFileSync, readdirSync } from "node:fs";
import { homedir, userInfo } from "node:os";
import { basename, dirname, isAbsolute, join } from "node:path";
import picomatch from "picomatch";
import SSHConfig, { LineType, type Line } from "ssh-config";

export type ParsedSshConfig = SSHConfig;

/** What the config says for one alias (values as written, tokens not yet expanded). */
export interface SshConfigEntry {
  hostName?: string;
  port?: string;
  user?: string;
  identityFiles: string[];
  proxyJump?: string;
  userKnownHostsFiles: string[];
  proxyCommand?: string;
}

const MAX_INCLUDE_DEPTH = 16;

/** The files an Include pattern names: absolute, ~, or relative to ~/.ssh; a glob in the last component. */
function includeFiles(pattern: string): string[] {
  const p = pattern.startsWith("~/") ? join(homedir(), pattern.slice(2)) : pattern;
  const full = isAbsolute(p) ? p : join(homedir(), ".ssh", p);
  const dir = dirname(full);
  const base = basename(full);
  if (!/[*?[]/.test(base)) return [full];
  const isMatch = picomatch(base, { dot: false });
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => isMatch(n))
    .sort()
    .map((n) => join(dir, n));
}

function readInto(file: string, depth: number, out: Line[]): void {
  if (depth > MAX_INCLUDE_DEPTH) throw new Error(`${file}: Include nested more than ${MAX_INCLUDE_DEPTH} deep`);
  const config = SSHConfig.parse(readFileSync(file, "utf8"));
  for (const line of config) {
    if (line.type !== LineType.DIRECTIVE) continue;
    if (/^include$/i.test(line.param)) {
      const values = Array.isArray(line.value) ? line.value.map((v) => v.val) : line.value.split(/\s+/);
      for (const v of values) {
        // A missing included file is skipped, as OpenSSH does (globs often match nothing).
        for (const f of includeFiles(v)) {
          try {
            readInto(f, depth + 1, out);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
          }
        }
      }
      continue;
    }
    if ("config" in line)
      for (const sub of line.config)
        if (sub.type === LineType.DIRECTIVE && /^include$/i.test(sub.param))
          throw new Error(`${file}: Include inside a ${line.param} block is not supported (put it at the top level)`);
    out.push(line);
  }
}

/** Read and parse an OpenSSH config file with its top-level Includes. Throws with the file named. */
export function readSshConfig(file: string): ParsedSshConfig {
  const lines: Line[] = [];
  readInto(file, 0, lines);
  const config = new SSHConfig();
  config.push(...lines);
  return config;
}

/** Parse config text (no Includes): for tests and recorded cases. */
export function parseSshConfig(text: string): ParsedSshConfig {
  return SSHConfig.parse(text);
}

const first = (v: unknown): string | undefined =>
  Array.isArray(v) ? (v[0] as string | undefined) : typeof v === "string" ? v : undefined;
const all = (v: unknown): string[] =>
  Array.isArray(v) ? (v as string[]).flatMap((s) => s.split(/\s+/)) : typeof v === "string" ? v.split(/\s+/) : [];

/** What `config` says for `alias`: the first value of each keyword in file order, as OpenSSH takes it. */
export function lookupSshConfig(config: ParsedSshConfig, alias: string): SshConfigEntry {
  const c = config.compute(alias, { ignoreCase: true, matchExec: false }) as Record<string, unknown>;
  const entry: SshConfigEntry = {
    identityFiles: all(c["identityfile"]),
    userKnownHostsFiles: all(c["userknownhostsfile"]),
  };
  const set = (k: keyof SshConfigEntry, v: string | undefined) => {
    if (v !== undefined) (entry as unknown as Record<string, string>)[k] = v;
  };
  set("hostName", first(c["hostname"]));
  set("port", first(c["port"]));
  set("user", first(c["user"]));
  set("proxyJump", first(c["proxyjump"]));
  set("proxyCommand", typeof c["proxycommand"] === "string" ? c["proxycommand"] : first(c["proxycommand"]));
  return entry;
}

export interface TokenValues {
  /** %h: the remote host name (after HostName). */
  host: string;
  /** %n: the name as given (the alias). */
  alias: string;
  port: number;
  /** %r: the remote user. */
  user: string;
}

/**
 * Expand ssh_config(5) tokens (%% %h %n %p %r %u %d) and a leading ~ in a path. Throws on a token
 * this resolver does not know (rather than guessing a path).
 */
export function expandSshConfigPath(value: string, t: TokenValues): string {
  const home = homedir();
  const out = value.replace(/%(.)/g, (_, c: string) => {
    switch (c) {
      case "%":
        return "%";
      case "h":
        return t.host;
      case "n":
        return t.alias;
      case "p":
        return String(t.port);
      case "r":
        return t.user;
      case "u":
        return userInfo().username;
      case "d":
        return home;
      default:
        throw new Error(`token %${c} in "${value}" is not supported (only %% %h %n %p %r %u %d)`);
    }
  });
  return out === "~" ? home : out.startsWith("~/") ? join(home, out.slice(2)) : out;
}

/** HostName's tokens: %h is the alias there (OpenSSH), %% a percent sign. */
export function expandHostName(value: string, alias: string): string {
  return value.replace(/%([%h])/g, (_, c: string) => (c === "%" ? "%" : alias));
}
