// Every fact a host needs, gathered in ONE remote command: each fact's command runs in its own
// section and its output is split back by section markers for the fact's pure parser.

export interface FactCommand {
  name: string;
  command: string;
}

const MARK = "@@CEP-FACT@@";

export function gatherScript(facts: FactCommand[]): string {
  return facts.map((f) => `echo '${MARK}|${f.name}'\n{\n${f.command}\n}`).join("\n");
}

export function splitSections(output: string): Map<string, string> {
  const sections = new Map<string, string>();
  let current: string | undefined;
  let buf: string[] = [];
  for (const line of output.split("\n")) {
    if (line.startsWith(`${MARK}|`)) {
      if (current !== undefined) sections.set(current, buf.join("\n"));
      current = line.slice(MARK.length + 1);
      buf = [];
    } else if (current !== undefined) buf.push(line);
  }
  if (current !== undefined) sections.set(current, buf.join("\n"));
  return sections;
}

/** `KIND|name|value` lines of one kind → name → whether value is `yes` (the users and services facts). */
export function parseFlags(output: string, kind: string, yes: string): Map<string, boolean> {
  const m = new Map<string, boolean>();
  for (const line of output.split("\n")) {
    const [k, name, value] = line.split("|");
    if (k === kind && name) m.set(name, value === yes);
  }
  return m;
}
