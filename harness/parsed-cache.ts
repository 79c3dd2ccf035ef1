// Parsed data files kept as JSON in the cache, keyed by the file's text and the parser's own
// source: the yaml package takes 0.1-0.5 s over the busybox suite's 36 KB of rows, which every
// `list` and run would pay; JSON.parse of the result takes a millisecond. Only a successful
// parse is kept, so a bad file still fails with its own error every time.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot } from './paths.ts';

/** parse()'s result for `text`, from the cache when `parserKey` (the parser's identity) and text match. */
export function cachedParse<T>(text: string, parserKey: string, parse: () => T): T {
  const key = createHash('sha256').update(parserKey).update('\0').update(text).digest('hex').slice(0, 32);
  const dir = join(cacheRoot(), 'parsed');
  const file = join(dir, `${key}.json`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    // Absent or unreadable: parse it.
  }
  const value = parse();
  // Best effort, whole or not at all: a cache that cannot keep it only means parsing again.
  const partial = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(partial, JSON.stringify(value));
    renameSync(partial, file);
  } catch {
    rmSync(partial, { force: true });
  }
  return value;
}

/** A parser's identity for cachedParse: its module's source (import.meta.url) and its siblings', by basename. */
export function sourceKey(moduleUrl: string, siblings: readonly string[] = []): string {
  const extension = moduleUrl.slice(moduleUrl.lastIndexOf('.')); // .ts from the sources, .js compiled
  const urls = [moduleUrl, ...siblings.map((name) => new URL(`${name}${extension}`, moduleUrl).href)];
  return urls.map((url) => readFileSync(new URL(url), 'utf8')).join('\0');
}
