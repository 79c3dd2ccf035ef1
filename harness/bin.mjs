#!/usr/bin/env node
// The `harness` command. It runs the bundle that `npm run build` writes (harness/bundle.mjs;
// run by `prepare`, so at `npm ci` and `npm pack`) when that output is current, and the
// TypeScript sources through tsx otherwise: a checkout being edited never runs stale code,
// and an installed package (which ships no .ts) starts without compiling anything.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const STAMP = join(root, 'harness', '.build-stamp');

/** True when the build stamp is newer than every TypeScript source it was built from. */
function compiledIsCurrent() {
  let built;
  try {
    built = statSync(STAMP).mtimeMs;
  } catch {
    return false;
  }
  for (const dir of ['harness', 'images']) {
    for (const entry of readdirSync(join(root, dir), { recursive: true, withFileTypes: true })) {
      if (entry.isFile() && entry.name.endsWith('.ts') && statSync(join(entry.parentPath ?? entry.path, entry.name)).mtimeMs > built) return false;
    }
  }
  return true;
}

let modules = './bundle/';
let ext = 'js';
if (!compiledIsCurrent()) {
  if (process.env.HARNESS_REQUIRE_COMPILED) {
    process.stderr.write(`harness: the compiled JavaScript is missing or older than the sources: run npm run build in ${root}\n`);
    process.exit(2);
  }
  const { register } = await import('tsx/esm/api');
  register();
  modules = './';
  ext = 'ts';
}
(await import(`${modules}crash.${ext}`)).exitOnUncaught();
const { main } = await import(`${modules}cli.${ext}`);
process.exitCode = await main(process.argv);
