// Debian cron's grammar for the five time fields of a crontab line (cron 3.0pl1, entry.c), the one
// rule for the inventory's schedules (schema.ts) and for the rendered cron.d file (backup/validate.ts).
// cron(8) skips a cron.d file WHOLE when one line does not parse ("Syntax error, this crontab file
// will be ignored"): no backups, checks or alerts at all. So nothing cron would refuse may pass:
// Quartz/Jenkins extensions (? H L W #), a seconds field, a step after a single number (5/15),
// values out of range. A little stricter than cron where cron takes a line but never runs it as
// meant: reversed ranges (30-10), steps beyond the field (*/61), junk after a range (1-2-3).
// test/inventory/cron.test.ts checks every verdict against Debian's cron daemon itself.
import { shown } from "./shown.ts";

interface Field {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"] as const;
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;

const FIELDS: readonly Field[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  // Names count from the field's first value: jan = 1, sun = 0 (7 is Sunday too).
  { name: "month", min: 1, max: 12, names: MONTHS },
  { name: "day of week", min: 0, max: 7, names: DAYS },
];

/** A number or (month and day of week only) a three-letter name, case-insensitive; NaN if neither. */
function value(text: string, f: Field): number {
  if (/^\d+$/.test(text)) return Number(text);
  const i = f.names?.indexOf(text.toLowerCase() as never) ?? -1;
  return i >= 0 ? f.min + i : NaN;
}

/** One comma-separated item: `*`, `a` or `a-b`, the last two optionally `/step` (`*` too). */
function itemOk(item: string, f: Field): boolean {
  const m = /^(\*|([^-/*]+)(?:-([^-/*]+))?)(?:\/(\d+))?$/.exec(item);
  if (!m) return false;
  const [, head, a, b, step] = m;
  if (step !== undefined) {
    // cron takes a step only after * or a range ("5/15" is a syntax error).
    if (head !== "*" && b === undefined) return false;
    const s = Number(step);
    if (s < 1 || s > f.max - f.min + 1) return false;
  }
  if (head === "*") return true;
  const lo = value(a!, f);
  const hi = b === undefined ? lo : value(b, f);
  return Number.isInteger(lo) && Number.isInteger(hi) && lo >= f.min && hi <= f.max && lo <= hi;
}

function fieldOk(text: string, f: Field): boolean {
  return text.split(",").every((item) => item !== "" && itemOk(item, f));
}

/** What is wrong with a 5-field schedule for Debian's cron, or undefined when cron reads it as meant. */
export function cronExpressionProblem(expr: string): string | undefined {
  if (/[\u0000-\u001f\u007f]/.test(expr)) return "expected a single line without control characters";
  const fields = expr.trim().split(/\s+/).filter(Boolean);
  if (fields.length !== 5)
    return (
      `expected 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}` +
      (fields.length === 6 ? " (cron has no seconds field)" : "")
    );
  for (let i = 0; i < 5; i++) {
    const f = FIELDS[i]!;
    if (!fieldOk(fields[i]!, f))
      return (
        `${f.name} ${shown(fields[i]!)}: expected numbers ${f.min}-${f.max}` +
        (f.names ? ` or names (${f.names[0]}-${f.names[f.names.length - 1]})` : "") +
        ", ranges (a-b), steps (*/n or a-b/n), lists (a,b) or *"
      );
  }
  return undefined;
}
