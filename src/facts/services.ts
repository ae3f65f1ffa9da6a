// Fact: whether a daemon runs (by its process name).
import { remoteScript } from "../render/remote.ts";
import { parseFlags } from "./gather.ts";

/** templates/remote/facts/services.sh for these process names. */
export function servicesCommand(names: string[]): string {
  return remoteScript("facts/services.sh", { CEP_SERVICES: names });
}

export function parseServices(output: string): Map<string, boolean> {
  return parseFlags(output, "SVC", "running");
}
