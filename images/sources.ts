// The pinned upstream sources of every image, found in a sources dir or fetched there, and
// always checked against their sha256 before use. Fetched with the machine's own apt
// (`apt-get source --download-only`, or `apt-get download` for the few binary packages whose
// files an image needs) where its suite has the pinned versions, else by URL from a source
// list (images/source-urls.list, or the user's own for a local mirror).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HarnessError } from '../harness/errors.ts';
import { downloadUnverified } from '../harness/fetch/download.ts';
import type { Isa } from '../harness/isa.ts';
import { cacheRoot, REPO_ROOT } from '../harness/paths.ts';
import { makeCacheTempDir } from '../harness/cache-temp.ts';
import { machineArchive } from '../harness/host/apt-sources.ts';
import type { HostDistro } from '../harness/host/packages.ts';
import { aptDebSrcEntries, aptEntries, hostDistro } from '../harness/host/probe.ts';
import { exists } from './cache.ts';

export interface PinnedSource {
  name: 'busybox' | 'musl' | 'libgcc' | 'linux-headers';
  version: string;
  /** A source package's .orig tarball (`apt-get source`) or a binary package, arch all (`apt-get download`). */
  kind: 'source' | 'deb';
  debianPackage: string;
  /** The Debian suite that has this version: fetched with apt on a Debian machine of that suite, else by URL. */
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
/** The shipped source list; HARNESS_SOURCE_LIST names another (a local mirror). */
export const DEFAULT_SOURCE_LIST = join(REPO_ROOT, 'images', 'source-urls.list');

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

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

/** True when the machine's own apt has this source: a Debian machine of the source's suite, with no source list of the user's. */
export function aptServes(source: PinnedSource, distro: HostDistro | undefined, userList: string | undefined): boolean {
  return userList === undefined && distro?.id === 'debian' && distro.codename === source.suite;
}

/** Parses a source list: '<sha256> <url>' lines ('#' comments), each file's URLs in the order given. */
export function parseSourceList(text: string, file: string): Map<string, string[]> {
  const urls = new Map<string, string[]>();
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    const match = /^([0-9a-f]{64})\s+(\S+)$/.exec(line);
    if (!match) throw new HarnessError(`${file}:${index + 1}: expected '<sha256> <url>' (64 lower-case hex digits, a space, a URL); got '${line}'`);
    urls.set(match[1]!, [...(urls.get(match[1]!) ?? []), match[2]!]);
  }
  return urls;
}

/** Where each source can be fetched, {debian} replaced by the machine's Debian mirror. */
async function sourceUrls(list: string, debianMirror: string): Promise<Map<string, string[]>> {
  const text = await readFile(list, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new HarnessError(`${list}: cannot read the source list (${error.code}); point HARNESS_SOURCE_LIST at a file of '<sha256> <url>' lines`);
  });
  const urls = parseSourceList(text, list);
  for (const [sha256, found] of urls) urls.set(sha256, found.map((url) => url.replaceAll('{debian}', debianMirror)));
  return urls;
}

/** Downloads one source by the URLs the list gives for its sha256, first match wins; returns the verified file. */
async function fetchByUrl(source: PinnedSource, urls: Map<string, string[]>, list: string, fetchDir: string, sourcesDir: string): Promise<string> {
  const problems: string[] = [];
  for (const url of urls.get(source.sha256) ?? []) {
    try {
      const { path } = await downloadUnverified(url, { cacheDir: fetchDir });
      const got = await sha256File(path);
      if (got === source.sha256) return path;
      problems.push(`${url}: sha256 ${got}`);
    } catch (error) {
      if (!(error instanceof HarnessError)) throw error;
      problems.push(error.message.split(';')[0]!);
    }
  }
  const tried = problems.length ? `tried ${problems.join('; ')}` : 'it lists no URL for it';
  throw new HarnessError(
    `${source.file} (sha256 ${source.sha256}) cannot be fetched from ${list}: ${tried}; put the file in ${sourcesDir}, or point HARNESS_SOURCE_LIST at a list of '<sha256> <url>' lines for a mirror you can reach`,
  );
}

/** Fetches with the machine's apt: its own lists, so its own mirror and keys. */
async function fetchWithApt(missing: PinnedSource[], fetchDir: string): Promise<void> {
  const sources = missing.filter((s) => s.kind === 'source');
  if (sources.length && (await aptDebSrcEntries()).length === 0) {
    throw new HarnessError(`apt has no deb-src line to fetch ${sources.map((s) => s.file).join(', ')}; run \`harness setup\` (it adds one for the machine's own mirror), then apt-get update`);
  }
  for (const kind of ['source', 'deb'] as const) {
    const packages = missing.filter((s) => s.kind === kind).map((s) => s.debianPackage);
    if (!packages.length) continue;
    const verb = kind === 'source' ? ['source', '--download-only'] : ['download'];
    // zx on first use: every command imports this module, few fetch.
    const { $ } = await import('zx');
    const result = await $({ cwd: fetchDir, quiet: true, nothrow: true })`apt-get ${verb} ${packages}`;
    if (result.exitCode !== 0) {
      throw new HarnessError(`apt-get ${verb.join(' ')} ${packages.join(' ')} failed (${lastLine(result.stderr)}); run \`harness setup\` or apt-get update`);
    }
  }
  for (const source of missing) {
    if (!(await exists(join(fetchDir, source.file)))) throw new HarnessError(`apt-get did not give ${source.file} for ${source.debianPackage}; has the archive dropped that version?`);
  }
}

export interface SourceFetchOptions {
  /** A source list of the user's ('<sha256> <url>' lines): every missing source is fetched by URL from it. Default: $HARNESS_SOURCE_LIST. */
  sourceList?: string;
}

/** Downloads the missing sources into a temp dir beside them; only verified files are moved in. */
async function fetchSources(missing: PinnedSource[], sourcesDir: string, options: SourceFetchOptions): Promise<void> {
  const userList = options.sourceList ?? (process.env.HARNESS_SOURCE_LIST || undefined);
  const distro = await hostDistro();
  const byApt = missing.filter((s) => aptServes(s, distro, userList));
  const byUrl = missing.filter((s) => !byApt.includes(s));
  const fetchDir = await makeCacheTempDir(sourcesDir, 'fetch');
  try {
    const fetched = new Map<PinnedSource, string>();
    if (byApt.length) {
      await fetchWithApt(byApt, fetchDir);
      for (const source of byApt) fetched.set(source, join(fetchDir, source.file));
    }
    if (byUrl.length) {
      const list = userList ?? DEFAULT_SOURCE_LIST;
      const mirror = distro?.id === 'debian' ? machineArchive(await aptEntries(), distro.codename)?.uri : undefined;
      const urls = await sourceUrls(list, mirror ?? DEBIAN_MIRROR);
      for (const source of byUrl) fetched.set(source, await fetchByUrl(source, urls, list, join(fetchDir, 'downloads'), sourcesDir));
    }
    for (const [source, path] of fetched) {
      await verify(source, path);
      await rename(path, join(sourcesDir, source.file));
    }
  } finally {
    await rm(fetchDir, { recursive: true, force: true });
  }
}

export interface VerifiedSource extends PinnedSource {
  path: string;
}

/** Returns these pinned sources (default: all) as verified files in sourcesDir, fetching the missing ones. */
export async function ensureSources(sourcesDir: string = defaultSourcesDir(), wanted: readonly PinnedSource[] = SOURCES, options: SourceFetchOptions = {}): Promise<VerifiedSource[]> {
  await mkdir(sourcesDir, { recursive: true });
  const located = wanted.map((source) => ({ ...source, path: join(sourcesDir, source.file) }));
  const missing: PinnedSource[] = [];
  for (const source of located) if (!(await exists(source.path))) missing.push(source);
  if (missing.length) await fetchSources(missing, sourcesDir, options);
  for (const source of located) await verify(source, source.path);
  return located;
}
