// Images by registry reference, for real: Debian's docker-registry on 127.0.0.1 (its own
// config and storage in a temp dir), the project's multi-arch OCI image pushed to it with
// skopeo, then `harness check 127.0.0.1:PORT/alpine-qemu-harness:test` resolves every
// platform of the index and boots each ISA; a second check pulls nothing. A matrix's
// registry image skips the ISAs its index lacks. An unreachable registry, a missing tag and
// an index with a platform no ISA runs: one line, exit 2, nothing in the cache.
import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256OfBytes } from '../harness/rootfs/digest.ts';
import { ISAS } from '../harness/isa.ts';
import { REPO_ROOT } from '../harness/paths.ts';
import type { RunResults } from '../harness/results.ts';
import { isasServed, type Platform } from '../harness/rootfs/platform.ts';
import { buildImages } from '../images/build.ts';
import { MULTI_PLATFORM_TAG, OCI_MEDIA, REF_NAME } from '../images/oci.ts';
import { freePort } from './fixtures/free-port.ts';

const hasCommand = async (command: string) => (await execa('which', [command], { reject: false })).exitCode === 0;
const skipReason = process.getuid?.() !== 0 ? 'needs root (binfmt, namespaces)'
  : !(await hasCommand('docker-registry')) ? 'docker-registry is not installed (apt-get install docker-registry, or harness setup)'
  : !(await hasCommand('skopeo')) ? 'skopeo is not installed (apt-get install skopeo, or harness setup)' : '';
if (skipReason) console.warn(`registry tests skipped: ${skipReason}`);

interface Descriptor { mediaType: string; digest: string; size: number; platform?: Platform; annotations?: Record<string, string> }

let scratch: string;
let registry: ResultPromise | undefined;
let registryLog = '';
let host: string;
/** The manifests of the project's multi-arch index, with their platforms. */
let manifests: Descriptor[];

/** Requests skopeo made to the registry so far (its access log has one line per request). */
const pullRequests = () => registryLog.split('\n').filter((line) => /^127\.0\.0\.1 - - .*"(GET|HEAD) .*skopeo\//.test(line)).length;

/** An OCI layout over the given manifests of `source` (their blobs copied), tagged latest. */
async function layoutOf(source: string, dir: string, list: Descriptor[]): Promise<string> {
  await cp(join(source, 'blobs'), join(dir, 'blobs'), { recursive: true });
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MEDIA.index, manifests: list }));
  const digest = `sha256:${sha256OfBytes(index)}`;
  await writeFile(join(dir, 'blobs', 'sha256', digest.slice(7)), index);
  await writeFile(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2, mediaType: OCI_MEDIA.index,
    manifests: [{ mediaType: OCI_MEDIA.index, digest, size: index.length, annotations: { [REF_NAME]: MULTI_PLATFORM_TAG } }],
  }));
  await copyFile(join(source, 'oci-layout'), join(dir, 'oci-layout'));
  return dir;
}

async function push(layout: string, tag: string): Promise<void> {
  await execa('skopeo', ['copy', '--all', '--quiet', '--dest-tls-verify=false', `oci:${layout}:${MULTI_PLATFORM_TAG}`, `docker://${host}/alpine-qemu-harness:${tag}`]);
}

function harness(args: string[], cacheDir: string) {
  return execa('node', [join(REPO_ROOT, 'harness', 'bin.mjs'), ...args], { reject: false, env: { HARNESS_CACHE: cacheDir, CI: '1' } });
}

/** What the cache's registry dir holds: complete entries only, never a temp dir. */
async function registryEntries(cacheDir: string): Promise<string[]> {
  return readdir(join(cacheDir, 'registry')).catch(() => [] as string[]);
}

beforeAll(async () => {
  if (skipReason) return;
  scratch = await mkdtemp(join(tmpdir(), 'registry-test-'));
  host = `127.0.0.1:${await freePort()}`;
  const config = join(scratch, 'config.yml');
  await writeFile(config, ['version: 0.1', 'log:', '  level: info', 'storage:', '  filesystem:', `    rootdirectory: ${join(scratch, 'storage')}`, 'http:', `  addr: ${host}`, ''].join('\n'));
  registry = execa('docker-registry', ['serve', config], { reject: false, stdin: 'ignore', all: true, buffer: false });
  registry.all!.on('data', (chunk: Buffer) => (registryLog += chunk.toString()));
  for (let tries = 0; ; tries++) {
    const up = await fetch(`http://${host}/v2/`).then((response) => response.ok, () => false);
    if (up) break;
    if (tries > 100) throw new Error(`docker-registry did not start on ${host}: ${registryLog}`);
    await new Promise((done) => setTimeout(done, 100));
  }
  const built = await buildImages({ arches: [...ISAS] });
  await push(built.ociLayout, 'test');
  const top = JSON.parse(await readFile(join(built.ociLayout, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const multi = top.manifests.find((descriptor) => descriptor.annotations?.[REF_NAME] === MULTI_PLATFORM_TAG)!;
  manifests = (JSON.parse(await readFile(join(built.ociLayout, 'blobs', 'sha256', multi.digest.slice(7)), 'utf8')) as { manifests: Descriptor[] }).manifests;
  // Two platforms only, and one whose platform no ISA runs.
  const two = manifests.filter((descriptor) => ['amd64', 'arm64'].includes(descriptor.platform!.architecture!));
  await push(await layoutOf(built.ociLayout, join(scratch, 'two'), two), 'two');
  await push(await layoutOf(built.ociLayout, join(scratch, 'sparc'), [{ ...manifests[0]!, platform: { os: 'linux', architecture: 'sparc64' } }]), 'sparc');
});

afterAll(async () => {
  registry?.kill('SIGTERM');
  await registry;
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe.skipIf(skipReason)('registry images', () => {
  it('harness check <registry ref> resolves every platform of the index and boots each ISA; a second check pulls nothing', async () => {
    const cacheDir = join(scratch, 'cache-check');
    const served = isasServed(manifests.map((descriptor) => descriptor.platform!));
    expect(served.map((isa) => isa.name)).toEqual(ISAS.map((isa) => isa.name));
    const json = join(scratch, 'check.json');
    const ref = `${host}/alpine-qemu-harness:test`;
    const before = pullRequests();
    const first = await harness(['check', ref, '--suite', 'image', '--json', json, '--junit', join(scratch, 'check.xml')], cacheDir);
    expect(first.stderr).toContain(`pulling docker://${ref} (every platform)`);
    expect(first.stderr).toContain(`harness check ${ref}: ${served.map((isa) => isa.name).join(', ')}\n`);
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    expect(pullRequests()).toBeGreaterThan(before);
    const results = (JSON.parse(await readFile(json, 'utf8')) as RunResults).results;
    for (const isa of served) {
      const uname = results.find((r) => r.isa === isa.name && r.case === 'uname -m names the ISA');
      expect(uname?.verdict, isa.name).toBe('passed');
      expect(uname?.attempts[0]?.stdout, isa.name).toBe(`${isa.unameMachine}\n`);
    }
    expect(await registryEntries(cacheDir)).toHaveLength(1);

    const requests = pullRequests();
    const second = await harness(['check', ref, '--suite', 'image', '--grep', 'uname', '--quiet', '--json', join(scratch, 'again.json'), '--junit', join(scratch, 'again.xml')], cacheDir);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(pullRequests()).toBe(requests);
  });

  it("a matrix's registry image skips the ISAs its index lacks, with the reason", async () => {
    const matrix = join(scratch, 'two.yaml');
    await writeFile(matrix, ['arches: [x86_64, riscv64]', 'images:', `  - { name: two, registry: '${host}/alpine-qemu-harness:two' }`, 'suites:', '  image: {}', ''].join('\n'));
    const json = join(scratch, 'two.json');
    const run = await harness(['run', matrix, '--quiet', '--grep', 'uname', '--json', json, '--junit', join(scratch, 'two.xml')], join(scratch, 'cache-two'));
    expect(run.exitCode, run.stderr).toBe(0);
    const results = (JSON.parse(await readFile(json, 'utf8')) as RunResults).results;
    expect(results.filter((r) => r.isa === 'x86_64' && r.case === 'uname -m names the ISA').map((r) => r.verdict)).toEqual(['passed']);
    expect(results.filter((r) => r.isa === 'riscv64').map((r) => [r.verdict, r.message])).toEqual([
      ['skipped', "image 'two' has no linux/riscv64 (ISA riscv64): its index holds linux/amd64, linux/arm64/v8"],
    ]);

    // The same through check: --arch names an ISA the index lacks, which is reported as skipped.
    const checkJson = join(scratch, 'two-check.json');
    const check = await harness(['check', `${host}/alpine-qemu-harness:two`, '--arch', 'x86_64,riscv64', '--suite', 'image', '--quiet', '--grep', 'uname', '--json', checkJson, '--junit', join(scratch, 'two-check.xml')], join(scratch, 'cache-two'));
    expect(check.exitCode, check.stderr).toBe(0);
    const checked = (JSON.parse(await readFile(checkJson, 'utf8')) as RunResults).results;
    expect(checked.filter((r) => r.isa === 'riscv64').map((r) => r.verdict)).toEqual(['skipped']);
    expect(checked.filter((r) => r.isa === 'x86_64' && r.case === 'uname -m names the ISA').map((r) => r.verdict)).toEqual(['passed']);
    expect(checked.find((r) => r.isa === 'riscv64')?.message).toBe("image 'alpine-qemu-harness-two' is absent for riscv64: the image has no linux/riscv64: its index holds linux/amd64, linux/arm64/v8");
  });

  it('an unreachable registry, a missing tag and a platform no ISA runs: one line naming the reference, exit 2, nothing cached', async () => {
    const cacheDir = join(scratch, 'cache-bad');
    await mkdir(cacheDir, { recursive: true });
    const closed = `127.0.0.1:${await freePort()}/alpine-qemu-harness:test`;
    const cases: Array<[string, RegExp]> = [
      [closed, /^harness: registry image 127\.0\.0\.1:\d+\/alpine-qemu-harness:test: cannot pull: the registry is unreachable \(connection refused\): /],
      [`${host}/alpine-qemu-harness:nope`, /^harness: registry image 127\.0\.0\.1:\d+\/alpine-qemu-harness:nope: cannot pull: the registry has no such repository or tag: .*manifest unknown/],
      [`${host}/alpine-qemu-harness:sparc`, /^harness: registry image 127\.0\.0\.1:\d+\/alpine-qemu-harness:sparc: its index holds platform linux\/sparc64, which no ISA of the harness runs \(known: linux\/amd64, /],
    ];
    for (const [ref, message] of cases) {
      const result = await harness(['check', ref, '--quiet'], cacheDir);
      expect(result.exitCode, ref).toBe(2);
      expect(result.stderr.trim().split('\n'), ref).toEqual([expect.stringMatching(message)]);
    }
    expect(await registryEntries(cacheDir)).toEqual([]);
  });
});
