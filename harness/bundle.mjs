// Bundles the CLI for `npm run build`: harness/bundle/cli.cjs, one CommonJS file with every
// package it imports (the CLI's lazy imports stay lazy: esbuild defers each module's body to
// its first import). bin.mjs compiles it as one script with V8's code cache (Node 20 has no
// module compile cache), so a start neither resolves some 150 modules nor compiles code it
// compiled before: that was most of the start-up of `harness list` and `harness run`.
// Each module keeps its own import.meta.url: that of its compiled .js beside its source (tsc
// writes those too), found relative to the bundle, so the data files beside a module and the
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
      const url = `new URL(${JSON.stringify(compiled)}, require('node:url').pathToFileURL(__filename)).href`;
      return { contents: text.replaceAll('import.meta.url', url), loader: 'ts' };
    });
  },
};

// A stale file from an earlier build (chunks of the split ESM bundle, code caches) would linger in the package.
await rm(outdir, { recursive: true, force: true });
await build({
  stdin: { contents: "export { main } from './cli.ts';\nexport { exitOnUncaught } from './crash.ts';\n", resolveDir: join(root, 'harness'), sourcefile: 'entry.ts', loader: 'ts' },
  outfile: join(outdir, 'cli.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // A package's ESM build where it has one (junit-report-builder's CommonJS main inlines its
  // dependencies, 790 kB, which the ESM build imports).
  mainFields: ['module', 'main'],
  plugins: [ownImportMetaUrl],
  // Loaded from node_modules, for an HTTPS download with NODE_EXTRA_CA_CERTS only: bundled, its 0.5 MB would be read at every start.
  external: ['undici'],
  logLevel: 'warning',
});
