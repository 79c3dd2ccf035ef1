// Triage for real: a run on aarch64, armv7 and s390x under qemu-user, then `harness triage`
// boots Debian's s390x kernel under qemu-system and runs the failures again. The musl
// file-times probe (qemu-user 7.2 s390x reads nanoseconds back as 0) is emulator-only; a sort
// planted to be wrong on s390x only stays failed, also under the real kernel; a listed
// "emulator bug" that is the image's fault is caught; passing cases are not run again.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isaByName } from '../harness/isa.ts';
import { REPO_ROOT } from '../harness/paths.ts';
import type { CaseResult, RunResults } from '../harness/results.ts';
import { runMatrix } from '../harness/run.ts';
import { kernelStatus } from '../harness/vm/kernels.ts';
import { systemEmulation } from '../harness/isa.ts';
import { findOnPath } from '../harness/host/probe.ts';
import { plantBigEndianSort } from './fixtures/planted-sort.ts';
import { expectJunitValid } from './fixtures/junit-schema.ts';

const s390x = isaByName('s390x');

async function skipReason(): Promise<string> {
  if (process.getuid?.() !== 0) return 'needs root (binfmt, namespaces)';
  if ((await kernelStatus(s390x)).state !== 'present') return 'the s390x kernel is not fetched: run harness setup --system';
  if (!(await findOnPath(systemEmulation(s390x)!.qemuSystem))) return 'qemu-system-s390x is missing: run harness setup --system';
  return '';
}
const reason = await skipReason();
if (reason) console.warn(`triage tests skipped: ${reason}`);

let scratch: string;

/** qemu-system processes booting a harness initramfs: after triage, none may be left. */
async function vmProcesses(): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replace(/\0/g, ' ');
    if (/qemu-system/.test(cmdline) && cmdline.includes('/harness-vm-')) found.push(`${pid} ${cmdline}`);
  }
  return found;
}

const find = (results: CaseResult[], isa: string, test: string) => results.find((r) => r.isa === isa && `${r.suite}/${r.case}` === test);

describe.skipIf(reason)('harness triage on real kernels under qemu-system', () => {
  let before: RunResults;
  let after: RunResults;
  let stdout: string;
  let exitCode: number | undefined;
  let wrongSortCase: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'triage-test-'));
    const planted = await plantBigEndianSort(scratch);

    // The listed "emulator bug" on a sort case is false: the image is what is broken.
    wrongSortCase = 'busybox/sort by key with separator';
    const matrix = join(scratch, 'triage.yaml');
    await writeFile(matrix, [
      'arches: [aarch64, armv7, s390x]',
      'images:',
      `  - { name: broken-sort, directory: '${planted}' }`,
      'suites: { busybox: {}, musl: {} }',
      'known_failures:',
      "  - { test: 'musl/file-times [empty root]', arch: s390x, emulator: true, reason: 'qemu-user 7.2 s390x stat returns tv_nsec 0' }",
      `  - { test: '${wrongSortCase}', arch: s390x, emulator: true, reason: 'claimed to be qemu-user; it is the image' }`,
    ].join('\n'));
    const json = join(scratch, 'run', 'results.json');
    const run = await runMatrix({ matrixPath: matrix, filters: { grep: '/sort|file-times/' }, jsonPath: json, junitPath: join(scratch, 'run', 'junit.xml'), progress: 'quiet' });
    before = run.results;
    const cli = await execa('node', [join(REPO_ROOT, 'harness', 'bin.mjs'), 'triage', join(scratch, 'run'), '--suggest'], { reject: false, all: true });
    stdout = cli.all ?? '';
    exitCode = cli.exitCode;
    after = JSON.parse(await readFile(json, 'utf8')) as RunResults;
  });

  afterAll(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('finds the qemu-user failures first', () => {
    expect(find(before.results, 's390x', 'musl/file-times')?.verdict).toBe('failed');
    expect(find(before.results, 's390x', 'musl/file-times [empty root]')?.verdict).toBe('known-failure');
    expect(find(before.results, 's390x', wrongSortCase)?.verdict).toBe('known-failure');
    expect(before.results.filter((r) => r.verdict === 'failed' && r.isa !== 's390x')).toEqual([]);
  });

  it('triages the s390x file-times probe emulator-only, with the evidence', () => {
    const fileTimes = find(after.results, 's390x', 'musl/file-times')!;
    expect(fileTimes.verdict).toBe('emulator-only');
    expect(fileTimes.triage?.outcome).toBe('emulator-only');
    expect(fileTimes.triage?.evidence).toMatch(/^fails under qemu-user 7\.2\.\S+, passes under qemu-system 7\.2\.\S+ with Linux 6\.1\.0-50-s390x s390x$/);
    expect(fileTimes.triage?.attempt?.exitCode).toBe(0);
    // The listed emulator bug is proven and stays a known failure.
    const listed = find(after.results, 's390x', 'musl/file-times [empty root]')!;
    expect(listed.verdict).toBe('known-failure');
    expect(listed.triage?.outcome).toBe('emulator-only');
  });

  it('keeps the planted big-endian sort bug failed, also under the real s390x kernel', () => {
    const planted = after.results.filter((r) => r.isa === 's390x' && r.suite === 'busybox' && r.case !== wrongSortCase && r.triage);
    expect(planted.length).toBeGreaterThan(0);
    for (const result of planted) {
      expect(result.verdict).toBe('failed');
      expect(result.message).toMatch(/also fails under a real s390x kernel \(qemu-system 7\.2\.\S+ with Linux 6\.1\.0-50-s390x s390x\)/);
    }
    const claimed = find(after.results, 's390x', wrongSortCase)!;
    expect(claimed.verdict).toBe('failed');
    expect(claimed.message).toMatch(/^not an emulator bug after all: listed as one \(claimed to be qemu-user; it is the image\), but it also fails under a real s390x kernel/);
    expect(exitCode).toBe(1);
  });

  it('runs nothing again that passed, and boots s390x only', () => {
    const passedBefore = before.results.filter((r) => r.verdict === 'passed');
    expect(passedBefore.length).toBeGreaterThan(10);
    for (const result of passedBefore) expect(find(after.results, result.isa, `${result.suite}/${result.case}`)).toEqual(result);
    expect(after.results.filter((r) => r.triage).every((r) => r.isa === 's390x')).toBe(true);
    expect(stdout).toMatch(/triage s390x: \d+ case\(s\) under qemu-system 7\.2\.\S+ with Linux 6\.1\.0-50-s390x; boot \d+\.\d s/);
    expect(stdout).not.toMatch(/triage (aarch64|armv7)/);
  });

  it('counts emulator-only apart in the summary and JUnit, and suggests the known-failure entry', async () => {
    expect(stdout).toMatch(/emulator-only/);
    expect(stdout).toContain("  - test: 'musl/file-times'\n    arch: s390x\n    image: broken-sort\n    emulator: true\n    reason: 'qemu-user 7.2.");
    const junit = join(scratch, 'run', 'junit.xml');
    await expectJunitValid(junit);
    const xml = await readFile(junit, 'utf8');
    expect(xml).toMatch(/<skipped message="emulator-only: fails under qemu-user 7\.2\.\S+, passes under qemu-system/);
    expect(xml).toMatch(/<skipped message="known failure: qemu-user 7\.2 s390x stat returns tv_nsec 0 \(triage: fails under qemu-user 7\.2\.\S+, passes under qemu-system/);
  });

  it('leaves no VM or temp dir behind', async () => {
    expect(await vmProcesses()).toEqual([]);
    expect((await readdir(tmpdir())).filter((name) => name.startsWith('harness-vm-'))).toEqual([]);
  });
});
