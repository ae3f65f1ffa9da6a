// Handlebars templates compiled ahead of time. As a source file this is empty: the renderer then
// compiles each template at its first use (tsx, vitest). The CLI bundle's build (bin/build.mjs)
// replaces this module with every templates/*.hbs precompiled, keyed by the SHA-256 of its text and
// with the options it was compiled with: the renderer uses a spec only for exactly that text and
// those options, so an edited template is compiled afresh, never rendered from an old spec.
// (Compiling the four templates is ~70 ms of CPU at every start; a precompiled one, ~1 ms.)

export interface Precompiled {
  /** The compile options the specs were made with. */
  options: Record<string, unknown>;
  /** By the SHA-256 (hex) of the template's text: Handlebars' template spec for Handlebars.template(). */
  templates: Record<string, unknown>;
}

export const PRECOMPILED: Precompiled = { options: {}, templates: {} };
