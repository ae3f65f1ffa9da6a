// JSON Schema of the inventory for editors (yaml-language-server): completion, hover and typo
// squiggles while writing inventories/*.yml. Generated from the zod schema; the committed
// inventories/inventory.schema.json is checked against this by a test, so it never drifts.
//
//   npm run schema      (tsx src/inventory/json-schema.ts inventories/inventory.schema.json)
import { renameSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { inventorySchema } from "./schema.ts";

/** The inventory's JSON Schema (draft 2020-12, input side: keys with defaults are optional). */
export function inventoryJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(inventorySchema, {
    target: "draft-2020-12",
    io: "input",
    reused: "ref",
    unrepresentable: "any",
  }) as Record<string, unknown>;
  return {
    $schema: schema["$schema"],
    title: "Backup provisioner inventory",
    description:
      "Hosts, groups and vars for the CEPComunicacion backup provisioner. Secrets are { env: NAME } or { vault: key }, never plaintext.",
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== "$schema")),
  };
}

/** The file content of inventories/inventory.schema.json. */
export function inventoryJsonSchemaText(): string {
  return `${JSON.stringify(inventoryJsonSchema(), null, 2)}\n`;
}

// Run as a script: write the file named by the argument (atomically), or print to stdout.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = process.argv[2];
  if (out === undefined) process.stdout.write(inventoryJsonSchemaText());
  else {
    writeFileSync(`${out}.tmp`, inventoryJsonSchemaText());
    renameSync(`${out}.tmp`, out);
    process.stdout.write(`wrote ${out}\n`);
  }
}
