// The ordered series of images a bisect searches: a file of references (one a line, `#`
// comments, relative to the file), or a glob whose matches are sorted by version (natural
// order: img-9 before img-10, 1.2.9 before 1.2.10).
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { HarnessError } from '../errors.ts';
import type { ImageSource } from '../rootfs/index.ts';
import { describeImageSource, resolveImageReference } from '../rootfs/reference.ts';

export interface SeriesEntry {
  /** How the reference reads back (transport and absolute path). */
  ref: string;
  source: ImageSource;
}

const GLOB_MAGIC = /[*?[\]{}]/;

/** A tail such as `-rc1` or `-beta`: a pre-release, which comes before the release (semver). */
const isPrerelease = (tail: string | undefined) => tail !== undefined && /^-[A-Za-z]/.test(tail);

/** Natural order: runs of digits compare as numbers, the rest by code unit; 1.2.9-rc1 before 1.2.9. */
export function compareVersions(a: string, b: string): number {
  const split = (s: string) => s.match(/\d+|\D+/g) ?? [];
  const left = split(a);
  const right = split(b);
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const x = left[i]!;
    const y = right[i]!;
    if (x === y) continue;
    const numeric = /^\d/.test(x) && /^\d/.test(y);
    if (numeric && BigInt(x) !== BigInt(y)) return BigInt(x) < BigInt(y) ? -1 : 1;
    return x < y ? -1 : 1;
  }
  const shorter = Math.min(left.length, right.length);
  if (isPrerelease(left[shorter])) return -1;
  if (isPrerelease(right[shorter])) return 1;
  return left.length - right.length;
}

async function fromGlob(pattern: string, cwd: string): Promise<string[]> {
  const { glob } = await import('zx');
  const matches = await glob(pattern, { cwd, absolute: true, onlyFiles: false, dot: false });
  if (!matches.length) throw new HarnessError(`--images '${pattern}': the glob matches nothing`);
  return matches.sort(compareVersions);
}

/** Lines of a series file: [line number, reference]. */
async function fromFile(path: string): Promise<Array<[number, string]>> {
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new HarnessError(`--images ${path}: cannot read the series file (${error.code}); give a file of image references or a quoted glob`);
  });
  return text.split('\n').map((line, i): [number, string] => [i + 1, line.replace(/(^|\s)#.*$/, '').trim()]).filter(([, line]) => line);
}

export async function readSeries(list: string, cwd: string = process.cwd()): Promise<SeriesEntry[]> {
  const path = resolve(cwd, list);
  const isFile = await stat(path).then((s) => s.isFile(), () => false);
  let refs: Array<{ text: string; baseDir: string; label: string }>;
  if (!isFile && GLOB_MAGIC.test(list)) {
    refs = (await fromGlob(list, cwd)).map((match) => ({ text: match, baseDir: cwd, label: `--images '${list}'` }));
  } else {
    if (!isFile) throw new HarnessError(`--images ${path}: no such file; give a file of image references (one a line) or a quoted glob`);
    refs = (await fromFile(path)).map(([line, text]) => ({ text, baseDir: dirname(path), label: `${path}:${line}` }));
  }
  if (refs.length < 2) throw new HarnessError(`--images ${list}: a series needs at least two images, got ${refs.length}`);
  const entries = await Promise.all(refs.map(async ({ text, baseDir, label }) => {
    const source = await resolveImageReference(text, baseDir, label);
    return { ref: describeImageSource(source), source };
  }));
  const seen = new Set<string>();
  for (const entry of entries) {
    if (seen.has(entry.ref)) throw new HarnessError(`--images ${list}: ${entry.ref} is listed twice; each image once, in order`);
    seen.add(entry.ref);
  }
  return entries;
}
