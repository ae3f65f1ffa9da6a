// Fact: whether Unix users exist (getent passwd).
import { shellQuote } from "../render/quote.ts";

export function usersCommand(names: string[]): string {
  return (
    names
      .map(
        (n) => `if getent passwd ${shellQuote(n)} >/dev/null; then echo "USER|${n}|yes"; else echo "USER|${n}|no"; fi`,
      )
      .join("\n") || ":"
  );
}

export function parseUsers(output: string): Map<string, boolean> {
  const m = new Map<string, boolean>();
  for (const line of output.split("\n")) {
    const [kind, name, yes] = line.split("|");
    if (kind === "USER" && name) m.set(name, yes === "yes");
  }
  return m;
}
