// The pinned upstream sources of every image, found in a sources dir or fetched there with
// `apt-get source --download-only`, and always checked against their sha256 before use.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { $ } from 'zx';
import { HarnessError } from '../harness/errors.ts';
import { cacheRoot } from '../harness/paths.ts';
import { makeCacheTempDir } from '../harness/cache-temp.ts';
import { aptDebSrcEntries } from '../harness/host/probe.ts';
import { exists } from './cache.ts';

export interface PinnedSource {
  name: 'busybox' | 'musl';
  version: string;
  /** The Debian source package that ships it as its .orig tarball. */
  debianPackage: string;
  file: string;
  sha256: string;
}

export const SOURCES: readonly PinnedSource[] = [
  {
    name: 'busybox',
    version: '1.35.0',
    debianPackage: 'busybox',
    file: 'busybox_1.35.0.orig.tar.bz2',
    sha256: 'faeeb244c35a348a334f4a59e44626ee870fb07b6884d68c10ae8bc19f83a694',
  },
  {
    name: 'musl',
    version: '1.2.3',
    debianPackage: 'musl',
    file: 'musl_1.2.3.orig.tar.gz',
    sha256: '7d5b0b6062521e4627e099e4c9dc8248d32a30285e959b7eecaa780cf8cfd4a4',
  },
];

export const DEB_SRC_LINE =
  'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main';

export function defaultSourcesDir(): string {
  return join(cacheRoot(), 'sources');
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function verify(source: PinnedSource, path: string): Promise<void> {
  const got = await sha256File(path);
  if (got !== source.sha256) {
    throw new HarnessError(`${path}: sha256 mismatch, expected ${source.sha256}, got ${got}; delete it and run \`harness build-images\` again to refetch`);
  }
}

/** Downloads the missing sources into a temp dir beside them; only verified files are moved in. */
async function fetchSources(missing: PinnedSource[], sourcesDir: string): Promise<void> {
  if ((await aptDebSrcEntries()).length === 0) {
    throw new HarnessError(`apt has no deb-src line to fetch ${missing.map((s) => s.file).join(', ')}; run \`harness setup\` or add \`${DEB_SRC_LINE}\` to /etc/apt/sources.list.d/ and run apt-get update`);
  }
  const fetchDir = await makeCacheTempDir(sourcesDir, 'fetch');
  try {
    const packages = missing.map((s) => s.debianPackage);
    const result = await $({ cwd: fetchDir, quiet: true, nothrow: true })`apt-get source --download-only ${packages}`;
    if (result.exitCode !== 0) {
      const why = result.stderr.trim().split('\n').pop();
      throw new HarnessError(`apt-get source --download-only ${packages.join(' ')} failed (${why}); run \`harness setup\` or apt-get update`);
    }
    for (const source of missing) {
      const fetched = join(fetchDir, source.file);
      if (!(await exists(fetched))) throw new HarnessError(`apt-get source ${source.debianPackage} did not give ${source.file}; is apt pointed at Debian bookworm?`);
      await verify(source, fetched);
      await rename(fetched, join(sourcesDir, source.file));
    }
  } finally {
    await rm(fetchDir, { recursive: true, force: true });
  }
}

export interface VerifiedSource extends PinnedSource {
  path: string;
}

/** Returns every pinned source as a verified file in sourcesDir, fetching the missing ones. */
export async function ensureSources(sourcesDir: string = defaultSourcesDir()): Promise<VerifiedSource[]> {
  await mkdir(sourcesDir, { recursive: true });
  const located = SOURCES.map((source) => ({ ...source, path: join(sourcesDir, source.file) }));
  const missing: PinnedSource[] = [];
  for (const source of located) if (!(await exists(source.path))) missing.push(source);
  if (missing.length) await fetchSources(missing, sourcesDir);
  for (const source of located) await verify(source, source.path);
  return located;
}
