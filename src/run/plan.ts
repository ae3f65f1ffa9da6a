// Per host: the one facts command for its desired state, and the plan from the facts it returned.
// Pure: tested on recorded facts.
import type { DesiredState } from "../backup/desired.ts";
import { filesCommand, parseFiles } from "../facts/files.ts";
import { packagesCommand, parsePackages } from "../facts/packages.ts";
import { usersCommand, parseUsers } from "../facts/users.ts";
import { servicesCommand, parseServices } from "../facts/services.ts";
import { gatherScript, splitSections } from "../facts/gather.ts";
import { planPackages } from "../operations/packages.ts";
import { planUser } from "../operations/user.ts";
import { planCronService } from "../operations/service.ts";
import { planDirectory } from "../operations/directory.ts";
import { planFile, sha256, type Differ } from "../operations/file.ts";
import type { Planned } from "../operations/types.ts";

export interface TagFilter {
  tags?: string[];
  skipTags?: string[];
}

/** An operation runs when it has a selected tag (or no --tags at all) and no skipped one. An empty
 *  list selects nothing (`--tags smoke` leaves no install operation). */
export function selected(tags: readonly string[], f: TagFilter): boolean {
  if (f.skipTags?.some((t) => tags.includes(t))) return false;
  return f.tags === undefined || f.tags.some((t) => tags.includes(t));
}

function managedPaths(state: DesiredState): string[] {
  return [...state.dirs.map((d) => d.path), ...state.files.map((f) => f.path)];
}

export function factsScript(state: DesiredState, opts: { diff?: boolean } = {}): string {
  const paths = managedPaths(state);
  const want = [...state.dirs.map(() => undefined), ...state.files.map((f) => sha256(f.content))];
  return gatherScript([
    { name: "packages", command: packagesCommand(state.packages) },
    { name: "users", command: usersCommand(state.user ? [state.user] : []) },
    { name: "services", command: servicesCommand(["cron"]) },
    { name: "files", command: filesCommand(paths, { wantSha: want, withContent: opts.diff }) },
  ]);
}

export function planHost(
  state: DesiredState,
  factsOutput: string,
  opts: { diff?: Differ; secrets?: string[]; backupDir: string; prefix?: string },
): Planned[] {
  const sections = splitSections(factsOutput);
  const pkgs = parsePackages(sections.get("packages") ?? "");
  const users = parseUsers(sections.get("users") ?? "");
  const paths = managedPaths(state);
  const files = parseFiles(sections.get("files") ?? "", paths);
  const plan: Planned[] = [
    planPackages(state.packages, pkgs),
    planUser(state.user, state.user ? users.get(state.user) : undefined, opts.backupDir),
    ...state.dirs.map((d) => planDirectory(d, files.get(d.path) ?? { exists: false })),
    ...state.files.map((f) => planFile(f, files.get(f.path) ?? { exists: false }, opts)),
    // After the packages (cron may just have been installed).
    planCronService(parseServices(sections.get("services") ?? "").get("cron"), { prefix: opts.prefix ?? "" }),
  ];
  return plan;
}
