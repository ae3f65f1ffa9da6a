// The one shell-quoting helper: every value that reaches a shell goes through here.

/** POSIX single-quote a value so a shell reads it back byte for byte. */
export function shellQuote(value: string | number | boolean): string {
  const s = String(value);
  if (s === "") return "''";
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Quote a list as a space-separated sequence of shell words. */
export function shellQuoteList(values: readonly (string | number)[]): string {
  return values.map((v) => shellQuote(v)).join(" ");
}

/** Escape a pgpass field: `:` and `\` are escaped with a backslash (PostgreSQL docs, "The Password File"). */
export function pgpassField(value: string | number): string {
  const s = String(value);
  if (/[\r\n]/.test(s)) throw new Error("a pgpass field cannot contain a newline");
  return s.replace(/[\\:]/g, (c) => `\\${c}`);
}

/** A value a generated shell header assigns: a word, or a list (a bash array). */
export type ShellValue = string | number | boolean | readonly (string | number)[];

/**
 * `NAME=value` lines, one per entry, every value through shellQuote (a list becomes `NAME=(a b c)`),
 * so the values of a run reach the plain scripts byte for byte. Names are upper case: shellcheck
 * then reads them as the environment of the file they are prepended to.
 */
export function shellAssignments(values: Record<string, ShellValue>): string {
  return Object.entries(values)
    .map(([name, v]) => {
      if (!/^[A-Z_][A-Z0-9_]*$/.test(name))
        throw new Error(`shell variable name ${JSON.stringify(name)}: expected A-Z, 0-9 and _`);
      if (Array.isArray(v)) return `${name}=(${shellQuoteList(v)})\n`;
      return `${name}=${shellQuote(v as string | number | boolean)}\n`;
    })
    .join("");
}

/**
 * A value of an INI-style config file rclone reads (its config parser): one line, no control
 * characters, no surrounding spaces, and no leading quote (the parser would strip it). The
 * inventory's checks keep such values out before any host is contacted; this is the last guard.
 */
export function iniValue(value: string | number): string {
  const s = String(value);
  if (/[\u0000-\u001f\u007f]/.test(s) || s !== s.trim() || /^["'`]/.test(s))
    throw new Error("an rclone config value must be one line without surrounding spaces or a leading quote");
  return s;
}
