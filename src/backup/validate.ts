// Local checks of rendered files, before anything is written to any host (bad input → exit 1).
import { cronFileNameProblem } from "../inventory/rules.ts";
import { cronExpressionProblem } from "../inventory/cron.ts";
import type { DesiredState } from "./desired.ts";

/**
 * cron.d rules (Debian cron(8)): the file name and the schedules (the inventory's own rules), env
 * lines or 5 fields + user + command, final newline. One bad line and cron ignores the whole file.
 */
export function cronFileProblems(path: string, content: string): string[] {
  const problems: string[] = [];
  const badName = cronFileNameProblem(path);
  if (badName) problems.push(`${path}: ${badName}`);
  if (!content.endsWith("\n")) problems.push(`${path}: the last line must end with a newline or cron ignores it`);
  content.split("\n").forEach((line, i) => {
    const t = line.trim();
    if (t === "" || t.startsWith("#") || /^[A-Za-z_][A-Za-z0-9_]*=/.test(t)) return;
    const f = t.split(/\s+/);
    if (f.length < 7) {
      problems.push(`${path}:${i + 1}: expected "min hour dom month dow user command", got "${t}"`);
      return;
    }
    const expr = f.slice(0, 5).join(" ");
    const problem = cronExpressionProblem(expr);
    if (problem) problems.push(`${path}:${i + 1}: invalid cron expression "${expr}": ${problem}`);
    if (!/^[a-z_][a-z0-9_-]*$/.test(f[5]!))
      problems.push(`${path}:${i + 1}: expected a user name in the 6th field, got "${f[5]}"`);
  });
  return problems;
}

/**
 * What logrotate's parser (config.c) cannot read, checked before any host is contacted: a log path
 * with a double quote or a brace, unbalanced braces. The host runs
 * `logrotate -d` on the uploaded file as well, before it replaces the old one.
 */
export function logrotateFileProblems(path: string, content: string): string[] {
  const problems: string[] = [];
  let depth = 0;
  content.split("\n").forEach((line, i) => {
    const t = line.trim();
    if (t === "" || t.startsWith("#")) return;
    const at = `${path}:${i + 1}`;
    if (t.endsWith("{")) {
      const head = t.slice(0, -1).trim();
      const m = /^"([^"{}]*)"([^\s"{}]*)$/.exec(head) ?? /^([^\s"{}]+)$/.exec(head);
      if (!m) problems.push(`${at}: logrotate cannot parse the log path ${head} (no quotes or braces inside a path)`);
      depth++;
    } else if (t === "}") depth--;
    if (depth < 0 || depth > 1) problems.push(`${at}: unbalanced braces`);
  });
  if (depth !== 0) problems.push(`${path}: unbalanced braces`);
  return [...new Set(problems)];
}

export function stateProblems(state: DesiredState, paths: { cron_file: string; logrotate_file: string }): string[] {
  const problems: string[] = [];
  for (const f of state.files) {
    if (f.path === paths.cron_file) problems.push(...cronFileProblems(f.path, f.content));
    if (f.path === paths.logrotate_file) problems.push(...logrotateFileProblems(f.path, f.content));
  }
  return problems;
}
