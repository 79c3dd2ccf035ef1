// The pure logic after a run, on the reporters' fixture run and edited copies of it: the
// comparison's buckets, the qualification's rules, the what-failed list, the Markdown budget,
// and loadRun over files, run directories and shards. (Real runs: test/qualify.test.ts.)
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changesOf, compareRuns } from '../harness/diff.ts';
import { qualifyRun } from '../harness/qualify.ts';
import { whatFailed } from '../harness/report/failures.ts';
import { loadRun } from '../harness/report/load.ts';
import { markdownReport } from '../harness/report/markdown.ts';
import { verdictGrid } from '../harness/report/verdicts.ts';
import type { CaseResult, RunResults } from '../harness/results.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/report/run-results.json', import.meta.url));
let scratch: string;
let base: RunResults;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'compare-test-'));
  base = await loadRun([FIXTURE]);
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

function edited(run: RunResults, edit: (results: CaseResult[]) => CaseResult[]): RunResults {
  return { ...run, results: edit(structuredClone(run.results)) };
}
const find = (results: CaseResult[], isa: string, name: string) => results.find((r) => r.isa === isa && r.case === name) as CaseResult;

describe('compareRuns', () => {
  it('sorts every change into its bucket per ISA and suite', () => {
    const next = edited(base, (rs) => {
      Object.assign(find(rs, 's390x', 'sort-numeric'), { verdict: 'failed', message: 'stdout differs:\n-1\n+2' });
      Object.assign(find(rs, 'aarch64', 'sed-binary'), { verdict: 'passed', message: undefined });
      Object.assign(find(rs, 's390x', 'date-utc'), { verdict: 'passed' });
      find(rs, 'aarch64', 'static-hello').durationMs += 5000;
      return [...rs.filter((r) => r.case !== 'wget-usage' || r.isa !== 'x86_64'), { ...find(rs, 's390x', 'echo-basic'), case: 'echo-new' }];
    });
    const c = compareRuns(base, next, { durationThreshold: { percent: 50, floorMs: 1000 } });
    const names = (kind: Parameters<typeof changesOf>[1]) => changesOf(c, kind).map((ch) => `${ch.isa} ${ch.case}`);
    expect(names('regressions')).toEqual(['s390x sort-numeric']);
    expect(changesOf(c, 'regressions')[0]).toMatchObject({ suite: 'busybox', before: 'passed', after: 'failed', note: 'stdout differs:' });
    expect(names('fixed')).toEqual(['aarch64 sed-binary']);
    expect(names('knownChanged')).toEqual(['s390x date-utc']);
    expect(names('added')).toEqual(['s390x echo-new']);
    expect(names('gone')).toEqual(['x86_64 wget-usage']);
    expect(names('slower')).toEqual(['aarch64 static-hello']);
    expect(compareRuns(base, base).totals).toEqual({ regressions: 0, fixed: 0, knownChanged: 0, added: 0, gone: 0, slower: 0, changed: 0 });
  });
});

describe('qualifyRun', () => {
  const clean = () => edited(base, (rs) => rs.filter((r) => r.verdict !== 'failed' && r.verdict !== 'error').map((r) => ({ ...r, flaky: false })));

  it('qualifies a clean run against itself, listing unexpected passes without failing on them', () => {
    const run = clean();
    const q = qualifyRun({ run, baseline: run, baselineFile: 'base.json' });
    expect(q.reasons).toEqual([]);
    expect(q.qualified).toBe(true);
    expect(q.notes).toContain('unexpectedly passing known failure: aarch64 busybox/ping-localhost: raw sockets unsupported under qemu-user (https://example.invalid/known/17) (remove it from known_failures)');
  });

  it('fails on a flaky case, on a failure, and on an ISA x suite of the matrix that did not run', () => {
    const baseline = clean();
    const run = edited(baseline, (rs) => {
      Object.assign(find(rs, 's390x', 'threads-join'), { flaky: true });
      return rs.filter((r) => !(r.isa === 'x86_64' && r.suite === 'musl'));
    });
    const q = qualifyRun({ run, baseline, baselineFile: 'base.json', coverage: [{ isa: 'riscv64', suite: 'busybox' }] });
    expect(q.qualified).toBe(false);
    expect(q.reasons).toContain('flaky: s390x musl/threads-join: passed after 2 attempts (a retry is not a pass)');
    expect(q.reasons).toContain('not covered: x86_64 musl: no case of this ISA and suite ran');
    expect(q.reasons).toContain('not covered: riscv64 busybox: no case of this ISA and suite ran');
    expect(q.reasons.some((r) => r.startsWith('gone: x86_64 musl/static-hello'))).toBe(true);
    expect(qualifyRun({ run: base, baseline: base, baselineFile: 'b' }).reasons.filter((r) => r.startsWith('failing (also in the baseline)'))).toHaveLength(4);
  });

  it('refuses a baseline of another matrix as bad input (exit 2) naming the file', () => {
    const other = { ...base, properties: { ...base.properties, matrixName: 'release' } };
    expect(() => qualifyRun({ run: base, baseline: other, baselineFile: 'old/results.json' })).toThrow(/^old\/results\.json: a run of matrix 'release', not 'ci'/);
  });
});

describe('whatFailed', () => {
  it('lists each failing case once with its ISAs and the oracle vote', () => {
    const run = edited(base, (rs) => {
      for (const isa of ['x86_64', 's390x']) Object.assign(find(rs, isa, 'sort-numeric'), { verdict: 'failed', message: `cross-ISA oracle: output on ${isa} differs from aarch64, armv7, ppc64le\n--- a\n+++ b` });
      return rs;
    });
    expect(whatFailed(run.results)).toEqual([
      'busybox/sed-binary: aarch64',
      'busybox/sort-numeric: x86_64, s390x (oracle: differs from 3 ISAs)',
      'musl/big-output: x86_64',
      'musl/dlopen-static: s390x',
      'musl/getaddrinfo: aarch64 (error)',
    ]);
  });
});

describe('markdownReport', () => {
  it('stays within its budget with thousands of failures, the failures before the grid', () => {
    const template = find(base.results, 'aarch64', 'sed-binary');
    const many = edited(base, (rs) => [...rs, ...Array.from({ length: 5000 }, (_, i) => ({ ...template, case: `planted-${i}`, message: `stdout differs:\n${'-x\n+y\n'.repeat(40)}` }))]);
    const md = markdownReport(many);
    expect(Buffer.byteLength(md)).toBeLessThanOrEqual(64 * 1024);
    expect(md.indexOf('### What failed')).toBeLessThan(md.indexOf('### ISA × suite'));
    expect(md).toMatch(/more \(see the HTML report\)/);
    expect(md).toContain('### Host');
  });
});

describe('loadRun', () => {
  it('takes a run directory, and shards with a duplicate check naming the file', async () => {
    const dir = join(scratch, 'run');
    await mkdir(dir);
    await writeFile(join(dir, 'results.json'), JSON.stringify(base));
    expect((await loadRun([dir])).results).toHaveLength(base.results.length);
    const [a, b] = [join(scratch, 'a.json'), join(scratch, 'b.json')];
    await writeFile(a, JSON.stringify({ ...base, results: base.results.filter((r) => r.isa === 's390x') }));
    await writeFile(b, JSON.stringify({ ...base, results: base.results.filter((r) => r.isa !== 's390x') }));
    const merged = await loadRun([a, b]);
    expect(verdictGrid(merged.results).totals).toEqual(verdictGrid(base.results).totals);
    await expect(loadRun([a, a])).rejects.toThrow(`${a}: s390x busybox/echo-basic [built] is also in ${a}; pass each shard once`);
    await expect(loadRun([join(scratch, 'absent')])).rejects.toThrow(/^cannot read results .*absent \(ENOENT\)/);
  });
});
