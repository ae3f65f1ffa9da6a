// Fact: whether a daemon runs (by its process name).
import { shellQuote } from "../render/quote.ts";

export function servicesCommand(names: string[]): string {
  return (
    names
      .map(
        (n) =>
          `if pgrep -x ${shellQuote(n)} >/dev/null 2>&1; then echo "SVC|${n}|running"; else echo "SVC|${n}|stopped"; fi`,
      )
      .join("\n") || ":"
  );
}

export function parseServices(output: string): Map<string, boolean> {
  const m = new Map<string, boolean>();
  for (const line of output.split("\n")) {
    const [kind, name, state] = line.split("|");
    if (kind === "SVC" && name) m.set(name, state === "running");
  }
  return m;
}
