// Resolved vars for tests that render templates without an inventory file: the built-in defaults
// under a prefix, with the given database settings.
import { DEFAULT_VARS, derivePaths } from "../../src/inventory/defaults.ts";
import type { ResolvedVars } from "../../src/inventory/types.ts";

export function testVars(opts: {
  prefix: string;
  db: { port: number; password: string; host?: string; name?: string; user?: string };
  overrides?: Partial<ResolvedVars>;
}): ResolvedVars {
  const app = DEFAULT_VARS.app;
  return {
    ...structuredClone(DEFAULT_VARS),
    prefix: opts.prefix,
    environment: "lab",
    database: {
      name: opts.db.name ?? DEFAULT_VARS.database.name,
      user: opts.db.user ?? DEFAULT_VARS.database.user,
      host: opts.db.host ?? "127.0.0.1",
      port: opts.db.port,
      password: opts.db.password,
      check_login: DEFAULT_VARS.database.check_login,
      dump_jobs: DEFAULT_VARS.database.dump_jobs,
    },
    paths: derivePaths(app, opts.prefix),
    alerts: {},
    offsite: { enabled: false },
    ...opts.overrides,
  } as ResolvedVars;
}
