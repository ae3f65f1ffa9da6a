// Test-only network helpers; free ports come from the lab's module.
import { createServer } from "node:net";
import { freePort } from "../../src/lab/ports.ts";

export { freePort };

/** A loopback TCP listener that only counts connections: proves a run contacted no host. */
export async function connectionCounter(): Promise<{ port: number; count: () => number; close: () => void }> {
  let n = 0;
  const server = createServer((s) => {
    n++;
    s.destroy();
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  return { port, count: () => n, close: () => server.close() };
}
