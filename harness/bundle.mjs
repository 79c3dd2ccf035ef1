// Bundles the CLI for `npm run build`: harness/bundle/cli.js (and crash.js) with every package
// it imports, split at the CLI's lazy imports. Node then resolves and compiles one file and a
// few chunks instead of some 150 modules (and parses no CommonJS package for its exports),
// which is most of the start-up of `harness list` and `harness run`.
// Each module keeps its own import.meta.url: that of its compiled .js beside its source (tsc
// writes those too), found relative to the chunk, so the data files beside a module and the
// parsed-rows cache's source key resolve as they do in the per-file build.
import { build } from 'esbuild';
import { readFile, rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const outdir = join(root, 'harness', 'bundle');

const ownImportMetaUrl = {
  name: 'own-import-meta-url',
  setup(bundler) {
    bundler.onLoad({ filter: /\.ts$/ }, async ({ path }) => {
      const text = await readFile(path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      const compiled = relative(outdir, path).replace(/\.ts$/, '.js');
      return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(compiled)}, import.meta.url).href`), loader: 'ts' };
    });
  },
};

// Chunk names carry hashes: a stale chunk from an earlier build would linger in the package.
await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'harness', 'cli.ts'), join(root, 'harness', 'crash.ts')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // A package's ESM build where it has one (junit-report-builder's CommonJS main inlines its
  // dependencies, 790 kB, which the ESM build imports).
  mainFields: ['module', 'main'],
  plugins: [ownImportMetaUrl],
  // The CommonJS packages inside (commander, yaml, semver) call require() for Node's modules.
  banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
  logLevel: 'warning',
});
