// Bisecting a series of images for real (aarch64 under qemu-user): ten images made from the
// built rootfs, whose /etc/os-release breaks the image suite's os-release case from the
// seventh on, and whose fifth does not boot. Found in both directions; a planted flaky
// image is reported as a flaky boundary; bad input gets one line and exit 2.
import { cp, mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bisectImages } from '../harness/bisect/images.ts';
import type { BisectLog, BisectStep } from '../harness/bisect/log.ts';
import { isaByName } from '../harness/isa.ts';
import { REPO_ROOT } from '../harness/paths.ts';
import { buildImages } from '../images/build.ts';

const ISA = isaByName('aarch64');
const CASE = 'image/os-release names the release';
const IS_ROOT = process.getuid?.() === 0;
if (!IS_ROOT) console.warn('image bisect tests skipped: needs root (binfmt, namespaces)');

let scratch: string;
let cacheDir: string;
const tarball = (k: number) => join(scratch, 'series', `img-${k}.tar.gz`);
const flakyDir = () => join(scratch, 'flaky-7');

async function writeOsRelease(rootfs: string, k: number, broken: boolean): Promise<void> {
  // The case wants VERSION_ID without spaces: "3.20.k broken" fails it.
  await writeFile(join(rootfs, 'etc', 'os-release'), `NAME="Alpine-like"\nID=alpine\nVERSION_ID="3.20.${k}${broken ? ' broken' : ''}"\n`);
}

beforeAll(async () => {
  if (!IS_ROOT) return;
  scratch = await mkdtemp(join(tmpdir(), 'bisect-images-'));
  cacheDir = join(scratch, 'cache');
  const built = (await buildImages({ arches: [ISA] })).images[ISA.name]!;
  const base = join(scratch, 'base');
  await mkdir(base);
  await execa('tar', ['-xzf', built.rootfsTarGz, '-C', base]);
  await mkdir(join(scratch, 'series'));
  for (let k = 1; k <= 10; k++) {
    const dir = join(scratch, `img-${k}`);
    await cp(base, dir, { recursive: true, verbatimSymlinks: true });
    await writeOsRelease(dir, k, k >= 7);
    // The fifth keeps an ELF header (its ISA check passes) but cannot start.
    if (k === 5) await truncate(join(dir, 'bin', 'busybox'), 4096);
    await execa('tar', ['--numeric-owner', '-C', dir, '-czf', tarball(k), '.']);
  }
  await writeFile(join(scratch, 'reversed.txt'), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1].map((k) => `series/img-${k}.tar.gz`).join('\n'));
  await cp(join(scratch, 'img-7'), flakyDir(), { recursive: true, verbatimSymlinks: true });
  await writeOsRelease(flakyDir(), 7, false);
}, 600_000);

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const name = (ref: string) => ref.split('/').pop();
const summary = (steps: BisectStep[]) => steps.map((s) => `${s.role}:${name(s.subject)}:${s.term}`);

describe.skipIf(!IS_ROOT)('bisecting an image series on aarch64', () => {
  let firstBad: BisectLog;

  it('finds the seventh image as the first bad one, skipping the unbootable fifth', async () => {
    const reportDir = join(scratch, 'reports', 'first-bad');
    const { log, logPath } = await bisectImages({ images: join(scratch, 'series', 'img-*.tar.gz'), caseId: CASE, isa: ISA, reportDir, cacheDir });
    firstBad = log;
    expect(log.answer).toMatchObject({ kind: 'found', first: tarball(7), lastOld: tarball(6), index: 6 });
    expect(log.series!.map(name)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((k) => `img-${k}.tar.gz`));
    expect(summary(log.steps)).toEqual([
      'good end:img-1.tar.gz:old', 'bad end:img-10.tar.gz:new',
      'search:img-5.tar.gz:skip', 'search:img-6.tar.gz:old', 'search:img-8.tar.gz:new', 'search:img-7.tar.gz:new',
      ...Array(3).fill('rerun:img-6.tar.gz:old'), ...Array(3).fill('rerun:img-7.tar.gz:new'),
    ]);
    expect(log.steps[2]!.reason).toMatch(/does not boot/);
    expect(log.steps[5]!.reason).toMatch(/os-release names the release/);
    for (const step of log.steps) {
      expect(step.durationMs).toBeGreaterThan(0);
      expect(existsSync(step.results!)).toBe(true);
    }
    // The log is on disk beside the steps' run reports, and says the same.
    expect(JSON.parse(await readFile(logPath, 'utf8'))).toEqual(log);
    expect(logPath).toBe(join(reportDir, 'bisect.json'));
  });

  it('finds the same boundary as the first fixed image when the order is reversed, extracting nothing again', async () => {
    expect(firstBad).toBeDefined();
    const extracted = await readdir(join(cacheDir, 'rootfs'));
    const { log } = await bisectImages({ images: join(scratch, 'reversed.txt'), caseId: CASE, isa: ISA, direction: 'first-fixed', reportDir: join(scratch, 'reports', 'first-fixed'), cacheDir });
    expect(log.answer).toMatchObject({ kind: 'found', first: tarball(6), lastOld: tarball(7) });
    expect(log.answer.message).toMatch(/first fixed image: .*img-6\.tar\.gz.*last broken: .*img-7\.tar\.gz/);
    expect(log.steps.slice(0, 2).map((s) => `${name(s.subject)}:${s.verdict}`)).toEqual(['img-10.tar.gz:fail', 'img-1.tar.gz:pass']);
    // Every image it needed was extracted by the first bisect: the cache did not change.
    expect(await readdir(join(cacheDir, 'rootfs'))).toEqual(extracted);
  });

  it('reports a flaky boundary as flaky instead of naming a culprit', async () => {
    const lines = [1, 2, 3, 4, 5, 6].map((k) => tarball(k)).concat(flakyDir(), [8, 9, 10].map((k) => tarball(k)));
    await writeFile(join(scratch, 'flaky.txt'), lines.join('\n'));
    let flakyRuns = 0;
    // The planted flaky image passes and fails by turns, as a flaky case does.
    const onStep = async (step: BisectStep) => {
      if (step.subject !== flakyDir()) return;
      flakyRuns++;
      await writeOsRelease(flakyDir(), 7, flakyRuns % 2 === 1);
    };
    const { log } = await bisectImages({ images: join(scratch, 'flaky.txt'), caseId: CASE, isa: ISA, reportDir: join(scratch, 'reports', 'flaky'), cacheDir, onStep });
    expect(log.answer.kind).toBe('flaky');
    expect(log.answer.message).toMatch(/flaky boundary, no culprit named: .*flaky-7 was (old|new) in \d of 4 runs/);
    const flakyTerms = log.steps.filter((s) => s.subject === flakyDir()).map((s) => s.term);
    expect(flakyTerms).toEqual(['old', 'new', 'old', 'new']);
  });
});

describe.skipIf(!IS_ROOT)('bad input to bisect --images: one line, exit 2, no report left', () => {
  const cli = async (...args: string[]) => {
    const reportDir = join(scratch, 'reports', `bad-${Math.random().toString(36).slice(2)}`);
    const result = await execa('node', [join(REPO_ROOT, 'harness', 'bin.mjs'), 'bisect', ...args, '--report-dir', reportDir], { reject: false, env: { HARNESS_CACHE: cacheDir } });
    expect(existsSync(reportDir), `${reportDir} left behind`).toBe(false);
    return result;
  };
  const series = () => join(scratch, 'series', 'img-*.tar.gz');

  it('a case ID that matches nothing', async () => {
    const { exitCode, stderr } = await cli('--images', series(), '--case', 'image/no such case', '--arch', 'aarch64');
    expect(exitCode).toBe(2);
    expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(/^harness: --case 'image\/no such case' matches no case on aarch64 in the good end .*img-1\.tar\.gz/)]);
  });

  it('an ISA the series lacks', async () => {
    const { exitCode, stderr } = await cli('--images', series(), '--case', CASE, '--arch', 's390x');
    expect(exitCode).toBe(2);
    expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(/^harness: the good end .*img-1\.tar\.gz cannot be judged on s390x: image .* labelled s390x: \/bin\/busybox is AArch64/)]);
  });

  it('good and bad the wrong way round', async () => {
    const { exitCode, stderr } = await cli('--images', join(scratch, 'reversed.txt'), '--case', CASE, '--arch', 'aarch64');
    expect(exitCode).toBe(2);
    expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(/^harness: the good end .*img-10\.tar\.gz is bad .*wrong way round/)]);
  });
});

describe.skipIf(!IS_ROOT)('harness run --bisect: exit codes for git bisect run', () => {
  const runBisect = async (directory: string, arch = 'aarch64') => {
    const matrix = join(scratch, `bisect-run-${Math.random().toString(36).slice(2)}.yaml`);
    await writeFile(matrix, `arches: [${arch}]\nimages:\n  - { name: state, directory: '${directory}' }\nsuites: { image: {} }\n`);
    const out = join(scratch, 'bisect-run');
    return execa('node', [join(REPO_ROOT, 'harness', 'bin.mjs'), 'run', matrix, '--bisect', '--quiet', '--grep', 'os-release', '--json', join(out, 'results.json'), '--junit', join(out, 'junit.xml')], { reject: false });
  };

  it('0 when the selected cases pass, 1 when one fails', async () => {
    expect((await runBisect(join(scratch, 'img-6'))).exitCode).toBe(0);
    const failing = await runBisect(join(scratch, 'img-7'));
    expect(failing.exitCode).toBe(1);
    expect(failing.stdout).toMatch(/bisect: fail: aarch64 image\/os-release names the release/);
  });

  it('125 when the state cannot be judged: it does not boot, fails its ISA check, or its image is missing', async () => {
    const unbootable = await runBisect(join(scratch, 'img-5'));
    expect(unbootable.exitCode).toBe(125);
    expect(unbootable.stdout).toMatch(/bisect: skip: image state on aarch64 does not boot/);
    const mislabelled = await runBisect(join(scratch, 'img-6'), 's390x');
    expect(mislabelled.exitCode).toBe(125);
    expect(mislabelled.stdout).toMatch(/bisect: skip: image state labelled s390x: \/bin\/busybox is AArch64/);
    const missing = await runBisect(join(scratch, 'not-built'));
    expect(missing.exitCode).toBe(125);
    expect(missing.stderr).toMatch(/^harness: cannot judge this state: .*not-built/m);
  });
});
