// Text for people: sizes, durations, ages and plain tables, one way everywhere (console tables,
// recaps, Markdown reports, bench output).

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"] as const;

/** 1536 → "1.5 KiB"; under 1 KiB in bytes ("512 B"); "-" for an unknown size. */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "-";
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(Math.abs(v) >= 100 ? 0 : 1)} ${UNITS[i]}`;
}

/** A duration in milliseconds: "850ms", "2.5s", "12.3s", "4m 05s", "2h 10m"; "-" when unknown. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "-";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** An age in seconds: "45s", "12m", "5h 03m", "3d 4h"; "-" when unknown. */
export function formatAge(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "-";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

export interface TableOptions {
  /** Right-align cells that look like numbers (all columns but the first). */
  alignNumbers?: boolean;
}

/** A plain text table: the first row is the header, columns two spaces apart, no trailing blanks. */
export function textTable(rows: readonly (readonly string[])[], opts: TableOptions = {}): string {
  if (rows.length === 0) return "";
  const cols = Math.max(...rows.map((r) => r.length));
  const widths = Array.from({ length: cols }, (_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  const numeric = (c: string) => /^[-+~]?[\d.,]+( ?[a-zA-Z%×]+)?$/.test(c) || c === "-";
  return rows
    .map((r) =>
      Array.from({ length: cols }, (_, i) => {
        const c = r[i] ?? "";
        if (i === cols - 1) return c;
        return opts.alignNumbers && i > 0 && numeric(c) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!);
      })
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
