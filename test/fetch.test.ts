// Tarballs by URL, for real: an HTTP server on 127.0.0.1 (node:http) serves Alpine's
// minirootfs; downloads land in a private cache once, a second fetch asks the server for
// nothing, and a mismatch, a server that dies mid-transfer, a 404, a checksums file that
// lacks the tarball and a closed port each fail with one line, exit 2 through the CLI, and
// leave nothing in the cache.
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha512FromSums, UnlistedTarballError } from '../harness/fetch/checksums.ts';
import { downloadsDir, downloadVerified, HttpStatusError } from '../harness/fetch/download.ts';
import { createFetchProgress, formatBar } from '../harness/fetch/progress.ts';
import { REPO_ROOT } from '../harness/paths.ts';
import type { RunResults } from '../harness/results.ts';
import { freePort } from './fixtures/free-port.ts';

const SHARED = process.env.HARNESS_SHARED ?? (existsSync(join(REPO_ROOT, '..', 'shared')) ? join(REPO_ROOT, '..', 'shared') : '/work/shared');
const ALPINE = join(SHARED, 'alpine-minirootfs', '3.20.3');
const SERVED = ['x86_64', 'aarch64'];
const missingReason = existsSync(join(ALPINE, 'checksums.sha512')) ? '' : `${ALPINE} is absent (Alpine's minirootfs tarballs)`;
if (missingReason) console.warn(`fetch tests skipped: ${missingReason}`);
const IS_ROOT = process.getuid?.() === 0;

let server: Server;
/** The server's answers, over http here and over https in the private-CA test. */
let serve: RequestListener;
let base: string;
let scratch: string;
let tarballs: Record<string, Buffer>;
let sums: Map<string, string>;
/** Requests per path since the server started. */
const hits = new Map<string, number>();

const tarballName = (isa: string) => `alpine-minirootfs-3.20.3-${isa}.tar.gz`;
const url = (path: string) => `${base}${path}`;
const requests = () => [...hits.values()].reduce((a, b) => a + b, 0);

beforeAll(async () => {
  if (missingReason) return;
  scratch = await mkdtemp(join(tmpdir(), 'fetch-test-'));
  tarballs = Object.fromEntries(await Promise.all(SERVED.map(async (isa) => [isa, await readFile(join(ALPINE, tarballName(isa)))] as const)));
  const sumsText = await readFile(join(ALPINE, 'checksums.sha512'), 'utf8');
  sums = new Map(sumsText.trim().split('\n').map((line) => [line.split(/\s+/)[1]!, line.split(/\s+/)[0]!]));
  serve = (request, response) => {
    const path = request.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const served = SERVED.find((isa) => path === `/releases/${tarballName(isa)}`);
    if (path === '/releases/checksums.sha512') return void response.end(sumsText);
    if (served) return void response.writeHead(200, { 'content-length': tarballs[served]!.length }).end(tarballs[served]);
    const dying = /^\/dies(-chunked)?\/(.*)$/.exec(path);
    if (dying) {
      // Half the bytes, then the connection drops: with a Content-Length, or chunked without one.
      // (The client may get less than half: a reset drops what it had not read yet.)
      const bytes = tarballs.x86_64!;
      response.writeHead(200, dying[1] ? {} : { 'content-length': bytes.length });
      response.write(bytes.subarray(0, bytes.length / 2), () => setTimeout(() => response.socket?.destroy(), 50));
      return;
    }
    response.writeHead(404).end('not found');
  };
  server = createServer(serve);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  if (server) await new Promise((done) => server.close(done));
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** Every entry of the downloads cache: complete ones are <64 hex>/<file>; nothing else may be there. */
async function cacheEntries(cacheDir: string): Promise<string[]> {
  const dir = downloadsDir(cacheDir);
  const names = await readdir(dir).catch(() => [] as string[]);
  const entries = await Promise.all(names.map(async (name) => (await readdir(join(dir, name)).catch(() => ['(not a dir)'])).map((file) => `${name}/${file}`)));
  return entries.flat().sort();
}

async function freshCache(): Promise<string> {
  return mkdtemp(join(scratch, 'cache-'));
}

function harness(args: string[], cacheDir: string) {
  return execa('node', [join(REPO_ROOT, 'harness', 'bin.mjs'), ...args], { reject: false, env: { HARNESS_CACHE: cacheDir, CI: '1' } });
}

describe.skipIf(missingReason)('downloads', () => {
  it('downloads once, verified; the second fetch is a cache hit that asks the server nothing', async () => {
    const cacheDir = await freshCache();
    const tarball = url(`/releases/${tarballName('x86_64')}`);
    const sha512 = sums.get(tarballName('x86_64'))!;
    const before = requests();
    const first = await downloadVerified(tarball, sha512, { cacheDir });
    expect(first.origin).toBe('downloaded');
    expect((await readFile(first.path)).equals(tarballs.x86_64!)).toBe(true);
    expect(requests() - before).toBe(1);
    const second = await downloadVerified(tarball, sha512, { cacheDir });
    expect(second).toEqual({ path: first.path, origin: 'cache' });
    expect(requests() - before).toBe(1);
    expect(await cacheEntries(cacheDir)).toHaveLength(1);
  });

  it('the sha512 comes from a checksums file by URL, itself downloaded once', async () => {
    const cacheDir = await freshCache();
    const before = hits.get('/releases/checksums.sha512') ?? 0;
    const sumsUrl = url('/releases/checksums.sha512');
    for (const isa of SERVED) expect(await sha512FromSums(sumsUrl, url(`/releases/${tarballName(isa)}`), { cacheDir })).toBe(sums.get(tarballName(isa)));
    expect((hits.get('/releases/checksums.sha512') ?? 0) - before).toBe(1);
    const lacking = sha512FromSums(sumsUrl, url('/releases/alpine-minirootfs-3.20.3-s390x.tar.gz'), { cacheDir });
    await expect(lacking).rejects.toThrow(UnlistedTarballError);
    await expect(lacking).rejects.toThrow(/checksums\.sha512: no sha512 line for alpine-minirootfs-3\.20\.3-s390x\.tar\.gz/);
  });

  it('a sha512 mismatch, a server that dies mid-transfer, a 404 and a closed port fail and leave nothing in the cache', async () => {
    const cacheDir = await freshCache();
    const sha512 = sums.get(tarballName('x86_64'))!;
    const wrong = sums.get(tarballName('aarch64'))!;
    await expect(downloadVerified(url(`/releases/${tarballName('x86_64')}`), wrong, { cacheDir })).rejects.toThrow(/sha512 mismatch: expected [0-9a-f]{128}, got [0-9a-f]{128}/);
    await expect(downloadVerified(url('/dies/a.tar.gz'), sha512, { cacheDir })).rejects.toThrow(/the download broke off after [0-9.]+ MB of 3\.5 MB/);
    await expect(downloadVerified(url('/dies-chunked/a.tar.gz'), sha512, { cacheDir })).rejects.toThrow(/the download broke off after [0-9.]+ MB \(/);
    const missing = downloadVerified(url('/releases/nothing.tar.gz'), sha512, { cacheDir });
    await expect(missing).rejects.toThrow(HttpStatusError);
    await expect(missing).rejects.toThrow(/nothing\.tar\.gz: the server answered 404 Not Found/);
    await expect(downloadVerified(`http://127.0.0.1:${await freePort()}/a.tar.gz`, sha512, { cacheDir })).rejects.toThrow(/cannot download: connection refused.*ECONNREFUSED/);
    expect(await cacheEntries(cacheDir)).toEqual([]);
    // Not even a temp dir: each failure removed its own.
    expect(await readdir(downloadsDir(cacheDir))).toEqual([]);
  });

  it('a terminal gets a bar per download, CI a line at the start and one at the end', async () => {
    expect(formatBar('x.tar.gz', 1_750_000, 3_500_000)).toBe('[############------------]  50%  1.8 MB/3.5 MB  x.tar.gz');
    const lines: string[] = [];
    const stream = { write: (text: string) => lines.push(text) } as unknown as NodeJS.WritableStream;
    const cacheDir = await freshCache();
    await downloadVerified(url(`/releases/${tarballName('aarch64')}`), sums.get(tarballName('aarch64'))!, { cacheDir, progress: await createFetchProgress('plain', stream) });
    expect(lines).toEqual([
      expect.stringMatching(/^downloading http:.*aarch64\.tar\.gz \(3\.9 MB\)\n$/),
      expect.stringMatching(/^downloaded http:.*aarch64\.tar\.gz: 3\.9 MB in \d+\.\d s\n$/),
    ]);
  });
});

describe.skipIf(missingReason)('through the CLI', () => {
  async function urlMatrix(name: string, tarball: string, checksums: string): Promise<string> {
    const path = join(scratch, `${name}.yaml`);
    await writeFile(path, [
      `name: ${name}`, 'arches: [x86_64]', 'images:', `  - name: web`, `    tarball: '${tarball}'`, `    ${checksums}`, 'suites:', '  image: {}', '',
    ].join('\n'));
    return path;
  }

  it('bad input is one line naming the URL, exit 2, and nothing in the cache', async () => {
    const cacheDir = await freshCache();
    const x86 = url(`/releases/${tarballName('x86_64')}`);
    const port = await freePort();
    const cases: Array<[string, string, string, RegExp]> = [
      ['mismatch', x86, `sha512: ${sums.get(tarballName('aarch64'))}`, /^harness: http:\S+x86_64\.tar\.gz: sha512 mismatch: /],
      ['dies', url('/dies/a.tar.gz'), `sha512: ${sums.get(tarballName('x86_64'))}`, /^harness: http:\S+\/dies\/a\.tar\.gz: the download broke off after [0-9.]+ MB of 3\.5 MB/],
      ['missing', url('/releases/nothing.tar.gz'), `sha512: ${sums.get(tarballName('x86_64'))}`, /^harness: http:\S+\/nothing\.tar\.gz: the server answered 404 Not Found/],
      ['unlisted', url('/releases/alpine-minirootfs-3.20.3-riscv64.tar.gz'), `sha512sums: '${url('/releases/checksums.sha512')}'`, /^harness: http:\S+checksums\.sha512: no sha512 line for alpine-minirootfs-3\.20\.3-riscv64\.tar\.gz/],
      ['offline', `http://127.0.0.1:${port}/a.tar.gz`, `sha512: ${sums.get(tarballName('x86_64'))}`, /^harness: http:\/\/127\.0\.0\.1:\d+\/a\.tar\.gz: cannot download: connection refused/],
    ];
    for (const [name, tarball, checksums, message] of cases) {
      const result = await harness(['run', await urlMatrix(name, tarball, checksums), '--quiet'], cacheDir);
      expect(result.exitCode, name).toBe(2);
      expect(result.stderr.trim().split('\n'), name).toEqual([expect.stringMatching(message)]);
    }
    // The checksums file downloaded for 'unlisted' is the one complete entry.
    expect(await cacheEntries(cacheDir)).toEqual([expect.stringMatching(/^[0-9a-f]{64}\/checksums\.sha512$/)]);
  });

  it.skipIf(!IS_ROOT)('HTTPS from a private CA: the harness command trusts NODE_EXTRA_CA_CERTS for the download, though Node starts without it (launcher.sh)', async () => {
    // A CA of the test's own, and a server certificate for 127.0.0.1 that it signed.
    const pki = await mkdtemp(join(scratch, 'pki-'));
    const openssl = (args: string[]) => execa('openssl', args, { cwd: pki });
    await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=harness test CA']);
    await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
    await writeFile(join(pki, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    await openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext']);
    const tls = createHttpsServer({ key: await readFile(join(pki, 'server.key')), cert: await readFile(join(pki, 'server.pem')) }, serve);
    await new Promise<void>((done) => tls.listen(0, '127.0.0.1', done));
    try {
      const tarball = `https://127.0.0.1:${(tls.address() as AddressInfo).port}/releases/${tarballName('x86_64')}`;
      const matrix = await urlMatrix('private-ca', tarball, `sha512: ${sums.get(tarballName('x86_64'))}`);
      const command = (cacheDir: string, env: Record<string, string>) =>
        execa(join(REPO_ROOT, 'harness', 'launcher.sh'), ['run', matrix, '--quiet', '--json', join(cacheDir, 'results.json'), '--junit', join(cacheDir, 'junit.xml')], { reject: false, env: { HARNESS_CACHE: cacheDir, CI: '1', ...env } });
      const untrusted = await command(await freshCache(), {});
      expect(untrusted.exitCode, untrusted.stderr).toBe(2);
      expect(untrusted.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^harness: https:\S+x86_64\.tar\.gz: cannot download: /)]);
      const cacheDir = await freshCache();
      const trusted = await command(cacheDir, { NODE_EXTRA_CA_CERTS: join(pki, 'ca.pem') });
      expect(trusted.exitCode, trusted.stderr).toBe(0);
      expect(await cacheEntries(cacheDir)).toEqual([expect.stringMatching(new RegExp(`^[0-9a-f]{64}/${tarballName('x86_64').replaceAll('.', '\\.')}$`))]);
      const results = JSON.parse(await readFile(join(cacheDir, 'results.json'), 'utf8')) as RunResults;
      expect(results.results.length).toBeGreaterThan(0);
      expect(results.results.every((r) => r.verdict === 'passed' || r.verdict === 'known-failure' || r.verdict === 'skipped')).toBe(true);
      const unreadable = await command(await freshCache(), { NODE_EXTRA_CA_CERTS: join(pki, 'absent.pem') });
      expect(unreadable.exitCode).toBe(2);
      expect(unreadable.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^harness: NODE_EXTRA_CA_CERTS=\S+absent\.pem: cannot read it \(ENOENT\): fix the path or unset it$/)]);
    } finally {
      await new Promise((done) => tls.close(done));
    }
  });

  it.skipIf(!IS_ROOT)('harness check <url with {arch}> runs the ISAs whose tarball the server has; a second check fetches nothing', async () => {
    const cacheDir = await freshCache();
    const template = url('/releases/alpine-minirootfs-3.20.3-{arch}.tar.gz');
    const args = (n: number) => ['check', template, '--sha512sums', url('/releases/checksums.sha512'), '--suite', 'image', '--json', join(scratch, `check-${n}.json`), '--junit', join(scratch, `check-${n}.xml`)];
    const before = requests();
    const first = await harness(args(1), cacheDir);
    expect(first.stderr).toMatch(/harness check \S+: x86_64, aarch64; not in the image: x86, armhf, armv7, /);
    // Two tarballs, the checksums file, and armv7's 404 (listed, not served); the other ISAs are not listed, so not asked for.
    expect(requests() - before).toBe(4);
    const results = JSON.parse(await readFile(join(scratch, 'check-1.json'), 'utf8')) as RunResults;
    expect(new Set(results.results.map((r) => r.isa))).toEqual(new Set(SERVED));
    expect(results.results.filter((r) => r.verdict === 'passed').length).toBeGreaterThan(10);
    expect(results.results.filter((r) => r.case === 'uname -m names the ISA').map((r) => `${r.isa} ${r.verdict}`).sort()).toEqual(['aarch64 passed', 'x86_64 passed']);
    expect(first.exitCode, first.stderr).toBe(0);

    const second = await harness(args(2), cacheDir);
    expect(second.exitCode, second.stderr).toBe(0);
    // The 404 of armv7 is asked again (an absent file is not cached); the two tarballs and the checksums are not.
    expect(requests() - before).toBe(5);
    expect(await cacheEntries(cacheDir)).toHaveLength(3);
  });
});
