// YAML documents read the one way the inventory, -e @files and the vault need: duplicate keys are
// errors, and every syntax error becomes "<file>: line L, column C: ..." (never the pretty form,
// which quotes the source line: in a vault that line could hold a secret).
import YAML from "yaml";
import { InputError } from "../errors.ts";

export function parseYamlDocument(
  text: string,
  shown: string,
  opts: { failsafe?: boolean; describe?: (err: YAML.YAMLError, line: number, col: number) => string } = {},
): YAML.Document {
  const lc = new YAML.LineCounter();
  const doc = YAML.parseDocument(text, {
    lineCounter: lc,
    uniqueKeys: true,
    prettyErrors: false,
    ...(opts.failsafe ? { schema: "failsafe" as const } : { merge: true }),
  });
  if (doc.errors.length > 0) {
    const describe =
      opts.describe ??
      ((err: YAML.YAMLError, line: number, col: number) =>
        `line ${line}, column ${col}: ${err.message.split("\n")[0]}`);
    throw new InputError(
      doc.errors.map((err) => {
        const { line, col } = lc.linePos(err.pos[0]);
        return `${shown}: ${describe(err, line, col)}`;
      }),
    );
  }
  return doc;
}
