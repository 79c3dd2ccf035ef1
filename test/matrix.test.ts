// Matrices and the plan: pure logic over YAML fixtures (test/fixtures/matrix/) and the
// shipped matrices; the test cases fed to the planner are data, as suites make them.
import { existsSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TestCase } from '../harness/case.ts';
import { EXIT_BAD_INPUT, HarnessError } from '../harness/errors.ts';
import { ISAS, isaByName } from '../harness/isa.ts';
import { formatJobList } from '../harness/matrix/list.ts';
import { loadMatrix, MatrixError } from '../harness/matrix/load.ts';
import { expandCases, interleave, interleaveByIsa, matchKnownFailure, planJobs, type Job } from '../harness/matrix/plan.ts';
import { SUITE_NAMES, type Matrix } from '../harness/matrix/schema.ts';
import { parseDuration, parseSize } from '../harness/matrix/units.ts';

const MATRICES = resolve(import.meta.dirname, '../matrices');
const FIXTURES = resolve(import.meta.dirname, 'fixtures/matrix');
const fixture = (name: string) => join(FIXTURES, name);
/** How the loader names a file in messages: relative to the working directory. */
const shown = (path: string) => relative(process.cwd(), path);
const ALPINE_DIR = resolve(import.meta.dirname, '../../shared/alpine-minirootfs/3.20.3');

async function loadError(path: string): Promise<MatrixError> {
  const error = await loadMatrix(path).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(MatrixError);
  return error as MatrixError;
}

function busyboxCase(name: string, extra: Partial<TestCase> = {}): TestCase {
  return { name, suite: 'busybox', argv: ['/bin/sh', '-c', `echo ${name}`], expect: { stdout: `${name}\n` }, ...extra };
}

const cases = [busyboxCase('date-utc'), busyboxCase('echo-basic', { timeoutSeconds: 4 }), busyboxCase('uname-m', { skip: 'applet compiled out' })];

const jobOf = (matrix: Matrix, isa: string, suite: string, image = 'built'): Job => {
  const job = planJobs(matrix).jobs.find((j) => j.isa.name === isa && j.suite.name === suite && j.image.name === image);
  if (!job) throw new Error(`no job ${image}/${isa}/${suite}`);
  return job;
};

describe('shipped matrices', () => {
  const files = readdirSync(MATRICES).filter((name) => name.endsWith('.yaml'));

  it.each(files)('%s loads and plans', async (name) => {
    const matrix = await loadMatrix(join(MATRICES, name));
    expect(matrix.name).toBe(name.replace(/\.yaml$/, ''));
    const plan = planJobs(matrix);
    const pairs = matrix.images.reduce((sum, image) => sum + image.isas.length, 0);
    expect(plan.jobs.length + plan.skipped.length).toBe(pairs * matrix.suites.length);
  });

  it('default covers every ISA and every suite but static and busybox-upstream (the release and CI matrices run it) on the built images', async () => {
    const matrix = await loadMatrix(join(MATRICES, 'default.yaml'));
    expect(matrix.isas).toEqual(ISAS);
    expect(matrix.images.map((image) => image.kind)).toEqual(['built']);
    expect(matrix.suites.map((suite) => suite.name)).toEqual(SUITE_NAMES.filter((name) => name !== 'static' && name !== 'busybox-upstream'));
    expect(planJobs(matrix).skipped).toEqual([]);
  });

  it('release is strict and covers the Alpine minirootfs where it exists', async () => {
    const matrix = await loadMatrix(join(MATRICES, 'release.yaml'));
    expect(matrix.retries).toBe(0);
    expect(matrix.suites.map((suite) => suite.name)).toEqual([...SUITE_NAMES]);
    const alpine = matrix.images.find((image) => image.kind === 'tarball');
    expect(alpine?.isas.map((isa) => isa.name)).toEqual(['x86_64', 'aarch64', 'armv7']);
    if (existsSync(ALPINE_DIR)) {
      expect(alpine?.unavailable).toEqual({});
      expect(alpine?.refs.aarch64).toMatchObject({ kind: 'tarball', path: join(ALPINE_DIR, 'alpine-minirootfs-3.20.3-aarch64.tar.gz'), sha512sums: join(ALPINE_DIR, 'checksums.sha512') });
    } else {
      console.warn(`matrix.test: ${ALPINE_DIR} is absent: checking that release.yaml skips the Alpine image instead`);
      expect(Object.keys(alpine?.unavailable ?? {})).toEqual(['x86_64', 'aarch64', 'armv7']);
    }
  });
});

describe('loadMatrix', () => {
  it('normalises every field of a valid matrix', async () => {
    const m = await loadMatrix(fixture('valid.yaml'));
    expect(m.file).toBe(fixture('valid.yaml'));
    expect(m.isas.map((isa) => isa.name)).toEqual(['x86_64', 'aarch64', 's390x']);
    const byName = Object.fromEntries(m.images.map((image) => [image.name, image]));
    expect(Object.keys(byName)).toEqual(['built', 'tarred', 'summed', 'layout', 'extracted']);
    // armv7 is listed by the image but not by the matrix: left out.
    expect(byName.tarred!.isas.map((isa) => isa.name)).toEqual(['x86_64', 'aarch64']);
    expect(byName.tarred!.refs.aarch64).toEqual({ kind: 'tarball', path: fixture('rootfs/rootfs-aarch64.tar.gz'), sha512: expect.stringMatching(/^[0-9a-f]{128}$/), sha512sums: undefined });
    expect(byName.summed!.refs.x86_64).toMatchObject({ sha512sums: fixture('rootfs/checksums.sha512') });
    expect(byName.layout!.refs.s390x).toEqual({ kind: 'oci', layout: fixture('oci-layout'), tag: 'v1' });
    expect(byName.extracted!.refs.s390x).toEqual({ kind: 'directory', path: fixture('static/s390x') });
    expect(m.suites).toEqual([
      { name: 'image', settings: { sizeBudgetBytes: 1.5 * 1024 * 1024 }, optional: false, unavailable: {} },
      { name: 'busybox', settings: {}, optional: false, unavailable: {} },
      { name: 'static', settings: { path: fixture('static/{arch}') }, optional: false, unavailable: {} },
    ]);
    expect(m.timeouts).toEqual({ caseMs: 90_000, suiteMs: 2 * 3_600_000 });
    expect([m.retries, m.jobs, m.failFast]).toEqual([2, 3, true]);
    expect(m.knownFailures[0]!.isas).toEqual([isaByName('s390x'), isaByName('aarch64')]);
    expect(m.knownFailures[1]).toEqual({ test: 'static/hello', image: 'tarred', reason: 'tarball lacks it' });
  });

  it('reports every problem at once as file:line: field: message', async () => {
    const error = await loadError(fixture('errors.yaml'));
    expect(error.exitCode).toBe(EXIT_BAD_INPUT);
    const file = shown(fixture('errors.yaml'));
    const sizeHint = 'write bytes or a number with a unit (B, kB, MB, GB, KiB, MiB, GiB), e.g. 1.2MB';
    const durationHint = "write a number with a unit (ms, s, m, h), e.g. '30s' or '1m30s'";
    expect(error.message.split('\n')).toEqual([
      `${file}:2: arches[1]: unknown ISA 'arm64v9' (did you mean 'aarch64'?); known: ${ISAS.map((isa) => isa.name).join(', ')}`,
      `${file}:2: arches[3]: 'amd64' is x86_64, listed already`,
      `${file}:3: imgaes: unknown key 'imgaes' (did you mean 'images'?); known: name, description, arches, images, suites, timeouts, limits, retries, jobs, fail_fast, known_failures`,
      `${file}:7: images[1].tarball: ${shown(fixture('missing/alpine-x86_64.tar.gz'))} does not exist (for x86_64)`,
      `${file}:7: images[1].tarball: ${shown(fixture('missing/alpine-aarch64.tar.gz'))} does not exist (for aarch64)`,
      `${file}:8: images[1].sha512.x86_64: 'abc123' is not a sha512: expected 128 hex digits, got 6 characters`,
      `${file}:8: images[1].sha512: no sha512 for aarch64; give one for each ISA the image serves`,
      `${file}:9: images[2]: duplicate image name 'alpine' (first at line 6); give each image its own name`,
      `${file}:10: images[2].directory: '/nonexistent/rootfs' has no {arch} but serves x86_64, aarch64; add {arch} or list one ISA in arches`,
      `${file}:10: images[2].directory: /nonexistent/rootfs does not exist`,
      `${file}:11: images[3]: unknown image 'busybox'; write 'built' or a mapping { name, tarball | directory | oci | docker-archive | registry }`,
      `${file}:13: suites.busybx: unknown suite 'busybx' (did you mean 'busybox'?); known: ${SUITE_NAMES.join(', ')}`,
      `${file}:14: suites.image.size_budget: '1.2XB' is not a size; ${sizeHint}`,
      `${file}:15: suites.static.path: required: a directory per ISA, e.g. path: './static/{arch}'`,
      `${file}:16: timeouts.case: 30 is not a duration; ${durationHint}`,
      `${file}:16: timeouts.suite: '2 weeks' is not a duration; ${durationHint}`,
      `${file}:17: retries: expected a whole number of retries (0 or more); got -1`,
      `${file}:18: jobs: expected 'auto' or a whole number of cases run at once (1 or more); got "many"`,
      `${file}:19: fail_fast: expected true or false; got "no"`,
      `${file}:21: known_failures[0].reason: required: why it fails, for whoever reads the report (e.g. the QEMU bug)`,
      `${file}:22: known_failures[1].test: unknown suite 'muls' (did you mean 'musl'?); known: ${SUITE_NAMES.join(', ')}`,
      `${file}:22: known_failures[1].link: 'ftp://x' is not an http(s) URL`,
    ]);
  });

  it('reports a YAML syntax error with its line', async () => {
    const error = await loadError(fixture('syntax.yaml'));
    expect(error.issues).toHaveLength(1);
    expect(error.message).toMatch(new RegExp(`^${shown(fixture('syntax.yaml'))}:3: YAML syntax: `));
  });

  it('keeps a YAML syntax error on one line when yaml quotes source holding a newline', async () => {
    // Found by test/properties.test.ts (seed -716949226): "\\U" takes the next 8 characters, newline included.
    const error = await loadError(fixture('syntax-escape.yaml'));
    expect(error.message).toBe(`${shown(fixture('syntax-escape.yaml'))}:1: YAML syntax: Invalid escape sequence \\U`);
  });

  it('says what to do when the file cannot be read', async () => {
    await expect(loadMatrix(fixture('absent.yaml'))).rejects.toThrow(
      new HarnessError(`${shown(fixture('absent.yaml'))}: cannot read the matrix (ENOENT); give the path of a matrix YAML file, e.g. matrices/default.yaml`),
    );
  });

  it('records why optional entries are unavailable instead of failing', async () => {
    const m = await loadMatrix(fixture('optional.yaml'));
    const partial = m.images.find((image) => image.name === 'partial')!;
    expect(Object.keys(partial.unavailable)).toEqual(['armv7']);
    expect(partial.unavailable.armv7).toBe(`${shown(fixture('rootfs/rootfs-armv7.tar.gz'))} does not exist`);
    // The tarball and its checksum file are both absent: the first missing path is the reason.
    expect(m.images.find((image) => image.name === 'gone')!.unavailable).toEqual({ x86_64: `${shown(fixture('no-such-dir/rootfs-x86_64.tar.gz'))} does not exist` });
    expect(m.suites.find((suite) => suite.name === 'static')!.unavailable).toEqual({ armv7: `${shown(fixture('static/armv7'))} does not exist` });
  });
});

describe('units', () => {
  it.each([['500ms', 500], ['30s', 30_000], ['2m', 120_000], ['1h', 3_600_000], ['1m30s', 90_000], ['1.5s', 1500]])('duration %s', (text, ms) => {
    expect(parseDuration(text)).toEqual({ value: ms });
  });
  it.each([[30], ['30'], ['2 weeks'], ['0s'], ['s'], ['']])('duration %j is refused', (input) => {
    expect(parseDuration(input)).toHaveProperty('error');
  });
  it.each([[1_200_000, 1_200_000], ['1.2MB', 1_200_000], ['900kB', 900_000], ['1MiB', 1_048_576], ['64 KiB', 65_536], ['1200000', 1_200_000]])('size %j', (input, bytes) => {
    expect(parseSize(input)).toEqual({ value: bytes });
  });
  it.each([['1.2XB'], [-5], ['0'], [true], ['MB']])('size %j is refused', (input) => {
    expect(parseSize(input)).toHaveProperty('error');
  });
});

describe('planJobs', () => {
  it('expands image x ISA x suite, interleaved across ISAs, with per-ISA timeouts and settings', async () => {
    const m = await loadMatrix(fixture('valid.yaml'));
    const { jobs, skipped } = planJobs(m);
    expect(skipped).toEqual([]);
    expect(jobs).toHaveLength(m.images.reduce((sum, image) => sum + image.isas.length, 0) * m.suites.length);
    expect(new Set(jobs.map((job) => job.id)).size).toBe(jobs.length);
    expect(jobs.slice(0, 3).map((job) => job.isa.name)).toEqual(['x86_64', 'aarch64', 's390x']);
    const s390x = jobOf(m, 's390x', 'static', 'extracted');
    expect(s390x.caseTimeoutMs).toBe(90_000 * isaByName('s390x').timeoutMultiplier);
    expect(s390x.suiteTimeoutMs).toBe(7_200_000 * isaByName('s390x').timeoutMultiplier);
    expect(s390x.settings).toEqual({ path: fixture('static/s390x') });
    expect(s390x.ref).toEqual({ kind: 'directory', path: fixture('static/s390x') });
    expect(s390x.retries).toBe(2);
    expect(jobOf(m, 'aarch64', 'image').settings).toEqual({ sizeBudgetBytes: 1_572_864 });
  });

  it('narrows by ISA (any alias), suite and image, keeping the matrix order', async () => {
    const m = await loadMatrix(fixture('valid.yaml'));
    const jobs = planJobs(m, { arches: ['arm64,s390x'], suites: ['static', 'image'], images: ['built'] }).jobs;
    expect(jobs.map((job) => job.id)).toEqual(['built/aarch64/image', 'built/s390x/image', 'built/aarch64/static', 'built/s390x/static']);
    expect(planJobs(m, { images: ['tarred'] }).jobs.every((job) => job.image.name === 'tarred')).toBe(true);
  });

  it.each([
    [{ arches: ['sparc'] }, `--arch: unknown ISA 'sparc'; known: ${ISAS.map((isa) => isa.name).join(', ')}`],
    [{ arches: ['riscv'] }, "--arch: 'riscv' is not in this matrix; it covers x86_64, aarch64, s390x"],
    [{ suites: ['busybx'] }, `--suite: unknown suite 'busybx' (did you mean 'busybox'?); known: ${SUITE_NAMES.join(', ')}`],
    [{ suites: ['musl'] }, "--suite: 'musl' is not in this matrix; it covers image, busybox, static"],
    [{ images: ['tared'] }, "--image: unknown image 'tared' (did you mean 'tarred'?); known: built, tarred, summed, layout, extracted"],
    [{ grep: '/(unclosed/' }, /^--grep: \/\(unclosed\/ is not a valid regular expression/],
  ])('refuses filter %j', async (filters, message) => {
    const m = await loadMatrix(fixture('valid.yaml'));
    expect(() => planJobs(m, filters)).toThrow(HarnessError);
    expect(() => planJobs(m, filters)).toThrow(message);
  });

  it('turns optional entries with absent files into skipped jobs with the reason', async () => {
    const m = await loadMatrix(fixture('optional.yaml'));
    const { jobs, skipped } = planJobs(m);
    expect(skipped.map((job) => job.id).sort()).toEqual(['built/armv7/static', 'gone/x86_64/busybox', 'gone/x86_64/static', 'partial/armv7/busybox', 'partial/armv7/static']);
    expect(jobs.length + skipped.length).toBe((3 + 3 + 1) * 2);
    expect(skipped.find((job) => job.id === 'partial/armv7/static')!.reason).toBe(
      `optional image 'partial' is absent for armv7: ${shown(fixture('rootfs/rootfs-armv7.tar.gz'))} does not exist`,
    );
    expect(skipped.find((job) => job.id === 'built/armv7/static')!.reason).toMatch(/^optional suite 'static' has nothing for armv7: /);
  });
});

describe('expandCases', () => {
  it('selects by case-insensitive substring or /regex/ over <suite>/<case> and the ISA', async () => {
    const m = await loadMatrix(fixture('valid.yaml'));
    const x86 = jobOf(m, 'x86_64', 'busybox');
    const s390x = jobOf(m, 's390x', 'busybox');
    const names = (job: Job, grep?: string) => expandCases(job, cases, { grep }).map((planned) => planned.test);
    expect(names(x86)).toEqual(['busybox/date-utc', 'busybox/echo-basic', 'busybox/uname-m']);
    expect(names(x86, 'ECHO')).toEqual(['busybox/echo-basic']);
    expect(names(x86, '/^busybox\\/(date|uname)/')).toEqual(['busybox/date-utc', 'busybox/uname-m']);
    expect(names(x86, '/ECHO/')).toEqual([]);
    expect(names(x86, '/ECHO/i')).toEqual(['busybox/echo-basic']);
    expect(names(s390x, 'S390')).toHaveLength(cases.length);
    expect(names(x86, 's390')).toEqual([]);
  });

  it('scales timeouts by the ISA and attaches known failures', async () => {
    const m = await loadMatrix(fixture('valid.yaml'));
    const s390x = expandCases(jobOf(m, 's390x', 'busybox'), cases);
    const multiplier = isaByName('s390x').timeoutMultiplier;
    expect(s390x.map((planned) => planned.timeoutMs)).toEqual([90_000 * multiplier, 4000 * multiplier, 90_000 * multiplier]);
    expect(s390x.map((planned) => planned.knownFailure?.reason)).toEqual(['clock quirk', undefined, 'everywhere']);
    const x86 = expandCases(jobOf(m, 'x86_64', 'busybox'), cases);
    expect(x86.map((planned) => planned.knownFailure?.reason)).toEqual([undefined, undefined, 'everywhere']);
  });
});

describe('interleave', () => {
  it('takes one from each list in turn', () => {
    expect(interleave([['a1', 'a2', 'a3'], ['b1'], [], ['c1', 'c2']])).toEqual(['a1', 'b1', 'c1', 'a2', 'c2', 'a3']);
    expect(interleave([])).toEqual([]);
  });

  it('round-robins planned cases across ISAs, keeping each ISA in order', async () => {
    const m = await loadMatrix(fixture('valid.yaml'));
    const planned = ['x86_64', 'aarch64'].flatMap((isa) => expandCases(jobOf(m, isa, 'busybox'), cases.slice(0, 2)));
    expect(interleaveByIsa(planned).map((p) => `${p.job.isa.name}:${p.testCase.name}`)).toEqual([
      'x86_64:date-utc', 'aarch64:date-utc', 'x86_64:echo-basic', 'aarch64:echo-basic',
    ]);
  });
});

describe('matchKnownFailure', () => {
  it('matches globs on <suite>/<case>, narrowed by ISA and image', async () => {
    const m = await loadMatrix(fixture('valid.yaml'));
    const [s390x, x86, arm64] = ['s390x', 'x86_64', 'arm64'].map(isaByName) as [ReturnType<typeof isaByName>, ReturnType<typeof isaByName>, ReturnType<typeof isaByName>];
    expect(matchKnownFailure(m, 'busybox', 'date-utc', s390x)?.reason).toBe('clock quirk');
    expect(matchKnownFailure(m, 'busybox', 'date-utc', arm64)?.reason).toBe('clock quirk');
    expect(matchKnownFailure(m, 'busybox', 'date-utc', x86)).toBeUndefined();
    expect(matchKnownFailure(m, 'busybox', 'date', s390x)).toBeUndefined();
    expect(matchKnownFailure(m, 'musl', 'uname-m', x86)?.reason).toBe('everywhere');
    expect(matchKnownFailure(m, 'static', 'hello', x86, 'tarred')?.reason).toBe('tarball lacks it');
    expect(matchKnownFailure(m, 'static', 'hello', x86, 'built')).toBeUndefined();
    expect(matchKnownFailure(m, 'static', 'hello', x86)).toBeUndefined();
  });
});

describe('formatJobList', () => {
  it('lists one line per ISA x image x test, grouped, then counts per ISA and suite', async () => {
    const m = await loadMatrix(fixture('optional.yaml'));
    const { jobs, skipped } = planJobs(m);
    const rows = interleaveByIsa(jobs.flatMap((job) => expandCases(job, cases)));
    const lines = formatJobList(rows, skipped).split('\n');
    const listed = lines.slice(0, rows.length + skipped.length);
    expect(lines[listed.length]).toBe('');
    // Grouped by ISA in matrix order although the rows came interleaved; skipped jobs in their group.
    const isaOfLine = listed.map((line) => line.split(/\s+/)[0]);
    expect(isaOfLine.filter((isa, i) => isa !== isaOfLine[i - 1])).toEqual(m.isas.map((isa) => isa.name));
    expect(listed[0]).toMatch(/^x86_64\s+built\s+busybox\/date-utc$/);
    expect(listed.some((line) => /uname-m\s+skipped: applet compiled out$/.test(line))).toBe(true);
    for (const job of skipped) {
      expect(listed).toContainEqual(expect.stringMatching(new RegExp(`^${job.isa.name}\\s+${job.image}\\s+${job.suite}/\\*\\s+skipped: optional `)));
    }
    const table = lines.slice(listed.length + 1);
    expect(table[0]!.split(/\s+/)).toEqual(['ISA', 'busybox', 'static', 'total']);
    const totals = table.find((line) => line.startsWith('total'))!.split(/\s+/);
    expect(totals).toEqual(['total', String(rows.filter((r) => r.job.suite.name === 'busybox').length), String(rows.filter((r) => r.job.suite.name === 'static').length), String(rows.length)]);
    const armv7 = table.find((line) => line.startsWith('armv7'))!.split(/\s+/);
    expect(armv7.at(-1)).toBe(String(rows.filter((r) => r.job.isa.name === 'armv7').length));
    expect(lines.at(-1)).toBe(`${rows.length} cases in ${jobs.length} jobs (${jobs.length} skipped, 0 known failures); ${skipped.length} jobs skipped`);
  });
});
