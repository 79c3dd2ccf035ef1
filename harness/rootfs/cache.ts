// The extracted-image cache: <cacheDir>/rootfs/<sha256>/{rootfs/,image.json}. An entry is
// built in a temp dir beside it and renamed into place, so readers only ever see complete
// entries. Within a process concurrent requests share one promise; across processes the
// first rename wins and the loser removes its copy.
import { chmod, lstat, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cacheWriteError, makeCacheTempDir, renameIntoPlace } from '../cache-temp.ts';
import { dirname, join } from 'node:path';
import { HarnessError } from '../errors.ts';
import { writeFileAtomic } from '../report/atomic.ts';
import type { ArchiveFindings, SkippedMember } from './extract.ts';

/** What image.json keeps: everything a cache hit must answer without the source. */
export interface ImageRecord {
  /** sha256:<hex> */
  digest: string;
  defaultCmd: string[];
  compressedBytes?: number;
  /** Members not created (device nodes, FIFOs, unknown types). */
  skipped: SkippedMember[];
  /** What the archive's headers ship (absent in entries made before this was recorded). */
  archive?: ArchiveFindings;
  /** Members of each archive (layer) extracted, in order, for limits.archive_members on reuse (absent in older entries). */
  memberCounts?: number[];
}

export interface CachedImage extends ImageRecord {
  rootfs: string;
  origin: 'extracted' | 'cache';
}

const RECORD = 'image.json';
const inflight = new Map<string, Promise<CachedImage>>();

export function imagesDir(cacheDir: string): string {
  return join(cacheDir, 'rootfs');
}

/** A private scratch dir inside the cache (same filesystem, so renames are atomic); swept if its process dies. */
export async function makeTempDir(cacheDir: string, purpose: string): Promise<string> {
  return makeCacheTempDir(imagesDir(cacheDir), purpose);
}

/**
 * The cached image for `sha256hex`, building it with `build(rootfs)` when absent.
 * `build` fills the empty rootfs dir it is given and returns the record to keep.
 */
export function cachedImage(cacheDir: string, sha256hex: string, build: (rootfs: string) => Promise<Omit<ImageRecord, 'digest'>>): Promise<CachedImage> {
  const dir = join(imagesDir(cacheDir), sha256hex);
  const running = inflight.get(dir);
  if (running) return running;
  const work = (async (): Promise<CachedImage> => {
    const hit = await readRecord(dir);
    if (hit) return hit;
    const temp = await makeTempDir(cacheDir, sha256hex);
    try {
      await chmod(temp, 0o755); // mkdtemp's 0700 would hide the rootfs from unprivileged readers
      await mkdir(join(temp, 'rootfs'));
      const record: ImageRecord = { digest: `sha256:${sha256hex}`, ...(await build(join(temp, 'rootfs'))) };
      await writeFile(join(temp, RECORD), `${JSON.stringify(record, null, 2)}\n`).catch((error: unknown) => {
        throw cacheWriteError('image cache', join(temp, RECORD), error) ?? error;
      });
      if (!(await renameIntoPlace(temp, dir))) {
        const winner = await readRecord(dir);
        if (!winner) throw new HarnessError(`cache entry ${dir} is incomplete (no ${RECORD}); delete it and run again`);
        return winner;
      }
      return { ...record, rootfs: join(dir, 'rootfs'), origin: 'extracted' };
    } finally {
      await removeTree(temp);
    }
  })().finally(() => inflight.delete(dir));
  inflight.set(dir, work);
  return work;
}

/** Adds what an entry made by an older harness lacks to its image.json, so the next hit need not
 * compute it again (best effort; the rootfs itself is never touched). */
export async function amendRecord(image: CachedImage, extra: Partial<Omit<ImageRecord, 'digest'>>): Promise<void> {
  const { rootfs, origin: _origin, ...record } = image;
  await writeFileAtomic(join(dirname(rootfs), RECORD), `${JSON.stringify({ ...record, ...extra }, null, 2)}\n`).catch(() => undefined);
}

async function readRecord(dir: string): Promise<CachedImage | undefined> {
  const text = await readFile(join(dir, RECORD), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  return { ...(JSON.parse(text) as ImageRecord), rootfs: join(dir, 'rootfs'), origin: 'cache' };
}

/** rm -rf that also works without root on trees holding read-only directories (rootfs modes are kept). */
export async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EACCES') throw error;
    await makeDirectoriesWritable(path);
    await rm(path, { recursive: true, force: true });
  }
}

async function makeDirectoriesWritable(path: string): Promise<void> {
  const stats = await lstat(path).catch(() => undefined);
  if (!stats?.isDirectory()) return;
  await chmod(path, 0o700);
  for (const name of await readdir(path)) await makeDirectoriesWritable(join(path, name));
}
