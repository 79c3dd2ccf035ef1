// harness setup's deb-src entry comes from the machine's own apt sources (deb822 and
// one-line, Debian and Ubuntu), and the pinned sources a machine's suite lacks come by URL
// from a source list: parsed on sample files, checked against this machine's apt, and
// fetched from a real HTTP server on 127.0.0.1 standing in for a local mirror.
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SOURCE_LIST, SOURCES, aptServes, defaultSourcesDir, ensureSources, parseSourceList } from '../images/sources.ts';
import { coversDebSrc, debSrcEntry, machineArchive, parseAptSources } from '../harness/host/apt-sources.ts';
import { HarnessError } from '../harness/errors.ts';
import type { HostDistro } from '../harness/host/packages.ts';
import { aptEntries, hostDistro } from '../harness/host/probe.ts';
import { ensureDebSrc, planDebSrc } from '../harness/host/setup.ts';

const DEBIAN_12 = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;
const DEBIAN_11 = `# deb-src http://deb.debian.org/debian bullseye main
deb http://ftp.de.debian.org/debian/ bullseye main contrib non-free
deb http://security.debian.org/debian-security bullseye-security main
deb http://ftp.de.debian.org/debian/ bullseye-updates main
`;
const UBUNTU_24 = `Types: deb
URIs: http://de.archive.ubuntu.com/ubuntu/
Suites: noble noble-updates noble-backports
Components: main restricted universe multiverse
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg

Types: deb
URIs: http://security.ubuntu.com/ubuntu/
Suites: noble-security
Components: main restricted universe multiverse
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg
`;
const UBUNTU_22 = `deb [arch=amd64 signed-by=/etc/apt/keyrings/mirror.gpg] http://mirror.example.org/ubuntu jammy main restricted # our mirror
# deb http://archive.ubuntu.com/ubuntu jammy main
deb http://archive.ubuntu.com/ubuntu jammy-updates main restricted
`;

const bookworm: HostDistro = { id: 'debian', codename: 'bookworm', debianArch: 'amd64' };
const noble: HostDistro = { id: 'ubuntu', codename: 'noble', debianArch: 'amd64' };

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'apt-sources-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** An apt dir of its own: sources.list and sources.list.d/<name> files. */
async function aptDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(scratch, 'apt-'));
  await mkdir(join(dir, 'sources.list.d'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

describe('apt sources: parsing (pure)', () => {
  it('reads deb822 and one-line files, Debian and Ubuntu, and finds the archive of the machine\'s own release', () => {
    expect(machineArchive(parseAptSources(DEBIAN_12, 'debian.sources'), 'bookworm')).toEqual({
      uri: 'http://deb.debian.org/debian', suite: 'bookworm', signedBy: '/usr/share/keyrings/debian-archive-keyring.gpg', format: 'deb822', file: 'debian.sources',
    });
    expect(machineArchive(parseAptSources(DEBIAN_11, 'sources.list'), 'bullseye')).toEqual({ uri: 'http://ftp.de.debian.org/debian', suite: 'bullseye', format: 'one-line', file: 'sources.list' });
    expect(machineArchive(parseAptSources(UBUNTU_24, 'ubuntu.sources'), 'noble')).toMatchObject({ uri: 'http://de.archive.ubuntu.com/ubuntu', suite: 'noble', signedBy: '/usr/share/keyrings/ubuntu-archive-keyring.gpg' });
    // Options in brackets, a trailing comment, and a commented-out entry (which is no entry).
    const jammy = parseAptSources(UBUNTU_22, 'sources.list');
    expect(jammy).toHaveLength(2);
    expect(machineArchive(jammy, 'jammy')).toEqual({ uri: 'http://mirror.example.org/ubuntu', suite: 'jammy', signedBy: '/etc/apt/keyrings/mirror.gpg', format: 'one-line', file: 'sources.list' });
    expect(jammy[0]!.components).toEqual(['main', 'restricted']);
    // Only the release's own suite counts (not -updates or -security), and only with main.
    expect(machineArchive(parseAptSources(DEBIAN_12, 'debian.sources'), 'trixie')).toBeUndefined();
    expect(machineArchive(parseAptSources('deb http://x/debian bookworm contrib\n', 'a.list'), 'bookworm')).toBeUndefined();
  });

  it('skips disabled deb822 stanzas, reads field names in any case, and keeps an inline Signed-By key block', () => {
    const text = `Types: deb\nURIs: http://old.example/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n\n`
      + `types: deb deb-src\nuris: http://new.example/debian/\nsuites: bookworm\ncomponents: main contrib\nsigned-by:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mQINBGPL0BUBEADmW5NdOOHwPIJ\n -----END PGP PUBLIC KEY BLOCK-----\n`;
    const entries = parseAptSources(text, 'x.sources');
    expect(entries.map((e) => e.enabled)).toEqual([false, true]);
    const archive = machineArchive(entries, 'bookworm')!;
    expect(archive.uri).toBe('http://new.example/debian');
    expect(archive.signedBy).toBe('-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBGPL0BUBEADmW5NdOOHwPIJ\n-----END PGP PUBLIC KEY BLOCK-----');
    // That stanza is deb-src too: it covers the derived entry (a trailing slash is the same URI).
    expect(coversDebSrc(entries, archive)).toBe(true);
    expect(coversDebSrc(entries.slice(0, 1), archive)).toBe(false);
    // The derived entry is deb822 like its origin, the key block written back as continuation lines.
    const derived = debSrcEntry(archive);
    expect(derived.extension).toBe('.sources');
    expect(derived.text).toBe('Types: deb-src\nURIs: http://new.example/debian\nSuites: bookworm\nComponents: main\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mQINBGPL0BUBEADmW5NdOOHwPIJ\n -----END PGP PUBLIC KEY BLOCK-----\n');
    expect(parseAptSources(derived.text, 'harness-src.sources')[0]).toMatchObject({ types: ['deb-src'], signedBy: archive.signedBy });
  });

  it('derives a one-line deb-src from a one-line machine, with its signed-by', () => {
    const archive = machineArchive(parseAptSources(UBUNTU_22, 'sources.list'), 'jammy')!;
    expect(debSrcEntry(archive)).toEqual({ text: 'deb-src [signed-by=/etc/apt/keyrings/mirror.gpg] http://mirror.example.org/ubuntu jammy main\n', extension: '.list' });
    expect(coversDebSrc(parseAptSources('deb-src [arch=amd64] http://mirror.example.org/ubuntu/ jammy main universe\n', 'a.list'), archive)).toBe(true);
    expect(coversDebSrc(parseAptSources('deb-src http://mirror.example.org/ubuntu jammy-updates main\n', 'a.list'), archive)).toBe(false);
  });

  it('reads a source list of <sha256> <url> lines and names a bad line; the shipped one lists every pinned source', async () => {
    const sha = 'a'.repeat(64);
    expect(parseSourceList(`# c\n${sha} http://a/x\n\n${sha} http://b/x # second\n`, 'l')).toEqual(new Map([[sha, ['http://a/x', 'http://b/x']]]));
    expect(() => parseSourceList(`${sha} http://a/x\nhttp://b/x\n`, 'my.list')).toThrow(new HarnessError("my.list:2: expected '<sha256> <url>' (64 lower-case hex digits, a space, a URL); got 'http://b/x'"));
    const shipped = parseSourceList(await readFile(DEFAULT_SOURCE_LIST, 'utf8'), DEFAULT_SOURCE_LIST);
    for (const source of SOURCES) expect(shipped.get(source.sha256)?.length, source.file).toBeGreaterThan(0);
  });

  it('uses the machine\'s apt only on a Debian of the source\'s suite, and never with a source list of the user\'s', () => {
    const busybox = SOURCES.find((s) => s.name === 'busybox')!;
    const trixieMusl = SOURCES.find((s) => s.suite === 'trixie')!;
    expect(aptServes(busybox, bookworm, undefined)).toBe(true);
    expect(aptServes(trixieMusl, bookworm, undefined)).toBe(false);
    expect(aptServes(busybox, { ...bookworm, codename: 'trixie' }, undefined)).toBe(false);
    expect(aptServes(busybox, noble, undefined)).toBe(false);
    expect(aptServes(busybox, bookworm, '/srv/mirror.list')).toBe(false);
  });
});

describe('harness setup: the deb-src entry, in an apt dir of its own', () => {
  it('adds the entry of the machine\'s own mirror once, in its format; a second run finds it', async () => {
    const dir = await aptDir({ 'sources.list.d/debian.sources': DEBIAN_12.replaceAll('deb.debian.org', 'mirror.local') });
    const log: string[] = [];
    expect(await ensureDebSrc(bookworm, dir, false, (line) => log.push(line))).toBe(true);
    const written = join(dir, 'sources.list.d', 'harness-src.sources');
    expect(await readFile(written, 'utf8')).toBe('Types: deb-src\nURIs: http://mirror.local/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n');
    expect(log).toEqual([`apt deb-src: adding ${written}: Types: deb-src | URIs: http://mirror.local/debian | Suites: bookworm | Components: main | Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg`]);
    expect(await ensureDebSrc(bookworm, dir, false, () => undefined)).toBe(false);
    expect(await planDebSrc(bookworm, dir)).toEqual({ action: 'none', why: `present (${written}: deb-src http://mirror.local/debian bookworm main)` });
    expect((await readdir(join(dir, 'sources.list.d'))).sort()).toEqual(['debian.sources', 'harness-src.sources']);
  });

  it('writes a one-line entry for a one-line machine, and a dry run writes nothing', async () => {
    const dir = await aptDir({ 'sources.list': 'deb [signed-by=/k.gpg] http://ftp.example/debian bookworm main\n' });
    expect(await planDebSrc(bookworm, dir)).toEqual({ action: 'add', path: join(dir, 'sources.list.d', 'harness-src.list'), text: 'deb-src [signed-by=/k.gpg] http://ftp.example/debian bookworm main\n' });
    expect(await ensureDebSrc(bookworm, dir, true, () => undefined)).toBe(true);
    expect(await readdir(join(dir, 'sources.list.d'))).toEqual([]);
  });

  it('adds nothing where the machine\'s suite has none of the pinned versions (Ubuntu) or a source list is given; a newer Debian gets its own suite\'s line', async () => {
    const ubuntu = await aptDir({ 'sources.list.d/ubuntu.sources': UBUNTU_24 });
    expect(await planDebSrc(noble, ubuntu)).toEqual({ action: 'none', why: `not needed: ubuntu noble lacks the pinned source versions, which are fetched by URL from ${DEFAULT_SOURCE_LIST}` });
    expect(await ensureDebSrc(noble, ubuntu, false, () => undefined)).toBe(false);
    expect(await readdir(join(ubuntu, 'sources.list.d'))).toEqual(['ubuntu.sources']);
    // Debian 13 has the pinned musl 1.2.5 in its own suite (so its own deb-src line), not bookworm's BusyBox (fetched by URL).
    const trixie = await aptDir({ 'sources.list.d/debian.sources': DEBIAN_12.replaceAll('bookworm', 'trixie') });
    expect(await planDebSrc({ ...bookworm, codename: 'trixie' }, trixie)).toMatchObject({ action: 'add', text: expect.stringContaining('Suites: trixie\n') });
    expect(aptServes(SOURCES.find((s) => s.name === 'busybox')!, { ...bookworm, codename: 'trixie' }, undefined)).toBe(false);
    const withList = await aptDir({ 'sources.list.d/debian.sources': DEBIAN_12 });
    expect(await planDebSrc(bookworm, withList, '/srv/mirror.list')).toEqual({ action: 'none', why: 'not needed: debian bookworm lacks the pinned source versions, which are fetched by URL from /srv/mirror.list' });
  });

  it('says in one line what to do when the machine names no mirror, or a harness-src file of another mirror is in the way', async () => {
    const none = await aptDir({ 'sources.list.d/debian.sources': DEBIAN_12.replace(/Components: main/g, 'Components: contrib') });
    const error = (await planDebSrc(bookworm, none).catch((caught: unknown) => caught)) as Error;
    expect(error).toBeInstanceOf(HarnessError);
    expect(error.message).toMatch(new RegExp(`^${none}: no enabled 'deb' entry for bookworm main in sources.list or sources.list.d/.*HARNESS_SOURCE_LIST`));
    expect(error.message).not.toContain('\n');
    const stale = await aptDir({ 'sources.list.d/debian.sources': DEBIAN_12, 'sources.list.d/harness-src.list': 'deb-src http://elsewhere/debian bookworm main\n' });
    await expect(planDebSrc(bookworm, stale)).rejects.toThrow(/harness-src\.list exists but has no deb-src entry for http:\/\/deb\.debian\.org\/debian bookworm main/);
  });
});

const onDebian = existsSync('/etc/apt') && (await hostDistro())?.id === 'debian';
describe.skipIf(!onDebian)('harness setup on this machine: the derived entry is the machine\'s own', () => {
  it('names the mirror and suite apt itself installs from, and apt reads the entry setup would write', async () => {
    const distro = (await hostDistro())!;
    const archive = machineArchive(await aptEntries(), distro.codename)!;
    expect(archive, `/etc/apt names no deb entry for ${distro.codename} main`).toBeDefined();
    // apt's own view of the machine's sources (not our parser): the same mirror and suite.
    const policy = (await execa('apt-cache', ['policy'])).stdout;
    expect(policy).toContain(` ${archive.uri} ${archive.suite}/main `);
    // Setup run against a copy of the machine's sources (never /etc itself) writes an entry apt parses as that deb-src.
    const dir = await mkdtemp(join(scratch, 'machine-'));
    await mkdir(join(dir, 'sources.list.d'));
    await cp(archive.file, join(dir, 'sources.list.d', archive.file.split('/').pop()!));
    expect(await ensureDebSrc(distro, dir, false, () => undefined)).toBe(aptServes(SOURCES[0]!, distro, undefined));
    const targets = await execa('apt-get', ['-o', 'Dir::Etc::SourceList=/dev/null', '-o', `Dir::Etc::SourceParts=${join(dir, 'sources.list.d')}`,
      'indextargets', '--no-release-info', '--format', '$(TARGET_OF) $(SITE) $(RELEASE) $(COMPONENT)']);
    expect(targets.stdout.split('\n')).toContain(`deb-src ${archive.uri} ${archive.suite} main`);
    // And the machine's own /etc/apt already holds an entry that covers it (setup ran here), so setup changes nothing there.
    expect(await planDebSrc(distro)).toMatchObject({ action: 'none' });
  });
});

describe('pinned sources by URL from a source list (a local mirror on 127.0.0.1)', () => {
  const cached = defaultSourcesDir();
  const wanted = SOURCES.filter((s) => s.name === 'musl');
  const haveCached = wanted.every((s) => existsSync(join(cached, s.file)));
  let server: Server;
  let base: string;
  const requests: string[] = [];

  beforeAll(async () => {
    // The mirror serves the cached sources under /good/, and wrong bytes under /bad/.
    server = createServer((request, response) => {
      requests.push(request.url ?? '');
      const [, kind, name] = (request.url ?? '').split('/');
      if (kind === 'bad') return void response.end('not a tarball\n');
      readFile(join(cached, name ?? '')).then((bytes) => response.end(bytes), () => {
        response.statusCode = 404;
        response.end();
      });
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((done) => server?.close(done));
  });

  it.skipIf(!haveCached)('fetches each by its sha256, skipping a URL that gives other bytes; nothing else is left', async () => {
    const list = join(scratch, 'mirror.list');
    await writeFile(list, wanted.flatMap((s) => [`${s.sha256} ${base}/bad/${s.file}`, `${s.sha256} ${base}/good/${s.file}`]).join('\n'));
    const sourcesDir = await mkdtemp(join(scratch, 'sources-'));
    const verified = await ensureSources(sourcesDir, wanted, { sourceList: list });
    expect(verified.map((s) => s.path)).toEqual(wanted.map((s) => join(sourcesDir, s.file)));
    expect((await readdir(sourcesDir)).sort()).toEqual(wanted.map((s) => s.file).sort());
    expect(requests).toEqual(wanted.flatMap((s) => [`/bad/${s.file}`, `/good/${s.file}`]));
  });

  it('says in one line what to do when no URL gives the bytes, and keeps nothing', async () => {
    const list = join(scratch, 'broken.list');
    const [first] = wanted;
    await writeFile(list, `${first!.sha256} ${base}/bad/${first!.file}\n${first!.sha256} ${base}/missing/x\n`);
    const sourcesDir = await mkdtemp(join(scratch, 'sources-'));
    const error = (await ensureSources(sourcesDir, [first!], { sourceList: list }).catch((caught: unknown) => caught)) as Error;
    expect(error).toBeInstanceOf(HarnessError);
    expect(error.message).not.toContain('\n');
    expect(error.message).toContain(`${first!.file} (sha256 ${first!.sha256}) cannot be fetched from ${list}: tried ${base}/bad/${first!.file}: sha256 `);
    expect(error.message).toContain(`${base}/missing/x: the server answered 404`);
    expect(error.message).toContain(`put the file in ${sourcesDir}, or point HARNESS_SOURCE_LIST at a list of '<sha256> <url>' lines for a mirror you can reach`);
    expect(await readdir(sourcesDir)).toEqual([]);
    // A list without the file at all says so; an unreadable list is named.
    await writeFile(list, '');
    await expect(ensureSources(sourcesDir, [first!], { sourceList: list })).rejects.toThrow(/cannot be fetched from .*broken\.list: it lists no URL for it/);
    await expect(ensureSources(sourcesDir, [first!], { sourceList: join(scratch, 'absent.list') })).rejects.toThrow(/absent\.list: cannot read the source list \(ENOENT\)/);
    expect(await readdir(sourcesDir)).toEqual([]);
  });
});
