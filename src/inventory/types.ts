// The inventory after loading: every host with its merged, defaulted, validated vars and resolved
// secrets. Code past the loader trusts these types.
import type { SshTarget } from "../connection/types.ts";
import type { ResolvedVarsTree } from "./secret-vars.ts";

/** Vars with secrets resolved to their values (kept out of logs by the mask list on Inventory). */
export type ResolvedVars = ResolvedVarsTree & {
  environment: "production" | "staging" | "lab";
};

export interface Host {
  name: string;
  groups: string[];
  /** How to reach it: the inventory's ssh block over its OpenSSH config (ssh_config), private_key absolute, jump hosts resolved. */
  ssh: SshTarget;
  /** The known_hosts file for this host when its ssh_config names one (UserKnownHostsFile) and the inventory sets none. */
  knownHostsFile?: string;
  vars: ResolvedVars;
}

export interface Inventory {
  /** Absolute path of the inventory file. */
  file: string;
  environment: "production" | "staging" | "lab";
  /** Absolute path of the known_hosts file (resolved relative to the inventory file). */
  knownHostsFile: string;
  hosts: Host[];
  /** Every resolved secret value, for masking in diffs, logs and reports. */
  secrets: string[];
}
