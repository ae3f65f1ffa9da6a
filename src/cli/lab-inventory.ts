// The inventory name `lab` brings the local lab up first. The lab module (execa, seed data, sshd and
// PostgreSQL helpers) loads only then: every other run starts without it.
export async function ensureLabIfNamed(inventory: string, cwd: string): Promise<void> {
  if (inventory !== "lab") return;
  const { ensureLabFor } = await import("../lab/lab.ts");
  await ensureLabFor(inventory, cwd);
}
