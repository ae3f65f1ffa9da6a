import { describe, it, expect } from "vitest";
import { formatAge, formatBytes, formatMs, textTable } from "../src/format.ts";

describe("formatBytes", () => {
  it("uses bytes under 1 KiB and binary units above, '-' when unknown", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(300 * 1024 * 1024)).toBe("300 MiB");
    expect(formatBytes(5 * 1024 ** 4)).toBe("5.0 TiB");
    expect(formatBytes(null)).toBe("-");
    expect(formatBytes(undefined)).toBe("-");
    expect(formatBytes(Number.NaN)).toBe("-");
  });
});

describe("formatMs", () => {
  it("scales from milliseconds to hours", () => {
    expect(formatMs(850)).toBe("850ms");
    expect(formatMs(2500)).toBe("2.5s");
    expect(formatMs(12_345)).toBe("12.3s");
    expect(formatMs(245_000)).toBe("4m 05s");
    expect(formatMs(7_800_000)).toBe("2h 10m");
    expect(formatMs(null)).toBe("-");
  });
});

describe("formatAge", () => {
  it("says seconds, minutes, hours and days as an operator reads an age", () => {
    expect(formatAge(45)).toBe("45s");
    expect(formatAge(12 * 60 + 5)).toBe("12m");
    expect(formatAge(5 * 3600 + 3 * 60)).toBe("5h 03m");
    expect(formatAge(3 * 86400 + 4 * 3600)).toBe("3d 4h");
    expect(formatAge(-5)).toBe("0s");
    expect(formatAge(null)).toBe("-");
  });
});

describe("textTable", () => {
  it("pads columns two spaces apart, leaves the last column and line ends unpadded", () => {
    expect(
      textTable([
        ["HOST", "STATUS", "NOTE"],
        ["web1", "ok", ""],
        ["db-primary", "failed", "disk full"],
      ]),
    ).toBe(["HOST        STATUS  NOTE", "web1        ok", "db-primary  failed  disk full"].join("\n"));
  });
  it("right-aligns numbers when asked, never the first column", () => {
    expect(
      textTable(
        [
          ["case", "wall", "note"],
          ["noop", "1.2 s", "x"],
          ["10", "12.5 s", "y"],
        ],
        { alignNumbers: true },
      ),
    ).toBe(["case  wall    note", "noop   1.2 s  x", "10    12.5 s  y"].join("\n"));
  });
  it("is empty for no rows", () => {
    expect(textTable([])).toBe("");
  });
});
