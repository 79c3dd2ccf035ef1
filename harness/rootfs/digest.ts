// Content digests that name an image in the cache and in results.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { memoByFile } from '../file-memo.ts';

export interface FileHashes {
  sha256: string;
  sha512: string;
  bytes: number;
}

/** sha256 and sha512 (hex) of a file in one read, or kept from an earlier read of the same file. */
export async function hashFile(path: string): Promise<FileHashes> {
  const read = async () => {
    const { hex: [sha256, sha512], bytes } = await readDigests(path, ['sha256', 'sha512']);
    return { sha256: sha256!, sha512: sha512!, bytes };
  };
  return (await memoByFile('file-hashes', path, read))!;
}

export async function sha256OfFile(path: string): Promise<string> {
  return (await hashFile(path)).sha256;
}

/** Hex digests of a file's bytes, one per algorithm, in one read. */
async function readDigests(path: string, algorithms: readonly string[]): Promise<{ hex: string[]; bytes: number }> {
  const hashes = algorithms.map((algorithm) => createHash(algorithm));
  let bytes = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    for (const hash of hashes) hash.update(chunk);
    bytes += chunk.length;
  }
  return { hex: hashes.map((hash) => hash.digest('hex')), bytes };
}

export function sha256OfBytes(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * sha256 (hex) of a directory tree's content: one line per entry, in sorted order, with its
 * path, type, mode, owner and its bytes' sha256, symlink target or device number. Times are
 * left out, so the same tree built twice has the same digest. Symlinks are never followed.
 */
export async function sha256OfTree(root: string): Promise<string> {
  const listing = createHash('sha256');
  const walk = async (relative: string): Promise<void> => {
    const names = (await readdir(join(root, relative))).sort();
    for (const name of names) {
      const path = relative ? `${relative}/${name}` : name;
      const host = join(root, path);
      const stats = await lstat(host);
      const type = stats.isFile() ? 'file' : stats.isDirectory() ? 'dir' : stats.isSymbolicLink() ? 'link' : 'special';
      // Read, not kept: a tree's thousands of files would crowd the kept digests' store.
      const content = type === 'file' ? (await readDigests(host, ['sha256'])).hex[0] : type === 'link' ? await readlink(host) : type === 'special' ? `rdev ${stats.rdev}` : '';
      listing.update(`${path}\0${type}\0${(stats.mode & 0o177777).toString(8)}\0${stats.uid}:${stats.gid}\0${content}\n`);
      if (type === 'dir') await walk(path);
    }
  };
  await walk('');
  return listing.digest('hex');
}
