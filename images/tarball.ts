// Writes a rootfs entry list as a byte-reproducible tar.gz: sorted entries, one fixed mtime,
// numeric owners only, gzip -9 with no name and no time in its header.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import type { RootfsEntry } from './layout.ts';

export interface Tarball {
  tar: Buffer;
  gz: Buffer;
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha512Hex(data: Buffer | string): string {
  return createHash('sha512').update(data).digest('hex');
}

export async function writeTarball(entries: RootfsEntry[], mtimeSeconds: number): Promise<Tarball> {
  const mtime = new Date(mtimeSeconds * 1000);
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    tar.on('end', resolve);
    tar.on('error', reject);
  });
  const owner = { uid: 0, gid: 0, uname: '', gname: '', mtime };
  tar.entry({ ...owner, name: './', type: 'directory', mode: 0o755 });
  for (const entry of entries) {
    const header = { ...owner, uid: entry.uid, gid: entry.gid, mode: entry.mode };
    if (entry.type === 'directory') tar.entry({ ...header, name: `./${entry.path}/`, type: 'directory' });
    else if (entry.type === 'symlink') tar.entry({ ...header, name: `./${entry.path}`, type: 'symlink', linkname: entry.linkname });
    else tar.entry({ ...header, name: `./${entry.path}`, type: 'file' }, entry.content ?? Buffer.alloc(0));
  }
  tar.finalize();
  await done;
  const tarBytes = Buffer.concat(chunks);
  return { tar: tarBytes, gz: gzipSync(tarBytes, { level: 9 }) };
}
