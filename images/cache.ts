// Cache entries that appear whole or not at all: built in a temp dir beside their final
// place and renamed into it; the temp dir is removed on any error or abort.
import { createHash } from 'node:crypto';
import { access, chmod, readdir, readFile, rename, rm } from 'node:fs/promises';
import { makeCacheTempDir } from '../harness/cache-temp.ts';
import { dirname, join, relative } from 'node:path';

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

/**
 * Runs fill(tempDir, finalDir) and renames the temp dir to finalDir. If another process
 * published finalDir first, its entry wins and ours is dropped.
 */
export async function publishAtomically(finalDir: string, fill: (tempDir: string) => Promise<void>): Promise<void> {
  const tempDir = await makeCacheTempDir(dirname(finalDir), 'build');
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
