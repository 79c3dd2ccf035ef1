// armhf and loongarch64 for real: our images (built here, cold the first time) run every
// suite as their own hardware would, armhf on an ARM1176 (ARMv6) and loongarch64 under its
// own emulator; an ARMv7 image labelled armhf fails its ISA check naming both levels; and an
// ARMv7 binary run as armhf dies of SIGILL with the baseline CPU named.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readArmAttributes } from '../harness/elf.ts';
import { isaByName } from '../harness/isa.ts';
import { REPO_ROOT } from '../harness/paths.ts';
import type { CaseResult } from '../harness/results.ts';
import { runCase } from '../harness/run-case.ts';
import { prepareRun, runMatrix, type RunOutcome } from '../harness/run.ts';
import { judge } from '../harness/verdict.ts';
import { buildImages } from '../images/build.ts';

const NEW_ISAS = ['armhf', 'loongarch64'].map(isaByName);
/** ../shared beside the checkout, else the machine's /work/shared (a worktree elsewhere). */
const SHARED = [process.env.HARNESS_SHARED, join(REPO_ROOT, '..', 'shared'), '/work/shared'].find((dir) => dir && existsSync(dir)) ?? '';
const ALPINE_DIR = join(SHARED, 'alpine-minirootfs', '3.20.3');
const ALPINE_ARMV7 = join(ALPINE_DIR, 'alpine-minirootfs-3.20.3-armv7.tar.gz');
const IS_ROOT = process.getuid?.() === 0;
const rootReason = IS_ROOT ? '' : 'needs root (binfmt, namespaces)';
const alpineReason = existsSync(ALPINE_ARMV7) ? '' : `${ALPINE_ARMV7} is absent`;

let scratch: string;

async function writeMatrix(name: string, lines: string[]): Promise<string> {
  const path = join(scratch, `${name}.yaml`);
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

const failures = (results: CaseResult[]) => results.filter((r) => r.verdict === 'failed').map((r) => `${r.isa} ${r.suite}/${r.case}: ${r.message}`);

beforeAll(async () => {
  if (rootReason) return;
  scratch = await mkdtemp(join(tmpdir(), 'new-isas-'));
});

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe.skipIf(rootReason)(`our armhf and loongarch64 images${rootReason ? ` (skipped: ${rootReason})` : ''}`, () => {
  let outcome: RunOutcome;

  beforeAll(async () => {
    const built = await buildImages({ arches: NEW_ISAS });
    // The build itself checked that each busybox prints its uname -m on the baseline CPU.
    expect(Object.keys(built.images)).toEqual(['armhf', 'loongarch64']);
    const matrix = await writeMatrix('new-isas', [
      'arches: [armhf, loongarch64]',
      'images: [built]',
      'suites: { image: {}, busybox: {}, musl: {} }',
      'retries: 1',
      // No known failures: the SIGSEGVs of awk, diff, less and top on loongarch64 were an image
      // bug (clang and BusyBox's const ptr_to_globals, README), fixed in images/busybox.ts.
    ]);
    outcome = await runMatrix({ matrixPath: matrix, junitPath: join(scratch, 'new', 'junit.xml'), jsonPath: join(scratch, 'new', 'results.json'), progress: 'quiet' });
  });

  it('runs the image, busybox and musl suites on both, with nothing failed', () => {
    const { results } = outcome.results;
    expect(failures(results)).toEqual([]);
    for (const isa of ['armhf', 'loongarch64']) {
      for (const suite of ['image', 'busybox', 'musl']) {
        expect(results.filter((r) => r.isa === isa && r.suite === suite && r.verdict === 'passed').length, `${isa} ${suite}`).toBeGreaterThanOrEqual(suite === 'busybox' ? 300 : 10);
      }
    }
  });

  it('runs armhf as an ARMv6 (uname -m armv6l) and loongarch64 as itself', () => {
    const uname = (isa: string) => outcome.results.results.find((r) => r.isa === isa && r.case === 'uname -m names the ISA')!;
    expect(uname('armhf')).toMatchObject({ verdict: 'passed' });
    expect(uname('armhf').attempts.at(-1)!.stdout).toBe('armv6l\n');
    expect(uname('loongarch64')).toMatchObject({ verdict: 'passed' });
    expect(uname('loongarch64').attempts.at(-1)!.stdout).toBe('loongarch64\n');
  });

  it('builds an armhf busybox whose ARM attributes say ARMv6, Thumb-1, VFPv2', async () => {
    const prepared = await prepareRun({ matrixPath: await writeMatrix('armhf-only', ['arches: [armhf]', 'images: [built]', 'suites: { image: {} }']), build: false });
    const rootfs = prepared.images.get('built/armhf')!.facts.rootfs;
    expect(await readArmAttributes(join(rootfs, 'bin', 'busybox'))).toEqual({ cpuArch: 'v6KZ', thumb: 'Thumb-1', fpArch: 'VFPv2' });
  });
});

describe.skipIf(rootReason || alpineReason)(`Alpine 3.20.3's armv7 minirootfs labelled armhf${alpineReason ? ` (skipped: ${alpineReason})` : ''}`, () => {
  it('fails the ISA check before any test, naming both levels; the matrix is told armhf changed', async () => {
    const matrix = await writeMatrix('armv7-as-armhf', [
      'arches: [armhf]',
      'images:',
      `  - { name: alpine-armv7, tarball: '${ALPINE_ARMV7}', sha512sums: '${join(ALPINE_DIR, 'checksums.sha512')}' }`,
      'suites: { image: {}, busybox: {} }',
    ]);
    const notices: string[] = [];
    const outcome = await runMatrix({ matrixPath: matrix, junitPath: join(scratch, 'bad', 'junit.xml'), jsonPath: join(scratch, 'bad', 'results.json'), progress: 'quiet', onNotice: (line) => notices.push(line) });
    const { results } = outcome.results;
    const check = results.find((r) => r.case === 'ELF of the entry point matches the ISA')!;
    expect(check).toMatchObject({ isa: 'armhf', verdict: 'failed' });
    expect(check.message).toBe(
      "image alpine-armv7 labelled armhf: /bin/busybox needs ARMv7 (v7, Thumb-2, VFPv3-D16: Tag_CPU_arch v7, Tag_THUMB_ISA_use Thumb-2, Tag_FP_arch VFPv3-D16), "
        + "but armhf's baseline is ARMv6 (v6KZ, Thumb-1, VFPv2; QEMU CPU arm1176)",
    );
    expect(results.filter((r) => r.verdict === 'passed')).toEqual([]);
    expect(outcome.exitCode).toBe(1);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/armv7-as-armhf\.yaml:1: arches\[0\]: 'armhf' is now Alpine's ARMv6 port .*no longer an alias of armv7/);
  });

  it('an ARMv7 busybox run on the ARMv6 baseline dies of SIGILL, and the failure names the baseline CPU', async () => {
    const matrix = await writeMatrix('armv7', [
      'arches: [armv7]',
      'images:',
      `  - { name: alpine-armv7, tarball: '${ALPINE_ARMV7}', sha512sums: '${join(ALPINE_DIR, 'checksums.sha512')}' }`,
      'suites: { image: {} }',
    ]);
    const rootfs = (await prepareRun({ matrixPath: matrix, build: false })).images.get('alpine-armv7/armv7')!.facts.rootfs;
    const armhf = isaByName('armhf');
    const testCase = { name: 'busybox true', suite: 'adhoc', argv: ['/bin/busybox', 'true'], expect: {}, crossIsa: false };
    const attempt = await runCase(testCase, { rootfs, isa: armhf }, 30_000);
    expect(attempt.signal).toBe('SIGILL');
    expect(judge(testCase, attempt, 30_000, armhf).message)
      .toBe("illegal instruction: this binary needs a newer CPU than the ISA's baseline (arm1176)");
    // The same rootfs on its own ISA's baseline runs.
    expect(await runCase(testCase, { rootfs, isa: isaByName('armv7') }, 30_000)).toMatchObject({ exitCode: 0, signal: null });
  });
});
