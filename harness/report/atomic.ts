// Reports are written whole or not at all: a reader (CI, a later merge) never sees half a file.
// Targets that are not regular files (/dev/null, /dev/stdout, a FIFO, '-' for stdout) are
// written in place: renaming over them would replace the device node or pipe with a file.
import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { HarnessError } from '../errors.ts';

/** The name that means standard output wherever a report path is asked for. */
export const STDOUT_PATH = '-';

/** Writes `content` to `path`: atomically (temp file + rename) for regular files, in place for anything else. */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  if (path === STDOUT_PATH) return writeStdout(content);
  const existing = await stat(path).catch(() => undefined);
  if (existing && !existing.isFile()) {
    if (existing.isDirectory()) throw new HarnessError(`cannot write report ${path}: it is a directory; give a file path`);
    return writeFile(path, content, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new HarnessError(`cannot write report ${path} (${error.code ?? error.message}); choose a writable output`);
    });
  }
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

function writeStdout(content: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(content, (error) => (error ? reject(error) : resolve())));
}
