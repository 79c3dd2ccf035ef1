// Pure logic of remote image references: registry reference parsing, the TLS default,
// checksum files, skopeo's errors in words, and the matrix fields for URL and registry images.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listedName, parseSha512Sums } from '../harness/fetch/checksums.ts';
import { isLocalRegistry, parseRegistryRef, skopeoProblem } from '../harness/fetch/registry.ts';
import { isaByName } from '../harness/isa.ts';
import { loadMatrix } from '../harness/matrix/load.ts';
import { isasServed, unknownPlatforms } from '../harness/rootfs/platform.ts';

const HEX = 'ab'.repeat(64);
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'image-refs-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function matrixFile(body: string): Promise<string> {
  const path = join(scratch, `m${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(path, body);
  return path;
}

describe('registry references', () => {
  it('parses host[:port]/repo[:tag][@digest], with Docker Hub defaults', () => {
    expect(parseRegistryRef('127.0.0.1:5000/alpine-qemu-harness:test')).toEqual({ reference: '127.0.0.1:5000/alpine-qemu-harness:test', host: '127.0.0.1:5000', repository: 'alpine-qemu-harness', tag: 'test' });
    expect(parseRegistryRef('docker://registry.example.org/team/alpine')?.reference).toBe('registry.example.org/team/alpine:latest');
    expect(parseRegistryRef('alpine:3.20')?.reference).toBe('docker.io/library/alpine:3.20');
    expect(parseRegistryRef('team/alpine')?.reference).toBe('docker.io/team/alpine:latest');
    expect(parseRegistryRef(`localhost/x@sha256:${'0'.repeat(64)}`)).toMatchObject({ host: 'localhost', digest: `sha256:${'0'.repeat(64)}` });
    expect(parseRegistryRef(`localhost/x@sha256:${'0'.repeat(64)}`)?.tag).toBeUndefined();
    for (const bad of ['', 'Upper/Case', 'host:5000/repo:bad tag', 'a/b@sha256:12', './dir', '/abs/path']) expect(parseRegistryRef(bad), bad).toBeUndefined();
  });

  it('skips TLS checks only for a registry on this host', () => {
    expect(['localhost:5000', '127.0.0.1:40000', '[::1]:5000', '127.0.0.1'].map(isLocalRegistry)).toEqual([true, true, true, true]);
    expect(['registry.example.org', '10.0.0.1:5000', 'docker.io'].map(isLocalRegistry)).toEqual([false, false, false]);
  });

  it("puts what skopeo's fatal error means in front of its message", () => {
    const refused = 'time="2026-12-01T09:00:00Z" level=fatal msg="initializing source docker://127.0.0.1:1/a:b: pinging container registry 127.0.0.1:1: Get \\"http://127.0.0.1:1/v2/\\": dial tcp 127.0.0.1:1: connect: connection refused"';
    expect(skopeoProblem(refused)).toBe('the registry is unreachable (connection refused): initializing source docker://127.0.0.1:1/a:b: pinging container registry 127.0.0.1:1: Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused');
    expect(skopeoProblem('level=fatal msg="reading manifest x: manifest unknown: manifest unknown"')).toMatch(/^the registry has no such repository or tag: /);
    expect(skopeoProblem('level=fatal msg="unauthorized: authentication required"')).toMatch(/^the registry refused access/);
  });

  it('maps index platforms to ISAs through the ISA table; unknown ones are named', () => {
    const platforms = [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }, { os: 'unknown', architecture: 'unknown' }, { os: 'linux', architecture: 'sparc64' }];
    expect(isasServed(platforms).map((isa) => isa.name)).toEqual(['x86_64', 'aarch64']);
    expect(unknownPlatforms(platforms)).toEqual(['linux/sparc64']);
  });
});

describe('checksums files', () => {
  it('reads GNU and BSD lines, keyed by the file name', () => {
    const text = `${HEX}  alpine-minirootfs-3.20.3-x86_64.tar.gz\n${'cd'.repeat(64)} *dir/b.tar.gz\nSHA512 (c.tar.xz) = ${'EF'.repeat(64)}\nnot a line\n`;
    expect(Object.fromEntries(parseSha512Sums(text))).toEqual({ 'alpine-minirootfs-3.20.3-x86_64.tar.gz': HEX, 'b.tar.gz': 'cd'.repeat(64), 'c.tar.xz': 'ef'.repeat(64) });
    expect(listedName('https://example.org/v3.20/releases/x86_64/a%2Bb.tar.gz?x=1')).toBe('a+b.tar.gz');
    expect(listedName('/srv/images/a.tar.gz')).toBe('a.tar.gz');
  });
});

describe('matrix fields for remote images', () => {
  it('reads tarball URLs (sha512 or a checksums URL) and registry references', async () => {
    const matrix = await loadMatrix(await matrixFile([
      'arches: [x86_64, aarch64]',
      'images:',
      "  - { name: web, tarball: 'https://example.org/alpine-{arch}.tar.gz', sha512sums: 'https://example.org/sums.sha512' }",
      `  - { name: one, tarball: 'http://example.org/a.tar.gz', sha512: '${HEX}', arches: [x86_64] }`,
      "  - { name: pushed, registry: '127.0.0.1:5000/alpine-qemu-harness:test' }",
      "  - { name: remote, registry: 'registry.example.org/team/alpine:3.20', tls_verify: false }",
      "  - { name: hub, registry: 'alpine:3.20' }",
      'suites: { image: {} }',
    ].join('\n')));
    const [web, one, pushed, remote, hub] = matrix.images;
    expect(web!.refs.aarch64).toEqual({ kind: 'url', url: 'https://example.org/alpine-aarch64.tar.gz', sha512sums: 'https://example.org/sums.sha512' });
    expect(one!.refs).toEqual({ x86_64: { kind: 'url', url: 'http://example.org/a.tar.gz', sha512: HEX } });
    expect(pushed!.refs.x86_64).toEqual({ kind: 'registry', reference: '127.0.0.1:5000/alpine-qemu-harness:test', tlsVerify: false });
    expect(remote!.refs.aarch64).toEqual({ kind: 'registry', reference: 'registry.example.org/team/alpine:3.20', tlsVerify: false });
    expect(hub!.refs.x86_64).toEqual({ kind: 'registry', reference: 'docker.io/library/alpine:3.20', tlsVerify: true });
    expect(isaByName('x86_64')).toBe(matrix.isas[0]);
  });

  it('reports every mistake at once, each on its line', async () => {
    const file = await matrixFile([
      'arches: [x86_64, aarch64]',
      'images:',
      "  - { name: nosum, tarball: 'https://example.org/alpine-{arch}.tar.gz' }",
      "  - { name: badref, registry: 'Not A Ref' }",
      "  - { name: archref, registry: 'localhost/x-{arch}:1' }",
      "  - { name: tls, tarball: 'https://example.org/a-{arch}.tar.gz', sha512sums: 'https://e/s', tls_verify: false }",
      "  - { name: holder, tarball: 'https://example.org/{version}-{arch}.tar.gz', sha512sums: 'https://e/s' }",
      'suites: { image: {} }',
    ].join('\n'));
    const error = await loadMatrix(file).catch((e: Error) => e);
    const lines = (error as Error).message.split('\n').map((line) => line.replace(/^[^:]+:/, ''));
    expect(lines).toEqual([
      '3: images[0].tarball: a tarball by URL needs its sha512 or a sha512sums file (a path or a URL)',
      "4: images[1].registry: 'Not A Ref' is not a registry reference; write host[:port]/repository:tag or host/repository@sha256:<hex>",
      '5: images[2].registry: a registry reference names an index of every platform: leave {arch} out',
      '6: images[3].tls_verify: tls_verify applies to registry images only',
      "7: images[4].tarball: unknown placeholder '{version}' in 'https://example.org/{version}-{arch}.tar.gz'; the only one is {arch} (the ISA name)",
    ]);
  });
});
