// Sharding for real: the CI matrix plus the planted big-endian-only `sort` image, run once
// whole and once as 4 shards (balanced by the whole run's timings; one shard chosen by
// GitLab's variables through the CLI), then `harness merge`: the same cases, verdicts, known
// failures, flaky marks and oracle messages. Narrowed by --grep to keep it short, keeping five
// ISAs, two images, the oracle and a known failure.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isaByName } from '../harness/isa.ts';
import { REPO_ROOT } from '../harness/paths.ts';
import { readResultsJson } from '../harness/report/json.ts';
import { summarize } from '../harness/report/summary.ts';
import type { CaseResult, RunResults } from '../harness/results.ts';
import { runMatrix } from '../harness/run.ts';
import { buildImages } from '../images/build.ts';
import { plantBigEndianSort } from './fixtures/planted-sort.ts';
import { expectJunitValid } from './fixtures/junit-schema.ts';

const IS_ROOT = process.getuid?.() === 0;
const CLI = join(REPO_ROOT, 'harness', 'bin.mjs');
const GREP = '/^image\\/|^musl\\/(file-times|int64|qsort|static-elf)|^busybox\\/(sort|uniq|od|printf|cut|wc|sha256sum)/';
const SHARDS = 4;

let scratch: string;
let matrix: string;
let whole: RunResults;
const shardJson = (k: number) => join(scratch, `shard-${k}`, 'results.json');

const key = (r: CaseResult) => `${r.image} ${r.isa} ${r.suite}/${r.case}`;
/** What must be the same whichever way the run was cut. */
const verdictOf = (r: CaseResult) => ({ verdict: r.verdict, message: r.message, knownFailure: r.knownFailure, flaky: r.flaky });

async function harness(args: string[], env: Record<string, string> = {}) {
  return execa('node', [CLI, ...args], { reject: false, env: { ...env, CI: 'true' }, extendEnv: true });
}

beforeAll(async () => {
  if (!IS_ROOT) return;
  scratch = await mkdtemp(join(tmpdir(), 'shard-run-'));
  const ci = await readFile(join(REPO_ROOT, 'matrices', 'ci.yaml'), 'utf8');
  await buildImages({ arches: ['x86_64', 'aarch64', 's390x', 'armv7', 'riscv64'].map(isaByName) });
  const planted = await plantBigEndianSort(scratch);
  // The CI matrix with the planted image beside the built one, on the three ISAs it has.
  matrix = join(scratch, 'ci-planted.yaml');
  expect(ci).toContain('  - built\n');
  await writeFile(matrix, ci.replace('  - built\n', `  - built\n  - { name: broken-sort, directory: '${planted}', arches: [aarch64, armv7, s390x] }\n`));
  whole = (await runMatrix({ matrixPath: matrix, filters: { grep: GREP }, jsonPath: join(scratch, 'whole', 'results.json'), junitPath: join(scratch, 'whole', 'junit.xml'), progress: 'quiet' })).results;
  for (let k = 1; k <= SHARDS; k++) {
    const out = { jsonPath: shardJson(k), junitPath: join(scratch, `shard-${k}`, 'junit.xml') };
    if (k === 3) {
      // Through the CLI, K and N from GitLab's parallel: variables.
      const run = await harness(['run', matrix, '--grep', GREP, '--timings', join(scratch, 'whole'), '--quiet', '--json', out.jsonPath, '--junit', out.junitPath], { CI_NODE_INDEX: '3', CI_NODE_TOTAL: '4' });
      expect([0, 1], run.stderr).toContain(run.exitCode);
    } else {
      await runMatrix({ matrixPath: matrix, filters: { grep: GREP, shard: { index: k, total: SHARDS, source: '--shard' }, timings: join(scratch, 'whole', 'results.json') }, ...out, progress: 'quiet' });
    }
  }
}, 900_000);

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe.skipIf(!IS_ROOT)('the CI matrix with the planted image, whole and as 4 shards merged', () => {
  let merged: RunResults;
  let mergeRun: Awaited<ReturnType<typeof harness>>;
  const mergedJunit = () => join(scratch, 'merged', 'junit.xml');

  beforeAll(async () => {
    mergeRun = await harness(['merge', ...Array.from({ length: SHARDS }, (_, i) => join(scratch, `shard-${i + 1}`)), '--json', join(scratch, 'merged', 'results.json'), '--junit', mergedJunit()]);
    merged = await readResultsJson(join(scratch, 'merged', 'results.json'));
  });

  it('merges into the same cases, verdicts, known failures, flaky marks and oracle messages', () => {
    expect(mergeRun.stderr).toBe('');
    const wholeBy = new Map(whole.results.map((r) => [key(r), r]));
    const mergedBy = new Map(merged.results.map((r) => [key(r), r]));
    expect(merged.results).toHaveLength(mergedBy.size);
    expect([...mergedBy.keys()].sort()).toEqual([...wholeBy.keys()].sort());
    // A retry after a timeout is the machine's load, not the split: those flaky marks may differ.
    const timedOutFirst = (r: CaseResult) => r.attempts[0]?.timedOut === true;
    const differ = [...wholeBy].filter(([k, w]) => {
      const m = mergedBy.get(k)!;
      if (timedOutFirst(w) || timedOutFirst(m)) return w.verdict !== m.verdict;
      return JSON.stringify(verdictOf(w)) !== JSON.stringify(verdictOf(m));
    });
    expect(differ.map(([k, w]) => [k, verdictOf(w), verdictOf(mergedBy.get(k)!)])).toEqual([]);
    expect(summarize(merged).totals).toMatchObject({ ...summarize(whole).totals, durationMs: expect.any(Number), flaky: expect.any(Number) });
    expect(merged.results.filter((r) => r.verdict === 'known-failure').map(key)).toContain('built s390x musl/file-times');
    expect(merged.results.filter((r) => r.verdict === 'passed').length).toBeGreaterThan(150);
  });

  it('keeps the planted big-endian sort failure, named by the oracle, on s390x only', () => {
    const failed = merged.results.filter((r) => r.verdict === 'failed');
    expect(new Set(failed.map((r) => `${r.image} ${r.isa}`))).toEqual(new Set(['broken-sort s390x']));
    expect(failed.some((r) => /^sort /.test(r.case) && /cross-ISA oracle: output on s390x differs from aarch64, armv7/.test(r.message ?? ''))).toBe(true);
    expect(mergeRun.exitCode).toBe(1);
  });

  it('ran every case in exactly one shard, each shard with only the images its cases need', async () => {
    const shards = await Promise.all(Array.from({ length: SHARDS }, (_, i) => readResultsJson(shardJson(i + 1))));
    expect(shards.map((s) => s.properties.shard?.index)).toEqual([1, 2, 3, 4]);
    expect(new Set(shards.map((s) => s.properties.shard!.plan)).size).toBe(1);
    expect(shards[2]!.properties.shard!.source).toBe('CI_NODE_INDEX/CI_NODE_TOTAL');
    expect(shards[0]!.properties.shard!.timings).toEqual([join(scratch, 'whole', 'results.json')]);
    expect(shards.reduce((n, s) => n + s.results.length, 0)).toBe(whole.results.length);
    const everyImage = Object.keys(whole.properties.images).sort();
    expect([...new Set(shards.flatMap((s) => Object.keys(s.properties.images)))].sort()).toEqual(everyImage);
    for (const s of shards) {
      const used = new Set(s.results.filter((r) => r.imageDigest).map((r) => `${r.image}/${r.isa}`));
      expect(Object.keys(s.properties.images).sort()).toEqual([...used].sort());
    }
    expect(Math.min(...shards.map((s) => Object.keys(s.properties.images).length))).toBeLessThan(everyImage.length);
  });

  it('writes JUnit of two images that junitparser counts right, no two cases sharing classname and name', async () => {
    await expectJunitValid(mergedJunit());
    const script = [
      'import json, sys',
      'from junitparser import JUnitXml',
      'xml = JUnitXml.fromfile(sys.argv[1])',
      'cases = [(c.classname, c.name) for s in xml for c in s]',
      'print(json.dumps({"tests": sum(s.tests for s in xml), "failures": sum(s.failures for s in xml), "skipped": sum(s.skipped for s in xml), "cases": len(cases), "distinct": len(set(cases))}))',
    ].join('\n');
    const parsed = JSON.parse((await execa('/usr/bin/python3', ['-c', script, mergedJunit()])).stdout);
    const { totals } = summarize(merged);
    expect(parsed).toEqual({ tests: totals.total, failures: totals.failed, skipped: totals.skipped + totals.known, cases: totals.total, distinct: totals.total });
    const xml = await readFile(mergedJunit(), 'utf8');
    expect(xml).toContain('classname="busybox.s390x.broken-sort"');
  });

  it('refuses 3 of 4 shards, and a shard given twice, with one line each and exit 2', async () => {
    const some = await harness(['merge', shardJson(1), shardJson(2), shardJson(3), '--json', join(scratch, 'no', 'results.json')]);
    expect(some.exitCode).toBe(2);
    expect(some.stderr.trim()).toBe('harness: missing shard 4/4 (given: 1, 2, 3)');
    const twice = await harness(['merge', shardJson(1), shardJson(1), shardJson(2), shardJson(3), shardJson(4), '--json', join(scratch, 'no', 'results.json')]);
    expect(twice.exitCode).toBe(2);
    expect(twice.stderr.trim()).toBe(`harness: shard 1/4 given 2 times: ${shardJson(1)}, ${shardJson(1)}`);
    await expect(readFile(join(scratch, 'no', 'results.json'))).rejects.toThrow(/ENOENT/);
  });
});
