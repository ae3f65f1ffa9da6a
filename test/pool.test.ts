import { describe, it, expect } from "vitest";
import { pool } from "../src/pool.ts";

describe("pool", () => {
  it("never runs more than the limit at once and keeps order", async () => {
    let running = 0;
    let peak = 0;
    const out = await pool([5, 1, 4, 2, 3], 2, async (x) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, x * 3));
      running--;
      return x * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(peak).toBe(2);
  });
});

describe("pool with an empty list", () => {
  it("returns an empty list without calling work", async () => {
    let calls = 0;
    expect(await pool([], 4, async () => calls++)).toEqual([]);
    expect(calls).toBe(0);
  });
});
