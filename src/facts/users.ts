// Fact: whether Unix users exist (getent passwd).
import { remoteScript } from "../render/remote.ts";
import { parseFlags } from "./gather.ts";

/** templates/remote/facts/users.sh for these users. */
export function usersCommand(names: string[]): string {
  return remoteScript("facts/users.sh", { CEP_USERS: names });
}

export function parseUsers(output: string): Map<string, boolean> {
  return parseFlags(output, "USER", "yes");
}
