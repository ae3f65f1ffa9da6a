// Builds the CLI bundle: every playbook (playbooks/*.ts) bundled by esbuild with the code it
// imports, split into shared chunks so that a run loads only what it imports (a dynamic import()
// stays a separate chunk, loaded when it runs). Written to .build/<build>/ with stamp.json (every
// input's signature, see bundle.mjs), then .build/current is switched to it atomically, so runs
// that start meanwhile use either the old build or the new one, whole. Loaded only when a build is
// needed (esbuild itself is not loaded otherwise).
import { createHash, randomBytes } from "node:crypto";
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import * as esbuild from "esbuild";
import Handlebars from "handlebars";
import { buildRoot, signature } from "./bundle.mjs";

/** Builds older than this (other than the current one) are removed; a run lasts far less. */
const KEEP_OLD_BUILDS_MS = 24 * 3600_000;

// ssh2 stays a package of node_modules, loaded by Node as it is: it loads its optional native
// crypto binding (sshcrypto.node) relative to its own files.
const EXTERNAL = ["ssh2"];

// Bundled CommonJS code (node-ssh requiring ssh2, builtins) calls require(): an ES module has none.
const BANNER =
  'import { createRequire as __cepRequire } from "node:module"; const require = __cepRequire(import.meta.url);';

/**
 * Records each file's signature as esbuild loads it, before it is read: a file edited while the
 * build runs then has a newer signature than the one recorded, and the next run builds again.
 * And a bundled file would see the bundle's location: each file's own is put back, so that what it
 * computes from it (our templates/, the lab's seed and the repo root; zx's own package.json) is the
 * same as when the sources run: import.meta.url in an ES module, __filename and __dirname in a
 * CommonJS one (declared at its top, inside esbuild's wrapper of that module).
 */
function inputsPlugin(repo, signatures) {
  const precompiled = join(repo, "src", "render", "precompiled.ts");
  return {
    name: "inputs",
    setup(b) {
      b.onLoad({ filter: /.*/ }, (args) => {
        signatures.set(args.path, signature(args.path));
        if (args.path === precompiled) return { contents: precompiledModule(repo, signatures), loader: "js" };
        const ts = /\.m?ts$/.test(args.path);
        if (!ts && !/\.(c|m)?js$/.test(args.path)) return undefined;
        let text = readFileSync(args.path, "utf8");
        const before = text;
        if (text.includes("import.meta.url"))
          text = text.replace(/\bimport\.meta\.url\b/g, JSON.stringify(pathToFileURL(args.path).href));
        const commonjs =
          args.path.endsWith(".cjs") || (args.path.endsWith(".js") && !/^\s*(import|export)\s/m.test(text));
        if (commonjs && /\b__(file|dir)name\b/.test(text)) {
          if (/\b(const|let|var|function)\s+__(file|dir)name\b/.test(text))
            throw new Error(`${args.path} declares __filename or __dirname itself`);
          text = `var __filename = ${JSON.stringify(args.path)}, __dirname = ${JSON.stringify(dirname(args.path))};\n${text}`;
        }
        return text === before ? undefined : { contents: text, loader: ts ? "ts" : "js" };
      });
    },
  };
}

/** What src/render/precompiled.ts becomes in the bundle (its options must be render.ts's COMPILE_OPTIONS). */
export const PRECOMPILE_OPTIONS = { noEscape: true, strict: true };

/**
 * The source of src/render/precompiled.ts with every templates/*.hbs of `repo` precompiled, keyed
 * by the SHA-256 of its text; `signatures` records each template's signature before it is read.
 */
export function precompiledModule(repo, signatures = new Map()) {
  const dir = join(repo, "templates");
  signatures.set(dir, signature(dir));
  const entries = [];
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith(".hbs"))
    .sort()) {
    const path = join(dir, f);
    signatures.set(path, signature(path));
    const text = readFileSync(path, "utf8");
    const hash = createHash("sha256").update(text).digest("hex");
    entries.push(
      `    // templates/${f}\n    ${JSON.stringify(hash)}: ${Handlebars.precompile(text, { ...PRECOMPILE_OPTIONS })},`,
    );
  }
  return `export const PRECOMPILED = {\n  options: ${JSON.stringify(PRECOMPILE_OPTIONS)},\n  templates: {\n${entries.join("\n")}\n  },\n};\n`;
}

/** Build the bundle of `repo`; returns the new build's directory once `current` points at it. */
export async function build(repo) {
  const root = buildRoot(repo);
  mkdirSync(root, { recursive: true });
  const commands = readdirSync(join(repo, "playbooks"))
    .filter((f) => f.endsWith(".ts"))
    .map((f) => f.slice(0, -3))
    .sort();
  // Signatures are taken before anything is read (see inputsPlugin).
  const fixed = ["playbooks", "bin/build.mjs", "bin/bundle.mjs", "package.json", "tsconfig.json"];
  const before = Object.fromEntries(fixed.map((f) => [f, signature(resolve(repo, f))]));
  const esbuildPkg = relative(repo, resolve(repo, "node_modules/esbuild/package.json"));
  before[esbuildPkg] = signature(resolve(repo, esbuildPkg));
  const loaded = new Map();
  const id = `${Date.now().toString(36)}-${process.pid}-${randomBytes(3).toString("hex")}`;
  const tmp = join(root, `.tmp-${id}`);
  let result;
  try {
    result = await esbuild.build({
      absWorkingDir: repo,
      entryPoints: commands.map((c) => `playbooks/${c}.ts`),
      outdir: tmp,
      outExtension: { ".js": ".mjs" },
      chunkNames: "chunks/[name]-[hash]",
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "node",
      target: "node20",
      external: EXTERNAL,
      banner: { js: BANNER },
      plugins: [inputsPlugin(repo, loaded)],
      metafile: true,
      // Maps for stack traces by the original files: node --enable-source-maps (not read otherwise).
      sourcemap: "linked",
      sourcesContent: false,
      logLevel: "silent",
    });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    const errors = (e.errors ?? []).map(
      (m) => `${m.location ? `${m.location.file}:${m.location.line}: ` : ""}${m.text}`,
    );
    throw new Error(`the CLI bundle did not build:\n${errors.join("\n") || e.message}`);
  }
  const files = { ...before };
  for (const input of Object.keys(result.metafile.inputs)) {
    const abs = resolve(repo, input);
    if (!loaded.has(abs)) throw new Error(`the CLI bundle: ${input} was bundled but not seen loading`);
  }
  for (const [abs, sig] of loaded) files[relative(repo, abs)] = sig;
  writeFileSync(join(tmp, "meta.json"), JSON.stringify(result.metafile));
  writeFileSync(join(tmp, "stamp.json"), `${JSON.stringify({ format: 1, repo, commands, files }, null, 1)}\n`);
  const dir = join(root, id);
  renameSync(tmp, dir);
  const link = join(root, `.current-${id}`);
  symlinkSync(id, link);
  renameSync(link, join(root, "current"));
  removeOldBuilds(root, id);
  return dir;
}

/** Remove builds (and leftovers of interrupted ones) older than a day, never the current one. */
function removeOldBuilds(root, current) {
  const now = Date.now();
  for (const e of readdirSync(root)) {
    if (e === current || e === "current") continue;
    const p = join(root, e);
    try {
      if (now - statSync(p).mtimeMs > KEEP_OLD_BUILDS_MS) rmSync(p, { recursive: true, force: true });
    } catch {
      // Another build removed it first.
    }
  }
}
