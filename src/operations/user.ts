// Operation: the dedicated backup system user (spec, Best Practices: "Use dedicated backup user").
import { shellQuote } from "../render/quote.ts";
import type { Planned } from "./types.ts";

export function planUser(name: string | undefined, exists: boolean | undefined, home: string): Planned {
  // Every directory and file it owns needs it first.
  const base = {
    id: "user",
    name: "backup user",
    tags: [
      "user" as const,
      "dirs" as const,
      "scripts" as const,
      "config" as const,
      "cron" as const,
      "logrotate" as const,
    ],
  };
  if (name === undefined)
    return { ...base, changed: false, reason: "backup_user is root: no dedicated user needed", script: "" };
  if (exists) return { ...base, changed: false, reason: `user ${name} exists`, script: "" };
  return {
    ...base,
    changed: true,
    reason: `create system user ${name}`,
    script: `useradd --system --user-group --no-create-home --home-dir ${shellQuote(home)} --shell /bin/bash ${shellQuote(name)}`,
  };
}
