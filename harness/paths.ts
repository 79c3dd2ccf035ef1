// Where the harness keeps what outlives a run: outside the repo, so a clean clone reuses it.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (harness/ sits directly below it). */
export const REPO_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** HARNESS_CACHE, else $XDG_CACHE_HOME/alpine-qemu-harness, else ~/.cache/alpine-qemu-harness. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HARNESS_CACHE) return resolve(env.HARNESS_CACHE);
  return join(env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache'), 'alpine-qemu-harness');
}

let version: string | undefined;
/** The harness's version, from package.json. */
export function harnessVersion(): string {
  version ??= (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  return version;
}
