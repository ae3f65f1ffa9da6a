// Types of bin/build.mjs for the tests that import it.
export declare const PRECOMPILE_OPTIONS: Record<string, unknown>;
export declare function precompiledModule(repo: string, signatures?: Map<string, string | null>): string;
export declare function build(repo: string): Promise<string>;
