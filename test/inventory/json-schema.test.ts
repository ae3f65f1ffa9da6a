import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { inventoryJsonSchema, inventoryJsonSchemaText } from "../../src/inventory/json-schema.ts";

const REPO = path.resolve(import.meta.dirname, "../..");

describe("inventories/inventory.schema.json", () => {
  it("is the committed output of the generator (regenerate: npm run schema)", async () => {
    const committed = await readFile(path.join(REPO, "inventories/inventory.schema.json"), "utf8");
    expect(committed, "inventories/inventory.schema.json is stale: run npm run schema and commit it").toBe(
      inventoryJsonSchemaText(),
    );
  });

  it("is strict like the zod schema, requires environment and hosts, and knows the secret forms", () => {
    const s = inventoryJsonSchema() as {
      additionalProperties?: unknown;
      required?: string[];
      properties: Record<string, unknown>;
    };
    expect(s.additionalProperties).toBe(false);
    expect(s.required).toEqual(expect.arrayContaining(["environment", "hosts"]));
    expect(s.required).not.toContain("known_hosts");
    const text = JSON.stringify(s);
    expect(text).toContain('"env"');
    expect(text).toContain('"vault"');
    expect(text).toContain('"daily_days"');
  });
});
