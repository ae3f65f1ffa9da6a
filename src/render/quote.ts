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
