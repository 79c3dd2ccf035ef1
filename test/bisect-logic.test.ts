// The pure parts of bisecting: the search with skips, judging a run from its results, the
// version order of a glob, image references. No QEMU, no root.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bisectExitCode, judgeRun } from '../harness/bisect/judge.ts';
import { termOf } from '../harness/bisect/log.ts';
import { maxSearchSteps, nextIndex, outcome, record, startSearch, type SearchOutcome, type Term } from '../harness/bisect/search.ts';
import { compareVersions, readSeries } from '../harness/bisect/series.ts';
import { exactGrep, parseCaseId } from '../harness/bisect/step.ts';
import type { CaseResult, RunResults } from '../harness/results.ts';
import { IMAGE_CHECK_CASE } from '../harness/run.ts';
import { resolveImageReference } from '../harness/rootfs/reference.ts';

/** Runs a whole search over `terms` (the truth per index); returns the outcome and the indices judged. */
function simulate(terms: Term[]): { result: SearchOutcome; judged: number[] } {
  let search = startSearch(terms.length);
  const judged: number[] = [];
  for (let i = nextIndex(search); i !== undefined; i = nextIndex(search)) {
    judged.push(i);
    search = record(search, i, terms[i]!);
  }
  return { result: outcome(search), judged };
}

const series = (size: number, firstNew: number): Term[] => Array.from({ length: size }, (_, i) => (i >= firstNew ? 'new' : 'old'));

describe('the series search', () => {
  it('finds every boundary in at most ceil(log2(n-1)) steps once the ends are known', () => {
    for (const size of [2, 3, 10, 17, 33]) {
      for (let first = 1; first < size; first++) {
        const { result, judged } = simulate(series(size, first));
        expect(result).toEqual({ kind: 'found', lastOld: first - 1, firstNew: first });
        expect(judged.length).toBeLessThanOrEqual(maxSearchSteps(size));
      }
    }
  });

  it('skips what cannot be judged and tries a neighbour, as git does', () => {
    const terms = series(10, 6);
    terms[4] = 'skip';
    const { result, judged } = simulate(terms);
    expect(judged[0]).toBe(4);
    expect(judged[1]).toBe(5);
    expect(result).toEqual({ kind: 'found', lastOld: 5, firstNew: 6 });
  });

  it('names every candidate when only skipped entries lie at the boundary', () => {
    const terms = series(10, 6);
    terms[5] = 'skip';
    terms[4] = 'skip';
    expect(simulate(terms).result).toEqual({ kind: 'ambiguous', lastOld: 3, candidates: [4, 5, 6] });
  });

  it('maps pass and fail to old and new by direction', () => {
    expect([termOf('pass', 'first-bad'), termOf('fail', 'first-bad'), termOf('skip', 'first-bad')]).toEqual(['old', 'new', 'skip']);
    expect([termOf('pass', 'first-fixed'), termOf('fail', 'first-fixed')]).toEqual(['new', 'old']);
  });
});

function result(partial: Partial<CaseResult>): CaseResult {
  return { suite: 'busybox', case: 'rev and tac', isa: 's390x', image: 'i', imageDigest: '', verdict: 'passed', flaky: false, attempts: [], startedAt: '', durationMs: 1, ...partial };
}
const run = (...results: CaseResult[]): RunResults => ({ schemaVersion: 1, properties: {} as RunResults['properties'], results });
const check = (verdict: CaseResult['verdict'], message?: string) => result({ suite: 'image', case: IMAGE_CHECK_CASE, verdict, ...(message && { message }) });

describe('judging a run for git bisect run', () => {
  it('gives 0 when the selected cases pass, 1 when one fails, 125 when the image check fails or nothing ran', () => {
    expect(bisectExitCode(judgeRun(run(check('passed'), result({}))))).toBe(0);
    expect(bisectExitCode(judgeRun(run(check('passed'), result({}), result({ case: 'x', verdict: 'failed', message: 'expected a' }))))).toBe(1);
    const blocked = judgeRun(run(check('failed', 'image i labelled s390x: /bin/busybox is AArch64'), result({ verdict: 'skipped' })));
    expect(blocked).toMatchObject({ verdict: 'skip', reason: 'image i labelled s390x: /bin/busybox is AArch64' });
    expect(bisectExitCode(blocked)).toBe(125);
    expect(judgeRun(run(check('passed')))).toMatchObject({ verdict: 'skip', absent: true });
    expect(judgeRun(run(check('passed'), result({ verdict: 'skipped', message: 'rev is compiled out' }))).reason).toMatch(/skipped: rev is compiled out/);
  });

  it('counts a known failure as a failure and narrows to one case ID', () => {
    expect(judgeRun(run(result({ verdict: 'known-failure' }))).verdict).toBe('fail');
    const both = run(result({}), result({ case: 'other', verdict: 'failed' }));
    expect(judgeRun(both, 'busybox/rev and tac').verdict).toBe('pass');
    expect(judgeRun(both, 'busybox/nope')).toMatchObject({ verdict: 'skip', absent: true });
  });

  it('selects exactly one case ID with --grep, special characters included', () => {
    const grep = exactGrep('busybox/sort -n (numeric) [x]');
    const body = /^\/(.*)\/$/.exec(grep)![1]!;
    expect(new RegExp(body).test('busybox/sort -n (numeric) [x]')).toBe(true);
    expect(new RegExp(body).test('busybox/sort -n (numeric) [x] 2')).toBe(false);
    expect(() => parseCaseId('rev and tac')).toThrow(/write <suite>\/<case>/);
    expect(() => parseCaseId('static/ok')).toThrow(/static suite/);
  });
});

describe('series and references', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bisect-logic-'));
    for (const n of [1, 2, 9, 10, 11]) await writeFile(join(dir, `img-${n}.tar.gz`), 'x');
    await mkdir(join(dir, 'layout'));
    await writeFile(join(dir, 'layout', 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await mkdir(join(dir, 'rootfs'));
    await writeFile(join(dir, 'img-2.tar.gz.sha512'), `${'a'.repeat(128)}  img-2.tar.gz\n`);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('sorts a glob by version, not by characters', async () => {
    expect(['1.2.10', '1.2.9', '1.10.0', '1.2.9-rc1'].sort(compareVersions)).toEqual(['1.2.9-rc1', '1.2.9', '1.2.10', '1.10.0']);
    const found = await readSeries(join(dir, 'img-*.tar.gz'));
    expect(found.map((entry) => entry.ref.split('/').pop())).toEqual(['img-1.tar.gz', 'img-2.tar.gz', 'img-9.tar.gz', 'img-10.tar.gz', 'img-11.tar.gz']);
    expect(found[1]!.source).toMatchObject({ kind: 'tarball', sha512: 'a'.repeat(128) });
  });

  it('reads a series file with comments, relative paths and every kind of reference', async () => {
    await writeFile(join(dir, 'series.txt'), '# oldest first\nimg-1.tar.gz\n\nlayout  # an OCI layout\noci:layout:v2\nrootfs\ndocker-archive:img-9.tar.gz\n');
    const found = await readSeries(join(dir, 'series.txt'));
    expect(found.map((entry) => entry.source.kind)).toEqual(['tarball', 'oci', 'oci', 'directory', 'docker-archive']);
    expect(found[2]!.source).toMatchObject({ kind: 'oci', tag: 'v2' });
  });

  it('rejects bad series with one line naming the file and line', async () => {
    await writeFile(join(dir, 'bad.txt'), 'img-1.tar.gz\nmissing.tar.gz\n');
    await expect(readSeries(join(dir, 'bad.txt'))).rejects.toThrow(`${join(dir, 'bad.txt')}:2: image ${join(dir, 'missing.tar.gz')} does not exist`);
    await writeFile(join(dir, 'one.txt'), 'img-1.tar.gz\n');
    await expect(readSeries(join(dir, 'one.txt'))).rejects.toThrow(/at least two images/);
    await expect(readSeries(join(dir, 'nothing-*.tar'))).rejects.toThrow(/matches nothing/);
    await expect(resolveImageReference('https://example.org/rootfs.tar.gz', dir)).rejects.toThrow(/cannot fetch/);
    await expect(resolveImageReference('oci:img-1.tar.gz', dir)).rejects.toThrow(/must be a directory/);
  });
});
