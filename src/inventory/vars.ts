// A host's vars, as the rest of the tree asks for them: `-e` parsing (extra-vars.ts) and the
// precedence merge with its validation (merge.ts, rules.ts, problems.ts). Kept as one import for
// the playbooks' job code.
export { parseExtraVars, type VarsLayerLike } from "./extra-vars.ts";
export { mergeHostVars, mergeMaps, type MergedVars, type VarsSource } from "./merge.ts";
