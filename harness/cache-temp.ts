// Temp dirs inside the cache, beside the entry they become (same filesystem, so the final
// rename is atomic). Their names carry the owner's pid, so a later run removes the ones
// whose process died before it could clean up (SIGKILL, crash).
import { mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HarnessError } from './errors.ts';

export const TEMP_PREFIX = '.tmp-';

/** True while a process with this pid exists (EPERM: it exists, but is not ours to signal). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the temp dirs in parent whose creating process is gone. */
export async function removeStaleTempDirs(parent: string): Promise<void> {
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    const pid = name.startsWith(TEMP_PREFIX) ? /^(\d+)-/.exec(name.slice(TEMP_PREFIX.length))?.[1] : undefined;
    if (pid && !isAlive(Number(pid))) await rm(join(parent, name), { recursive: true, force: true });
  }
}

/**
 * A write into the cache that failed because of the disk or its permissions, as a one-line
 * error naming the path; undefined for any other failure (that one is not the cache's fault).
 */
export function cacheWriteError(what: string, path: string, error: unknown): CacheWriteError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return new CacheWriteError(`${what}: cannot write ${path}: the disk is full (${code}); free space, or point HARNESS_CACHE at a bigger disk`);
  if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') return new CacheWriteError(`${what}: cannot write ${path}: not writable (${code}); point HARNESS_CACHE at a writable directory`);
  return undefined;
}

/** The cache's disk is full or read-only: nothing more can be written there, a build log included. */
export class CacheWriteError extends HarnessError {}

const STRERROR_CODES: Record<string, string> = { 'No space left on device': 'ENOSPC', 'Disk quota exceeded': 'EDQUOT', 'Read-only file system': 'EROFS' };

/** The errno a failed tool (tar, make, cc) names in its output when a write failed, as its strerror text. */
export function writeErrnoIn(output: string): string | undefined {
  return Object.entries(STRERROR_CODES).find(([text]) => output.includes(text))?.[1];
}

/** A fresh `.tmp-<pid>-<label>-XXXXXX` dir in parent (created if needed), after sweeping dead ones. */
export async function makeCacheTempDir(parent: string, label: string): Promise<string> {
  try {
    await mkdir(parent, { recursive: true });
    await removeStaleTempDirs(parent);
    return await mkdtemp(join(parent, `${TEMP_PREFIX}${process.pid}-${label}-`));
  } catch (error) {
    // A recursive mkdir on a read-only filesystem says ENOENT: one plain mkdir says why.
    const cause = (error as NodeJS.ErrnoException).code === 'ENOENT' ? await mkdir(parent).then(() => error, (plain: unknown) => plain) : error;
    throw cacheWriteError('cache', parent, cause) ?? error;
  }
}

/** Renames a finished temp dir to its entry; false when another process put the entry there first. */
export async function renameIntoPlace(temp: string, entry: string): Promise<boolean> {
  try {
    await rename(temp, entry);
    return true;
  } catch (error) {
    if (['ENOTEMPTY', 'EEXIST'].includes((error as NodeJS.ErrnoException).code ?? '')) return false;
    throw error;
  }
}
