// Free loopback TCP ports for test servers (sshd, PostgreSQL, webhook receivers).
import { createServer } from "node:net";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

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
