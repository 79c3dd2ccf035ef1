// Builds sandbox-run.c once per source version into the cache. A C helper instead of a
// shell script of mount/ip/chroot calls: a clone per case (served, server.ts) instead of
// about fifteen execs (numbers in index.ts).
import { createHash } from 'node:crypto';
import { access, constants, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HarnessError } from '../errors.ts';
import { cacheRoot } from '../paths.ts';
import { isAlive } from '../cache-temp.ts';
import { helperProcessesRunning, removeDeadStagingDirs } from './leaks.ts';

export const SANDBOX_HELPER_SOURCE = fileURLToPath(new URL('sandbox-run.c', import.meta.url));

export interface SandboxHost {
  /** The built helper binary. */
  helper: string;
  /** Empty directory each run mounts its private tmpfs on (inside its own mount namespace). */
  mountPoint: string;
}

let built: Promise<SandboxHost> | undefined;

/** The helper and its mount point, built on first use (and after any change of the source). */
export function sandboxHost(): Promise<SandboxHost> {
  built ??= buildHelper();
  // Don't cache a failure: the user may install gcc and retry in the same process.
  built.catch(() => (built = undefined));
  return built;
}

async function buildHelper(): Promise<SandboxHost> {
  // Once per process, before its first case: what a SIGKILLed run could not remove itself.
  await removeDeadStagingDirs();
  const source = await readFile(SANDBOX_HELPER_SOURCE);
  const digest = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const dir = join(cacheRoot(), 'sandbox');
  const helper = join(dir, `sandbox-run-${digest}`);
  const mountPoint = join(dir, 'mnt');
  await mkdir(mountPoint, { recursive: true });
  if (await access(helper, constants.X_OK).then(() => true, () => false)) return { helper, mountPoint };
  // Build beside the target and rename: concurrent harness processes never see half a binary.
  const partial = `${helper}.${process.pid}.tmp`;
  try {
    // Static: no dynamic loader at each of the thousands of starts.
    // Loaded on first use: execa's import costs more than `harness list` may take in all.
    const { execa } = await import('execa');
    await execa('cc', ['-O2', '-static', '-Wall', '-o', partial, SANDBOX_HELPER_SOURCE]);
    await rename(partial, helper);
  } catch (error) {
    await rm(partial, { force: true });
    const reason = (error as { shortMessage?: string }).shortMessage ?? String(error);
    throw new HarnessError(`cannot build the sandbox helper from ${SANDBOX_HELPER_SOURCE} (${reason.split('\n')[0]}): apt-get install gcc libc6-dev`);
  }
  // Housekeeping, best effort: a cache it cannot tidy still runs cases.
  await pruneOtherHelpers(dir, helper).catch(() => undefined);
  return { helper, mountPoint };
}

/** A build of the helper, or one being written by the process whose pid it names. */
const HELPER_BUILD = /^sandbox-run-[0-9a-f]{16}(?:\.([1-9][0-9]*)\.tmp)?$/;
/** Another version's build unused this long goes (its atime moves at most once a day: relatime). */
export const UNUSED_HELPER_MS = 8 * 24 * 3600 * 1000;

/**
 * Once a new version of the helper is built: the builds of other versions that nothing runs
 * and nothing ran for UNUSED_HELPER_MS (another harness version sharing the cache keeps
 * its own), and partial builds whose process is gone. Returns the names removed.
 */
export async function pruneOtherHelpers(dir: string, keep: string, now: number = Date.now()): Promise<string[]> {
  const running = new Set([...(await helperProcessesRunning()).values()].map((exe) => exe.replace(/ \(deleted\)$/, '')));
  const removed: string[] = [];
  for (const name of await readdir(dir)) {
    const build = HELPER_BUILD.exec(name);
    const path = join(dir, name);
    if (!build || path === keep || running.has(path)) continue;
    if (build[1] !== undefined ? isAlive(Number(build[1])) : await recentlyUsed(path, now)) continue;
    await rm(path, { force: true });
    removed.push(name);
  }
  return removed;
}

async function recentlyUsed(path: string, now: number): Promise<boolean> {
  const facts = await stat(path).catch(() => undefined);
  return facts === undefined || now - Math.max(facts.atimeMs, facts.mtimeMs) < UNUSED_HELPER_MS;
}
