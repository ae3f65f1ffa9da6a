// Installs the rendered backup system into a local prefix tree exactly as provision lays it out on a
// host (same desired state, modes and owners), for tests that run the scripts without SSH.
import { mkdirSync, writeFileSync, chmodSync } from "node:fs";
import { createRenderer } from "../../src/render/render.ts";
import { desiredState } from "../../src/backup/desired.ts";
import type { ResolvedVars } from "../../src/inventory/types.ts";

export function installLocally(vars: ResolvedVars): { scripts: string; conf: string } {
  const state = desiredState(vars, createRenderer());
  for (const d of state.dirs) {
    mkdirSync(d.path, { recursive: true });
    chmodSync(d.path, d.mode);
  }
  for (const f of state.files) {
    writeFileSync(f.path, f.content);
    chmodSync(f.path, f.mode);
  }
  return { scripts: vars.paths.scripts_dir, conf: vars.paths.config_file };
}
