// The apply script: every planned change of a host in ONE remote command: the plain start in
// templates/remote/apply.sh, then a step per change. Each step announces itself (STEP|id) so a
// failure names the operation that broke; file payloads travel inside the script on stdin (never
// argv), so this works under sudo where SFTP could not write root's dirs.
import type { Planned } from "./types.ts";
import { shellQuote } from "../render/quote.ts";
import { remoteScript } from "../render/remote.ts";

/** The script's start (set -Eeuo pipefail, the cep_put and cep_apt_install helpers): templates/remote/apply.sh. */
export const APPLY_PREAMBLE = remoteScript("apply.sh");

/**
 * The apply script of `changes`. With `lock` (the app's config directory), it first takes the
 * host's provision lock there, waiting up to `lockWaitS` seconds for another provision's apply.
 */
export function applyScript(changes: Planned[], opts: { lock?: string; lockWaitS?: number } = {}): string {
  const body = changes
    .filter((c) => c.changed && c.script)
    .map((c) => `printf 'STEP|%s\\n' ${shellQuote(c.id)}\n${c.script}`);
  const lock = opts.lock ? `cep_lock ${shellQuote(opts.lock)} ${opts.lockWaitS ?? 120}\n` : "";
  return `${APPLY_PREAMBLE}\n${lock}${body.join("\n")}\necho 'APPLY|ok'\n`;
}

/** The id of the step that was running when the apply script stopped (undefined if it finished). */
export function failedStep(stdout: string): string | undefined {
  const lines = stdout.split("\n");
  if (lines.includes("APPLY|ok")) return undefined;
  const steps = lines.filter((l) => l.startsWith("STEP|"));
  return steps.length ? steps[steps.length - 1]!.slice(5) : "";
}

export interface StepOutcome {
  plan: Planned;
  status: "ok" | "changed" | "failed" | "skipped";
  message: string;
}

/**
 * What became of each planned operation after the apply script ran (`result` undefined: nothing
 * was applied, as in check mode). Steps run in plan order: those before the failed one were
 * applied, those after were not. A script that failed before its first step, or exited non-zero
 * after its last, fails the whole apply, never reports success.
 */
export function applyOutcome(
  plan: Planned[],
  result: { code: number; stdout: string; stderr: string } | undefined,
  opts: { check?: boolean } = {},
): { steps: StepOutcome[]; error?: string } {
  const errors = plan.some((p) => p.error);
  if (result === undefined) {
    return {
      steps: plan.map((p) => {
        if (p.error) return { plan: p, status: "failed", message: p.error };
        if (!p.changed) return { plan: p, status: "ok", message: p.reason };
        if (errors)
          return { plan: p, status: "skipped", message: `not applied (the host has a planning error): ${p.reason}` };
        return { plan: p, status: "changed", message: opts.check ? `would change: ${p.reason}` : p.reason };
      }),
    };
  }
  const step = failedStep(result.stdout);
  const why = result.stderr.trim() || `exit ${result.code}`;
  if (step === undefined) {
    // Every step ran; a non-zero exit after the last one still fails the host.
    const steps = plan.map((p): StepOutcome => ({ plan: p, status: p.changed ? "changed" : "ok", message: p.reason }));
    return {
      steps,
      error: result.code === 0 ? undefined : `apply script failed after its last step (exit ${result.code}): ${why}`,
    };
  }
  let reached = step === "";
  const steps = plan.map((p): StepOutcome => {
    if (!p.changed) return { plan: p, status: "ok", message: p.reason };
    if (p.id === step) {
      reached = true;
      return { plan: p, status: "failed", message: `${p.reason}: ${why}` };
    }
    return reached
      ? { plan: p, status: "skipped", message: "not applied: the apply script stopped before this step" }
      : { plan: p, status: "changed", message: p.reason };
  });
  return {
    steps,
    error: step === "" ? `apply script failed before its first step (exit ${result.code}): ${why}` : undefined,
  };
}
