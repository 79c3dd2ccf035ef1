// Whole runs, for real: the built images of four ISAs (64-bit LE, 64-bit BE, 32-bit ARM,
// riscv64) through every suite; the real Alpine minirootfs through the image and busybox
// suites; broken images that must be caught; reports checked by xmllint and junitparser;
// nothing left behind.
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isaByName } from '../harness/isa.ts';
import { REPO_ROOT } from '../harness/paths.ts';
import { summarize } from '../harness/report/summary.ts';
import type { CaseResult } from '../harness/results.ts';
import { prepareRun, runMatrix, type RunOutcome } from '../harness/run.ts';
import { sandboxLeaks, snapshotHost } from '../harness/sandbox/index.ts';
import { buildImages, type BuildResult } from '../images/build.ts';
import { plantBigEndianSort } from './fixtures/planted-sort.ts';
import { expectJunitValid } from './fixtures/junit-schema.ts';

const FOUR_ISAS = ['aarch64', 's390x', 'armv7', 'riscv64'].map(isaByName);
const ALPINE_DIR = join(REPO_ROOT, '..', 'shared', 'alpine-minirootfs', '3.20.3');
const IS_ROOT = process.getuid?.() === 0;
const rootReason = IS_ROOT ? '' : 'needs root (binfmt, namespaces)';
if (rootReason) console.warn(`run tests skipped: ${rootReason}`);

let scratch: string;
let built: BuildResult;

/** A tiny static program per ISA for the static suite: one passes, one fails with output. */
const STATIC_OK = '#include <stdio.h>\nint main(void){ printf("static ok %d\\n", (int)sizeof(long)); return 0; }\n';
const STATIC_FAIL = '#include <stdio.h>\nint main(void){ printf("about to fail\\n"); return 3; }\n';

async function writeMatrix(name: string, body: string): Promise<string> {
  const path = join(scratch, `${name}.yaml`);
  await writeFile(path, body);
  return path;
}

function counts(results: CaseResult[], verdict: CaseResult['verdict']): number {
  return results.filter((r) => r.verdict === verdict).length;
}

async function junitparserCounts(path: string): Promise<{ tests: number; failures: number; errors: number; skipped: number }> {
  const script = [
    'import json, sys',
    'from junitparser import JUnitXml',
    'xml = JUnitXml.fromfile(sys.argv[1])',
    't = f = e = s = 0',
    'for suite in xml:',
    '    t += suite.tests; f += suite.failures; e += suite.errors; s += suite.skipped',
    'print(json.dumps({"tests": t, "failures": f, "errors": e, "skipped": s}))',
  ].join('\n');
  const { stdout } = await execa('/usr/bin/python3', ['-c', script, path]);
  return JSON.parse(stdout);
}

/** Running QEMU emulators: after a run, none may be left. */
async function emulatorProcesses(): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
    const exe = await readlink(`/proc/${pid}/exe`).catch(() => '');
    if (/\/qemu-[\w]+-static$/.test(exe)) found.push(`${pid} ${exe}`);
  }
  return found;
}

beforeAll(async () => {
  if (rootReason) return;
  scratch = await mkdtemp(join(tmpdir(), 'run-test-'));
  built = await buildImages({ arches: FOUR_ISAS });
  // The static suite's directory of user binaries, one per ISA, built with the ISA's musl toolchain.
  await writeFile(join(scratch, 'ok.c'), STATIC_OK);
  await writeFile(join(scratch, 'fail.c'), STATIC_FAIL);
  for (const isa of FOUR_ISAS) {
    const { cc, cflags } = built.images[isa.name]!.toolchain;
    const dir = join(scratch, 'static', isa.name);
    await mkdir(dir, { recursive: true });
    for (const name of ['ok', 'fail']) {
      await execa(cc, [...cflags, '-static', '-O2', '-o', join(dir, name), join(scratch, `${name}.c`)]);
    }
  }
});

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe.skipIf(rootReason)('a run of every suite on four ISAs of the built images', () => {
  let outcome: RunOutcome;
  let before: Awaited<ReturnType<typeof snapshotHost>>;

  beforeAll(async () => {
    const matrix = await writeMatrix('four', [
      'name: four-isas',
      'arches: [aarch64, s390x, armv7, riscv64]',
      'images: [built]',
      'suites:',
      '  image: { size_budget: 1.2MB }',
      '  busybox: {}',
      '  musl: {}',
      "  static: { path: './static/{arch}' }",
      'retries: 1',
      'known_failures:',
      "  - { test: 'musl/file-times*', arch: s390x, reason: 'qemu-user 7.2 s390x stat/fstat return tv_nsec 0' }",
      "  - { test: 'static/fail', reason: 'the test plants a failing binary' }",
    ].join('\n'));
    before = await snapshotHost();
    outcome = await runMatrix({ matrixPath: matrix, junitPath: join(scratch, 'four', 'junit.xml'), jsonPath: join(scratch, 'four', 'results.json'), progress: 'quiet' });
  });

  it('runs every suite on every ISA and passes (known failures aside)', () => {
    const { results } = outcome.results;
    for (const isa of FOUR_ISAS) {
      for (const suite of ['image', 'busybox', 'musl', 'static']) {
        const ran = results.filter((r) => r.isa === isa.name && r.suite === suite && r.verdict !== 'skipped');
        expect(ran.length, `${suite} on ${isa.name}`).toBeGreaterThan(0);
      }
    }
    const failed = results.filter((r) => r.verdict === 'failed' || r.verdict === 'error');
    expect(failed.map((r) => `${r.isa} ${r.suite}/${r.case}: ${r.message}`)).toEqual([]);
    expect(outcome.exitCode).toBe(0);
    // At least 100 busybox functional cases and a usage case per applet ran on each ISA.
    for (const isa of FOUR_ISAS) expect(results.filter((r) => r.isa === isa.name && r.suite === 'busybox' && r.verdict === 'passed').length).toBeGreaterThan(300);
  });

  it('reports the static binaries with their output, a failing one as a known failure', () => {
    const staticResults = outcome.results.results.filter((r) => r.suite === 'static');
    const ok = staticResults.filter((r) => r.case === 'ok');
    expect(ok.map((r) => r.verdict)).toEqual(['passed', 'passed', 'passed', 'passed']);
    expect(ok.find((r) => r.isa === 'armv7')!.attempts[0]!.stdout).toBe('static ok 4\n');
    expect(ok.find((r) => r.isa === 's390x')!.attempts[0]!.stdout).toBe('static ok 8\n');
    const fail = staticResults.filter((r) => r.case === 'fail');
    expect(fail.map((r) => r.verdict)).toEqual(['known-failure', 'known-failure', 'known-failure', 'known-failure']);
  });

  it('writes JUnit that the Jenkins schema accepts and junitparser counts like the summary', async () => {
    await expectJunitValid(outcome.junitPath);
    const totals = summarize(outcome.results).totals;
    const parsed = await junitparserCounts(outcome.junitPath);
    expect(parsed).toEqual({ tests: totals.total, failures: totals.failed, errors: totals.error, skipped: totals.skipped + totals.known });
    const json = JSON.parse(await readFile(outcome.jsonPath, 'utf8'));
    expect(json.results).toHaveLength(totals.total);
    const xml = await readFile(outcome.junitPath, 'utf8');
    expect(xml).toContain('classname="busybox.s390x"');
    expect(xml).toMatch(/name="qemu.version" value="7\.2/);
  });

  it('leaves no mount, process or temp dir behind', async () => {
    expect(sandboxLeaks(before, await snapshotHost())).toEqual({ mounts: [], processes: [], stagingDirs: [] });
    expect(await emulatorProcesses()).toEqual([]);
  });
});

describe.skipIf(rootReason || !existsSync(ALPINE_DIR))(`the real Alpine 3.20.3 minirootfs${existsSync(ALPINE_DIR) ? '' : ` (skipped: ${ALPINE_DIR} is absent)`}`, () => {
  it('passes the image and busybox suites on x86_64, aarch64 and armv7', async () => {
    const matrix = await writeMatrix('alpine', [
      'name: alpine',
      'arches: [x86_64, aarch64, armv7]',
      'images:',
      '  - name: alpine-3.20.3',
      `    tarball: '${ALPINE_DIR}/alpine-minirootfs-3.20.3-{arch}.tar.gz'`,
      `    sha512sums: '${ALPINE_DIR}/checksums.sha512'`,
      'suites:',
      '  image: { size_budget: 4MB }', // Alpine's minirootfs is 3.3-3.8 MB
      '  busybox: {}',
      'retries: 1',
    ].join('\n'));
    const outcome = await runMatrix({ matrixPath: matrix, junitPath: join(scratch, 'alpine', 'junit.xml'), jsonPath: join(scratch, 'alpine', 'results.json'), progress: 'quiet' });
    const { results } = outcome.results;
    const failed = results.filter((r) => r.verdict === 'failed');
    expect(failed.map((r) => `${r.isa} ${r.suite}/${r.case}: ${r.message}`)).toEqual([]);
    for (const isa of ['x86_64', 'aarch64', 'armv7']) expect(counts(results.filter((r) => r.isa === isa), 'passed')).toBeGreaterThan(300);
  });
});

describe.skipIf(rootReason)('broken images are caught, naming the ISA and the case', () => {
  it('an image labelled s390x that holds aarch64 binaries fails its ISA check and runs nothing', async () => {
    const aarch64Rootfs = (await prepareRun({ matrixPath: await writeMatrix('a64', 'arches: [aarch64]\nimages: [built]\nsuites: { image: {} }\n'), build: false })).images.get('built/aarch64')!.facts.rootfs;
    const matrix = await writeMatrix('mislabelled', [
      'arches: [s390x]',
      'images:',
      `  - { name: mislabelled, directory: '${aarch64Rootfs}' }`,
      'suites: { image: {}, busybox: {} }',
    ].join('\n'));
    const outcome = await runMatrix({ matrixPath: matrix, junitPath: join(scratch, 'bad1', 'junit.xml'), jsonPath: join(scratch, 'bad1', 'results.json'), progress: 'quiet' });
    const check = outcome.results.results.find((r) => r.case === 'ELF of the entry point matches the ISA')!;
    expect(check).toMatchObject({ isa: 's390x', verdict: 'failed' });
    expect(check.message).toMatch(/labelled s390x: \/bin\/busybox is AArch64/);
    expect(outcome.results.results.filter((r) => r.verdict === 'passed')).toEqual([]);
    expect(outcome.exitCode).toBe(1);
  });

  it('a sort that is wrong on big-endian only fails there, and nowhere else', async () => {
    const planted = await plantBigEndianSort(scratch);
    const matrix = await writeMatrix('bad-sort', [
      'arches: [aarch64, armv7, s390x]',
      'images:',
      `  - { name: broken-sort, directory: '${planted}' }`,
      'suites: { busybox: {} }',
    ].join('\n'));
    const outcome = await runMatrix({ matrixPath: matrix, filters: { grep: 'sort' }, junitPath: join(scratch, 'bad2', 'junit.xml'), jsonPath: join(scratch, 'bad2', 'results.json'), progress: 'quiet' });
    const failed = outcome.results.results.filter((r) => r.verdict === 'failed');
    expect(failed.length).toBeGreaterThan(0);
    expect(new Set(failed.map((r) => r.isa))).toEqual(new Set(['s390x']));
    expect(failed.some((r) => /sort/.test(r.case) && /cross-ISA oracle: output on s390x differs from aarch64, armv7/.test(r.message ?? ''))).toBe(true);
    expect(outcome.exitCode).toBe(1);
  });
});

describe.skipIf(rootReason)('Ctrl-C in the middle of a run', () => {
  it('stops, writes the reports, exits 130 and leaves nothing behind', async () => {
    const matrix = await writeMatrix('interrupted', 'arches: [aarch64, s390x]\nimages: [built]\nsuites: { busybox: {} }\n');
    const before = await snapshotHost();
    const json = join(scratch, 'interrupted', 'results.json');
    const child = execa('node', [join(REPO_ROOT, 'harness', 'bin.mjs'), 'run', matrix, '--quiet', '--json', json, '--junit', join(scratch, 'interrupted', 'junit.xml')], { reject: false });
    // Stop it once cases are running: a sandbox helper is alive.
    const deadline = Date.now() + 120_000;
    while ((await snapshotHost()).helperProcesses.size === before.helperProcesses.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1000));
    child.kill('SIGINT');
    const { exitCode } = await child;
    expect(exitCode).toBe(130);
    const results = JSON.parse(await readFile(json, 'utf8')).results as CaseResult[];
    expect(results.some((r) => r.verdict === 'passed')).toBe(true);
    expect(results.some((r) => r.message === 'not run: the run was interrupted')).toBe(true);
    expect(sandboxLeaks(before, await snapshotHost())).toEqual({ mounts: [], processes: [], stagingDirs: [] });
    expect(await emulatorProcesses()).toEqual([]);
  });
});
