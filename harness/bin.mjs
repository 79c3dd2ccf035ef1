#!/usr/bin/env node
// The `harness` command (through launcher.sh). It runs the bundle that `npm run build` writes (harness/bundle.mjs;
// run by `prepare`, so at `npm ci` and `npm pack`) when that output is current, and the
// TypeScript sources through tsx otherwise: a checkout being edited never runs stale code,
// and an installed package (which ships no .ts) starts without compiling anything.
import { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

// launcher.sh kept NODE_EXTRA_CA_CERTS from Node's start (why: there); what the harness
// starts gets the environment it was given.
if (process.env.HARNESS_EXTRA_CA_CERTS !== undefined) {
  process.env.NODE_EXTRA_CA_CERTS = process.env.HARNESS_EXTRA_CA_CERTS;
  delete process.env.HARNESS_EXTRA_CA_CERTS;
}

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

/**
 * The bundle's exports, compiled with the V8 code cache that an earlier run of the same
 * command left beside it (V8 rejects one of another Node), and `keep`, which leaves
 * one after this run if there was none. One cache per command: V8 keeps the functions a run
 * compiled, and `list` compiles other ones than `run` or `--version`.
 */
function loadBundle() {
  const file = join(root, 'harness', 'bundle', 'cli.cjs');
  const word = process.argv.slice(2).find((arg) => !arg.startsWith('-')) ?? 'options';
  const cacheFile = join(dirname(file), `${/^[a-z][a-z-]*$/.test(word) ? word : 'other'}.v8-cache`);
  let cachedData;
  try {
    // V8 checks a cache against the source's length only: one older than the bundle is not taken.
    if (statSync(cacheFile).mtimeMs >= statSync(file).mtimeMs) cachedData = readFileSync(cacheFile);
  } catch {
    // None yet: this run leaves one.
  }
  const script = new Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));
  const keep = () => {
    if (cachedData && !script.cachedDataRejected) return;
    // Best effort, whole or not at all: an installed package may not be writable.
    const partial = `${cacheFile}.${process.pid}.tmp`;
    try {
      writeFileSync(partial, script.createCachedData());
      renameSync(partial, cacheFile);
    } catch {
      rmSync(partial, { force: true });
    }
  };
  return { ...module.exports, keep };
}

if (compiledIsCurrent()) {
  const { exitOnUncaught, main, keep } = loadBundle();
  exitOnUncaught();
  process.exitCode = await main(process.argv);
  keep();
} else {
  if (process.env.HARNESS_REQUIRE_COMPILED) {
    process.stderr.write(`harness: the compiled JavaScript is missing or older than the sources: run npm run build in ${root}\n`);
    process.exit(2);
  }
  const { register } = await import('tsx/esm/api');
  register();
  (await import('./crash.ts')).exitOnUncaught();
  const { main } = await import('./cli.ts');
  process.exitCode = await main(process.argv);
}
