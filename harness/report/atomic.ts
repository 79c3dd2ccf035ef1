// Reports are written whole or not at all: a reader (CI, a later merge) never sees half a file.
import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { HarnessError } from '../errors.ts';

/** Writes `content` to a temp file beside `path` and renames it over `path`; creates the directory. */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomUUID()}.tmp`);
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(temp, content, 'utf8');
    await rename(temp, path);
  } catch (error) {
    // The temp file may not exist, nor its directory (ENOTDIR): the cause to report is `error`.
    await rm(temp, { force: true }).catch(() => undefined);
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new HarnessError(`cannot write report ${path} (${code}); choose a writable output directory`);
  }
}
