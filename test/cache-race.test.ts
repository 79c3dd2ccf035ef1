// The cache shared by runs at once, and by a run killed halfway: two `harness run`s start
// together on a cold cache (HARNESS_CACHE temp dir) and the same image, and both pass with
// the same verdicts over one cache entry; a run SIGKILLed while it extracts, and an image
// build SIGKILLed while it compiles, leave nothing a later run trusts, and the later run
// extracts again and passes.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeStaleTempDirs, TEMP_PREFIX } from '../harness/cache-temp.ts';
import { isaByName } from '../harness/isa.ts';
import { cacheRoot, REPO_ROOT } from '../harness/paths.ts';
import type { RunResults } from '../harness/results.ts';
import { imagesDir } from '../harness/rootfs/cache.ts';
import { sandboxLeaks, snapshotHost, type HostSnapshot } from '../harness/sandbox/index.ts';
import { buildImages, findBuiltImage } from '../images/build.ts';
import { defaultSourcesDir } from '../images/sources.ts';

const BIN = join(REPO_ROOT, 'harness', 'bin.mjs');
const isRoot = process.getuid?.() === 0;
const aarch64 = isaByName('aarch64');
/** Zeros added to the image for the kill test, so its extraction takes long enough to be caught halfway. */
const PADDING_BYTES = 256 * 1024 ** 2;

let scratch: string;
let before: HostSnapshot;
const ours = (mount: string) => mount.includes(scratch) || mount.includes(cacheRoot());
let tarGz: string;
let paddedTarGz: string;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function matrixFor(name: string, tarball: string): Promise<string> {
  const path = join(scratch, `${name}.yaml`);
  await writeFile(path, `arches: [aarch64]\nimages:\n  - { name: ${name}, tarball: '${tarball}' }\nsuites: { image: {} }\nretries: 0\n`);
  return path;
}

/** `harness run` of matrix with this cache; the child, and where its results go. */
function startRun(matrix: string, cache: string, label: string) {
  const json = join(scratch, `${label}.json`);
  const child = execa('node', [BIN, 'run', '-q', '--json', json, '--junit', join(scratch, `${label}.xml`), matrix], { reject: false, cwd: scratch, env: { HARNESS_CACHE: cache } });
  return { child, json };
}

async function verdictsOf(json: string): Promise<Record<string, string>> {
  const results = JSON.parse(await readFile(json, 'utf8')) as RunResults;
  return Object.fromEntries(results.results.map((r) => [`${r.suite}/${r.case}`, r.verdict]));
}

/** Temp dirs anywhere in the cache. */
async function tempDirsIn(cache: string): Promise<string[]> {
  const entries = await readdir(cache, { recursive: true }).catch(() => [] as string[]);
  return entries.filter((path) => path.split('/').some((part) => part.startsWith(TEMP_PREFIX)));
}

beforeAll(async () => {
  if (!isRoot) return;
  before = await snapshotHost();
  scratch = await mkdtemp(join(tmpdir(), 'cache-race-test-'));
  tarGz = (await buildImages({ arches: [aarch64] })).images.aarch64!.rootfsTarGz;
  const tar = join(scratch, 'padded.tar');
  await execa('sh', ['-c', `gzip -dc '${tarGz}' > '${tar}'`]);
  await writeFile(join(scratch, 'padding'), '');
  await truncate(join(scratch, 'padding'), PADDING_BYTES);
  await execa('tar', ['-rf', tar, '-C', scratch, '--owner=0', '--group=0', './padding']);
  await execa('gzip', ['-1', tar]);
  await rm(join(scratch, 'padding'));
  paddedTarGz = `${tar}.gz`;
});

afterAll(async () => {
  if (!isRoot) return;
  await rm(scratch, { recursive: true, force: true });
  // Others' harnesses and benchmarks may run beside this test: only mounts on our dirs or the cache count.
  expect(sandboxLeaks(before, await snapshotHost()).mounts.filter(ours)).toEqual([]);
});

describe.skipIf(!isRoot)('runs sharing a cache', () => {
  it('two runs at once on a cold cache: both pass with the same verdicts, over one cache entry', async () => {
    const cache = await mkdtemp(join(scratch, 'cold-'));
    const matrix = await matrixFor('shared', tarGz);
    const [a, b] = [startRun(matrix, cache, 'a'), startRun(matrix, cache, 'b')];
    const [resultA, resultB] = await Promise.all([a.child, b.child]);
    expect([resultA.exitCode, resultB.exitCode], `${String(resultA.stderr)}\n${String(resultB.stderr)}`).toEqual([0, 0]);
    const [verdictsA, verdictsB] = await Promise.all([verdictsOf(a.json), verdictsOf(b.json)]);
    expect(verdictsA).toEqual(verdictsB);
    expect(Object.values(verdictsA).filter((v) => v === 'passed').length).toBeGreaterThan(5);
    expect(await readdir(imagesDir(cache))).toHaveLength(1);
    expect(await tempDirsIn(cache)).toEqual([]);
  });

  it('a run SIGKILLed halfway through extraction leaves no entry; the next run extracts again and passes', async () => {
    const cache = await mkdtemp(join(scratch, 'killed-'));
    const matrix = await matrixFor('padded', paddedTarGz);
    const killed = startRun(matrix, cache, 'killed');
    // Halfway: its temp dir holds part of the padding.
    const partial = async () => {
      for (const name of (await readdir(imagesDir(cache)).catch(() => [] as string[])).filter((n) => n.startsWith(TEMP_PREFIX))) {
        const size = await readFile(join(imagesDir(cache), name, 'rootfs', 'padding')).then((b) => b.length, () => 0);
        if (size > 0 && size < PADDING_BYTES) return true;
      }
      return false;
    };
    const end = Date.now() + 60_000;
    while (!(await partial()) && Date.now() < end) await sleep(20);
    killed.child.kill('SIGKILL');
    await killed.child;
    const left = await readdir(imagesDir(cache));
    expect(left.length).toBe(1);
    expect(left[0]).toMatch(new RegExp(`^\\${TEMP_PREFIX}${killed.child.pid}-`));

    const later = startRun(matrix, cache, 'later');
    const result = await later.child;
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect((await verdictsOf(later.json))['image/time zone is UTC']).toBe('passed');
    const entries = await readdir(imagesDir(cache));
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(await tempDirsIn(cache)).toEqual([]);
  });

  it.skipIf(!existsSync(join(defaultSourcesDir(), 'musl_1.2.3.orig.tar.gz')))('an image build SIGKILLed while it compiles leaves no image a later run would use', async () => {
    const cache = await mkdtemp(join(scratch, 'build-'));
    // Its own process group, so the kill takes make and the compilers along, as an OOM kill of the job would.
    const build = execa('node', [BIN, 'build-images', '--arch', 'aarch64', '--sources', defaultSourcesDir()], { reject: false, env: { HARNESS_CACHE: cache }, detached: true });
    const building = join(cache, 'images');
    const compiling = async () => {
      for (const name of await readdir(building).catch(() => [] as string[])) {
        if (existsSync(join(building, name, 'src', 'musl-build'))) return true;
      }
      return false;
    };
    const end = Date.now() + 120_000;
    while (!(await compiling()) && Date.now() < end) await sleep(50);
    process.kill(-build.pid!, 'SIGKILL');
    await build;
    expect((await readdir(building)).every((name) => name.startsWith(`${TEMP_PREFIX}${build.pid}-`))).toBe(true);
    expect(await findBuiltImage(aarch64, cache)).toBeUndefined();
    // The next build (or run) sweeps the dead process's temp dir before it starts its own.
    await removeStaleTempDirs(building);
    expect(await readdir(building)).toEqual([]);
  });
});
