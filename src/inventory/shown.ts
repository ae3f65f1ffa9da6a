// One way to echo a value the operator gave inside a problem line: quoted, with control characters,
// newlines and bidirectional overrides escaped, so a hostile value can never break the one-line
// `file: key.path: message` format (or forge a line of its own, or reorder what the terminal shows).

/** `s` in double quotes, JSON-escaped, with Unicode bidi controls as \u escapes too. */
export function shown(s: string): string {
  return JSON.stringify(s).replace(
    /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
