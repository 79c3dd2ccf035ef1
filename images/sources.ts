// The pinned upstream sources of every image, found in a sources dir or fetched there with
// `apt-get source --download-only` (or `apt-get download` for the few binary packages whose
// files an image needs), and always checked against their sha256 before use.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { $ } from 'zx';
import { HarnessError } from '../harness/errors.ts';
import type { Isa } from '../harness/isa.ts';
import { cacheRoot } from '../harness/paths.ts';
import { makeCacheTempDir } from '../harness/cache-temp.ts';
import { aptDebSrcEntries } from '../harness/host/probe.ts';
import { exists } from './cache.ts';

export interface PinnedSource {
  name: 'busybox' | 'musl' | 'libgcc' | 'linux-headers';
  version: string;
  /** A source package's .orig tarball (`apt-get source`) or a binary package, arch all (`apt-get download`). */
  kind: 'source' | 'deb';
  debianPackage: string;
  /** bookworm is the machine's own suite; another is read through private apt lists, never added to the machine's. */
  suite: 'bookworm' | 'trixie';
  file: string;
  sha256: string;
  /** The ISAs whose images use it (musl and BusyBox: picked by sourcesFor). */
  isas?: readonly string[];
}

export const SOURCES: readonly PinnedSource[] = [
  {
    name: 'busybox',
    version: '1.35.0',
    kind: 'source',
    debianPackage: 'busybox',
    suite: 'bookworm',
    file: 'busybox_1.35.0.orig.tar.bz2',
    sha256: 'faeeb244c35a348a334f4a59e44626ee870fb07b6884d68c10ae8bc19f83a694',
  },
  {
    name: 'musl',
    version: '1.2.3',
    kind: 'source',
    debianPackage: 'musl',
    suite: 'bookworm',
    file: 'musl_1.2.3.orig.tar.gz',
    sha256: '7d5b0b6062521e4627e099e4c9dc8248d32a30285e959b7eecaa780cf8cfd4a4',
  },
  {
    // musl's first loongarch64 release.
    name: 'musl',
    version: '1.2.5',
    kind: 'source',
    debianPackage: 'musl=1.2.5-3.1~deb13u1',
    suite: 'trixie',
    file: 'musl_1.2.5.orig.tar.gz',
    sha256: 'a9a118bbe84d8764da0ea0d28b3ab3fae8477fc7e4085d90102b8596fc7c75e4',
  },
  {
    // ARMv5TE ARM-mode libgcc: runs on ARMv6, unlike the ARMv7/Thumb-2 one of Debian's armhf.
    name: 'libgcc',
    version: '12.2.0',
    kind: 'deb',
    debianPackage: 'libgcc-12-dev-armel-cross=12.2.0-14cross1',
    suite: 'bookworm',
    file: 'libgcc-12-dev-armel-cross_12.2.0-14cross1_all.deb',
    sha256: '47c4ee472e3a25ca43e2a7d66deac974dc68ebc88719eeaed78c374218ab3af2',
    isas: ['armhf'],
  },
  {
    name: 'libgcc',
    version: '13.3.0',
    kind: 'deb',
    debianPackage: 'libgcc-13-dev-loong64-cross=13.3.0-16cross1',
    suite: 'trixie',
    file: 'libgcc-13-dev-loong64-cross_13.3.0-16cross1_all.deb',
    sha256: 'e07d94a645e85192e6b7b5563422570ec23c2bea3efc690ee59e8e389afa368f',
    isas: ['loongarch64'],
  },
  {
    name: 'linux-headers',
    version: '6.12.38',
    kind: 'deb',
    debianPackage: 'linux-libc-dev-loong64-cross=6.12.38-1cross1',
    suite: 'trixie',
    file: 'linux-libc-dev-loong64-cross_6.12.38-1cross1_all.deb',
    sha256: 'b30c0c8a0d1a8480695b498c1791c930df489b94b26d15ccafa37bfc2e37f3ed',
    isas: ['loongarch64'],
  },
];

/** Compares dotted version numbers: negative when a is older than b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

/** The pinned sources one ISA's image is built from: BusyBox, the oldest musl that supports the ISA, its own extras. */
export function sourcesFor(isa: Isa): PinnedSource[] {
  const musl = SOURCES.filter((s) => s.name === 'musl' && compareVersions(s.version, isa.minimumMusl ?? '0') >= 0)
    .sort((a, b) => compareVersions(a.version, b.version))[0];
  if (!musl) throw new HarnessError(`${isa.name}: no pinned musl is ${isa.minimumMusl} or later; add one to images/sources.ts`);
  return SOURCES.filter((s) => s.name === 'busybox' || s === musl || s.isas?.includes(isa.name));
}

const DEBIAN_MIRROR = 'http://deb.debian.org/debian';
const SIGNED_BY = '[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]';
export const DEB_SRC_LINE = `deb-src ${SIGNED_BY} ${DEBIAN_MIRROR} bookworm main`;

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

/** apt options that read `suite` through lists of its own under the sources dir, leaving the machine's apt alone. */
async function privateApt(sourcesDir: string, suite: PinnedSource['suite']): Promise<string[]> {
  const dir = join(sourcesDir, `apt-${suite}`);
  const list = join(dir, 'sources.list');
  const options = [
    `-oDir::Etc::sourcelist=${list}`, '-oDir::Etc::sourceparts=-', `-oDir::State::Lists=${join(dir, 'lists')}`,
    `-oDir::Cache=${join(dir, 'cache')}`, '-oAPT::Sandbox::User=root',
  ];
  for (const sub of ['lists/partial', 'cache/archives/partial']) await mkdir(join(dir, sub), { recursive: true });
  await writeFile(list, [`deb ${SIGNED_BY} ${DEBIAN_MIRROR} ${suite} main`, `deb-src ${SIGNED_BY} ${DEBIAN_MIRROR} ${suite} main`, ''].join('\n'));
  const result = await $({ quiet: true, nothrow: true })`apt-get update ${options}`;
  if (result.exitCode !== 0) throw new HarnessError(`apt-get update of Debian ${suite} (private lists in ${dir}) failed: ${lastLine(result.stderr)}`);
  return options;
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

/** Downloads the missing sources into a temp dir beside them; only verified files are moved in. */
async function fetchSources(missing: PinnedSource[], sourcesDir: string): Promise<void> {
  const fromBookworm = missing.filter((s) => s.suite === 'bookworm' && s.kind === 'source');
  if (fromBookworm.length && (await aptDebSrcEntries()).length === 0) {
    throw new HarnessError(`apt has no deb-src line to fetch ${fromBookworm.map((s) => s.file).join(', ')}; run \`harness setup\` or add \`${DEB_SRC_LINE}\` to /etc/apt/sources.list.d/ and run apt-get update`);
  }
  const fetchDir = await makeCacheTempDir(sourcesDir, 'fetch');
  try {
    for (const suite of [...new Set(missing.map((s) => s.suite))]) {
      const aptOptions = suite === 'bookworm' ? [] : await privateApt(sourcesDir, suite);
      for (const kind of ['source', 'deb'] as const) {
        const packages = missing.filter((s) => s.suite === suite && s.kind === kind).map((s) => s.debianPackage);
        if (!packages.length) continue;
        const verb = kind === 'source' ? ['source', '--download-only'] : ['download'];
        const result = await $({ cwd: fetchDir, quiet: true, nothrow: true })`apt-get ${aptOptions} ${verb} ${packages}`;
        if (result.exitCode !== 0) {
          throw new HarnessError(`apt-get ${verb.join(' ')} ${packages.join(' ')} (Debian ${suite}) failed (${lastLine(result.stderr)}); run \`harness setup\` or apt-get update`);
        }
      }
    }
    for (const source of missing) {
      const fetched = join(fetchDir, source.file);
      if (!(await exists(fetched))) throw new HarnessError(`apt-get did not give ${source.file} for ${source.debianPackage} (Debian ${source.suite}); has the archive dropped that version?`);
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

/** Returns these pinned sources (default: all) as verified files in sourcesDir, fetching the missing ones. */
export async function ensureSources(sourcesDir: string = defaultSourcesDir(), wanted: readonly PinnedSource[] = SOURCES): Promise<VerifiedSource[]> {
  await mkdir(sourcesDir, { recursive: true });
  const located = wanted.map((source) => ({ ...source, path: join(sourcesDir, source.file) }));
  const missing: PinnedSource[] = [];
  for (const source of located) if (!(await exists(source.path))) missing.push(source);
  if (missing.length) await fetchSources(missing, sourcesDir);
  for (const source of located) await verify(source, source.path);
  return located;
}
