// The one place that turns errors into exit codes: playbooks throw, this prints and exits.
import { InputError, EXIT } from "../errors.ts";

export async function main(fn: () => Promise<number>): Promise<never> {
  let code: number;
  try {
    code = await fn();
  } catch (e) {
    if (e instanceof InputError) {
      for (const p of e.problems) process.stderr.write(`${p}\n`);
      code = EXIT.badInput;
    } else {
      process.stderr.write(`error: ${(e as Error).stack ?? e}\n`);
      code = EXIT.failed;
    }
  }
  // Let stdout drain before exiting (reports can be long when piped).
  await new Promise<void>((r) => process.stdout.write("", () => r()));
  process.exit(code);
}
