// Cache entries that appear whole or not at all: built in a temp dir beside their final
// place and renamed into it; the temp dir is removed on any error or abort.
import { createHash } from 'node:crypto';
import { access, chmod, mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';

/** Temp dirs start with this and then the owner's pid, so a listing can tell them from finished entries. */
export const TEMP_PREFIX = '.tmp-';

export function shortHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

export async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

/** sha256 of every file under dir that `include` accepts, by relative path, sorted. */
export async function hashTree(dir: string, include: (relativePath: string) => boolean = () => true): Promise<Record<string, string>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).filter((f) => include(relative(dir, f))).sort();
  const hashes: Record<string, string> = {};
  for (const file of files) hashes[relative(dir, file)] = createHash('sha256').update(await readFile(file)).digest('hex');
  return hashes;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes temp dirs left in parent by processes that died before they could clean up (SIGKILL, crash). */
export async function removeStaleTempDirs(parent: string): Promise<void> {
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    const pid = name.startsWith(TEMP_PREFIX) ? /^(\d+)-/.exec(name.slice(TEMP_PREFIX.length))?.[1] : undefined;
    if (pid && !isAlive(Number(pid))) await rm(join(parent, name), { recursive: true, force: true });
  }
}

/**
 * Runs fill(tempDir, finalDir) and renames the temp dir to finalDir. If another process
 * published finalDir first, its entry wins and ours is dropped.
 */
export async function publishAtomically(finalDir: string, fill: (tempDir: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(finalDir), { recursive: true });
  await removeStaleTempDirs(dirname(finalDir));
  const tempDir = await mkdtemp(join(dirname(finalDir), `${TEMP_PREFIX}${process.pid}-`));
  try {
    await fill(tempDir);
    // mkdtemp's 0700 would hide the entry from unprivileged readers (rootless sandboxes).
    await chmod(tempDir, 0o755);
    await rename(tempDir, finalDir).catch(async (error: NodeJS.ErrnoException) => {
      if (!(await exists(finalDir))) throw error;
    });
  } finally {
    await rm(tempDir, { recursive: true, force: true });
  }
}
