// Secret references resolved to values: `{ env: NAME }` from the environment, `{ vault: key }` from
// the inventory's age-encrypted vault. Every value resolved is remembered for masking. Problems
// name the file, the key path and the reference, never a value.
import { readFile } from "node:fs/promises";
import { InputError } from "../errors.ts";
import type { SecretRef } from "./schema.ts";
import { readVault } from "./vault.ts";

export interface VaultSource {
  /** Absolute path of the vault file. */
  file: string;
  /** Absolute path of the identity file, or the name of the env var holding the identity. */
  identityFile?: string;
  identityEnv?: string;
}

export interface SecretContext {
  /** Inventory file as shown in messages. */
  inventory: string;
  env: NodeJS.ProcessEnv;
  vault?: VaultSource;
  /** How to show an absolute path in messages (relative to cwd when below it). */
  show: (abs: string) => string;
}

export type Resolution = { ok: true; value: string } | { ok: false; problem?: string };

export class SecretResolver {
  /** Every secret value resolved (plus the vault identity), for masking. */
  readonly values = new Set<string>();
  /** Problems about the vault itself (reported once, not per reference). */
  readonly vaultProblems: string[] = [];
  private vault?: Promise<Record<string, string> | undefined>;

  constructor(private readonly ctx: SecretContext) {}

  /** Resolve one reference; `where` is "file: key.path" for messages. */
  async resolve(ref: SecretRef, where: string): Promise<Resolution> {
    if ("env" in ref) {
      const v = this.ctx.env[ref.env];
      if (v === undefined) return { ok: false, problem: `${where}: environment variable ${ref.env} is not set` };
      if (v === "") return { ok: false, problem: `${where}: environment variable ${ref.env} is empty` };
      this.values.add(v);
      return { ok: true, value: v };
    }
    if (!this.ctx.vault) {
      return {
        ok: false,
        problem: `${where}: { vault: ${ref.vault} } needs a vault section in ${this.ctx.inventory} (vault: { file, identity_file | identity_env })`,
      };
    }
    const map = await this.openVault();
    if (!map) return { ok: false }; // the vault's own problem is reported once
    const v = map[ref.vault];
    if (v === undefined)
      return {
        ok: false,
        problem: `${where}: vault key ${ref.vault} not found in ${this.ctx.show(this.ctx.vault.file)}`,
      };
    if (v === "")
      return {
        ok: false,
        problem: `${where}: vault key ${ref.vault} is empty in ${this.ctx.show(this.ctx.vault.file)}`,
      };
    this.values.add(v);
    return { ok: true, value: v };
  }

  private openVault(): Promise<Record<string, string> | undefined> {
    this.vault ??= this.load();
    return this.vault;
  }

  private async load(): Promise<Record<string, string> | undefined> {
    const vault = this.ctx.vault!;
    const inv = this.ctx.inventory;
    let identity: string;
    if (vault.identityEnv !== undefined) {
      const v = this.ctx.env[vault.identityEnv];
      if (v === undefined || v.trim() === "") {
        this.vaultProblems.push(
          `${inv}: vault.identity_env: environment variable ${vault.identityEnv} is not set (it must hold the vault's AGE-SECRET-KEY-1... identity)`,
        );
        return undefined;
      }
      identity = v;
    } else if (vault.identityFile !== undefined) {
      try {
        identity = await readFile(vault.identityFile, "utf8");
      } catch (e) {
        this.vaultProblems.push(
          `${inv}: vault.identity_file: cannot read ${this.ctx.show(vault.identityFile)}: ${(e as NodeJS.ErrnoException).code ?? "error"}`,
        );
        return undefined;
      }
    } else {
      return undefined; // reported by the loader (neither identity_file nor identity_env)
    }
    for (const line of identity.split(/\r?\n/))
      if (line.trim().startsWith("AGE-SECRET-KEY-")) this.values.add(line.trim());
    try {
      return await readVault(vault.file, identity);
    } catch (e) {
      if (e instanceof InputError) {
        const abs = vault.file;
        for (const p of e.problems)
          this.vaultProblems.push(
            `${inv}: vault.file: ${p.startsWith(abs) ? this.ctx.show(abs) + p.slice(abs.length) : p}`,
          );
        return undefined;
      }
      throw e;
    }
  }
}
