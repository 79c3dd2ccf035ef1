// Pure logic of sharding: the split (exact, deterministic, balanced), the CI variables, and
// merge's refusals. No QEMU: the whole-run comparison is in shard-run.test.ts.
import { describe, expect, it } from 'vitest';
import { HarnessError } from '../harness/errors.ts';
import { isaByName } from '../harness/isa.ts';
import { mergeProblems, mergeShards, type ShardFile } from '../harness/merge.ts';
import type { CaseResult, RunResults } from '../harness/results.ts';
import { planShards, type ShardJob, type Timings } from '../harness/shard/assign.ts';
import { parseShardFlag, resolveShard } from '../harness/shard/ci-env.ts';

const ISAS = ['x86_64', 'aarch64', 's390x', 'armv7', 'riscv64', 'mips64el'].map(isaByName);
const SUITES = [{ name: 'image', cases: 15 }, { name: 'busybox', cases: 300 }, { name: 'musl', cases: 60 }];
const JOBS: ShardJob[] = ISAS.flatMap((isa) => SUITES.map((s) => ({ id: `built/${isa.name}/${s.name}`, isa, suite: s.name, estimatedCases: s.cases })));
const caseNames = (suite: string, n: number) => Array.from({ length: n }, (_, i) => `${suite} case ${i}`);

/** Durations as if measured: per case a pseudo-random time, scaled by the ISA's slowdown. */
function fakeTimings(): Timings {
  let seed = 7;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  return new Map(JOBS.map((job) => [job.id, new Map(caseNames(job.suite, job.estimatedCases).map((name) => [name, Math.round((20 + next() * 400) * job.isa.timeoutMultiplier)]))]));
}

describe('the split', () => {
  for (const [label, timings] of [['with timings', fakeTimings()], ['without timings', new Map()]] as const) {
    it(`puts every case in exactly one shard, the same in every process (${label})`, () => {
      for (const total of [1, 2, 4, 8]) {
        const a = planShards(JOBS, total, timings);
        const b = planShards([...JOBS], total, timings);
        expect(a.digest).toBe(b.digest);
        for (const job of JOBS) {
          for (const name of [...caseNames(job.suite, job.estimatedCases), 'a case no earlier run had']) {
            const shard = a.shardOf(job.id, name);
            expect(shard).toBeGreaterThanOrEqual(1);
            expect(shard).toBeLessThanOrEqual(total);
            expect(b.shardOf(job.id, name)).toBe(shard);
            // The shard that runs it lists its job (so it builds and extracts that image).
            expect(a.jobsIn(shard).has(job.id)).toBe(true);
          }
        }
      }
    });
  }

  it('balances by earlier durations: the slowest shard within 1.2x of the ideal', () => {
    const timings = fakeTimings();
    const total = [...timings.values()].flatMap((m) => [...m.values()]).reduce((a, b) => a + b, 0);
    for (const n of [2, 4, 8]) {
      const split = planShards(JOBS, n, timings);
      const actual = new Array<number>(n).fill(0);
      for (const [jobId, cases] of timings) for (const [name, ms] of cases) actual[split.shardOf(jobId, name) - 1]! += ms;
      expect(actual.map(Math.round)).toEqual(split.predictedMs.map(Math.round));
      expect(Math.max(...actual) / (total / n)).toBeLessThan(1.2);
      // Jobs are chunked, not scattered: a shard needs far fewer than all 18 jobs.
      if (n === 8) expect(Math.max(...Array.from({ length: n }, (_, i) => split.jobsIn(i + 1).size))).toBeLessThan(JOBS.length / 2);
    }
  });

  it('without timings, weighs a case by its ISA slowdown, not by a plain count', () => {
    const split = planShards(JOBS, 2, new Map());
    expect(split.estimatedJobs).toHaveLength(JOBS.length);
    const slowdownTotal = JOBS.reduce((sum, job) => sum + job.estimatedCases * job.isa.timeoutMultiplier, 0);
    const predicted = split.predictedMs.reduce((a, b) => a + b, 0);
    expect(predicted).toBeCloseTo(slowdownTotal * 100, -1);
    expect(Math.max(...split.predictedMs) / (predicted / 2)).toBeLessThan(1.1);
  });

  it('a different shard count or timings gives a different digest', () => {
    expect(planShards(JOBS, 4, new Map()).digest).not.toBe(planShards(JOBS, 3, new Map()).digest);
    expect(planShards(JOBS, 4, new Map()).digest).not.toBe(planShards(JOBS, 4, fakeTimings()).digest);
  });
});

describe('K and N from the flag or the CI variables', () => {
  it('the flag wins, and is checked', () => {
    expect(resolveShard({ flag: '2/4' }, { CI_NODE_INDEX: '1', CI_NODE_TOTAL: '3' })).toEqual({ index: 2, total: 4, source: '--shard' });
    expect(() => parseShardFlag('5/4')).toThrow(/--shard: shard 5 is out of range 1\.\.4/);
    expect(() => parseShardFlag('two')).toThrow(/is not K\/N/);
    expect(resolveShard({ flag: '2/4', disabled: true }, {})).toBeUndefined();
    expect(resolveShard({ disabled: true }, { CI_NODE_INDEX: '1', CI_NODE_TOTAL: '3' })).toBeUndefined();
  });

  it('GitLab 1-based, Buildkite and Kubernetes 0-based', () => {
    expect(resolveShard({}, { CI_NODE_INDEX: '3', CI_NODE_TOTAL: '4' })).toEqual({ index: 3, total: 4, source: 'CI_NODE_INDEX/CI_NODE_TOTAL' });
    expect(resolveShard({}, { BUILDKITE_PARALLEL_JOB: '0', BUILDKITE_PARALLEL_JOB_COUNT: '4' })).toEqual({ index: 1, total: 4, source: 'BUILDKITE_PARALLEL_JOB/BUILDKITE_PARALLEL_JOB_COUNT' });
    expect(resolveShard({}, { JOB_COMPLETION_INDEX: '3', HARNESS_SHARD_TOTAL: '4' })).toEqual({ index: 4, total: 4, source: 'JOB_COMPLETION_INDEX/HARNESS_SHARD_TOTAL' });
    expect(resolveShard({ total: 4 }, { JOB_COMPLETION_INDEX: '0' })).toEqual({ index: 1, total: 4, source: 'JOB_COMPLETION_INDEX/--shard-total' });
    expect(resolveShard({}, {})).toBeUndefined();
  });

  it('says what is wrong with the variables', () => {
    expect(() => resolveShard({}, { JOB_COMPLETION_INDEX: '1' })).toThrow(/JOB_COMPLETION_INDEX=1 is set but not the shard count: pass --shard-total N or set HARNESS_SHARD_TOTAL/);
    expect(() => resolveShard({}, { CI_NODE_INDEX: '0', CI_NODE_TOTAL: '4' })).toThrow(/CI_NODE_INDEX=0 \(1-based\) .*out of range 1\.\.4/);
    expect(() => resolveShard({}, { BUILDKITE_PARALLEL_JOB: 'x', BUILDKITE_PARALLEL_JOB_COUNT: '2' })).toThrow(HarnessError);
    expect(() => resolveShard({ total: 2 }, {})).toThrow(/no shard index is set/);
  });
});

function result(isa: string, name: string, over: Partial<CaseResult> = {}): CaseResult {
  return {
    suite: 'busybox', case: name, isa, image: 'built', imageDigest: 'sha256:0', verdict: 'passed', flaky: false,
    attempts: [{ exitCode: 0, signal: null, timedOut: false, durationMs: 5, stdout: `${name} out\n`, stderr: '' }],
    startedAt: '2026-01-01T00:00:00.000Z', durationMs: 5, ...over,
  };
}

function shard(index: number, total: number, results: CaseResult[], over: Partial<RunResults['properties']> = {}): ShardFile {
  return {
    file: `shard-${index}/results.json`,
    run: {
      schemaVersion: 1,
      properties: {
        harnessVersion: '0.1.0', kernel: 'k', hostMachine: 'x86_64', startedAt: `2026-01-01T00:0${index}:00.000Z`, finishedAt: `2026-01-01T00:1${index}:00.000Z`,
        matrix: 'ci', isas: {}, images: {}, shard: { index, total, source: '--shard', plan: 'abc', timings: [], predictedMs: 1 }, ...over,
      },
      results,
    },
  };
}

describe('merge', () => {
  const sortOut = (isa: string, stdout: string) => result(isa, 'sort', { crossIsa: true, attempts: [{ exitCode: 0, signal: null, timedOut: false, durationMs: 5, stdout, stderr: '' }] });
  const shards = [
    shard(1, 3, [sortOut('aarch64', '1\n2\n'), result('aarch64', 'echo')]),
    shard(2, 3, [sortOut('armv7', '1\n2\n')]),
    shard(3, 3, [sortOut('s390x', '2\n1\n'), result('s390x', 'echo', { knownFailure: { reason: 'listed' } })]),
  ];

  it('applies the cross-ISA oracle across shards, then known failures', () => {
    const merged = mergeShards(shards);
    const sort = merged.results.filter((r) => r.case === 'sort');
    expect(sort.map((r) => [r.isa, r.verdict])).toEqual([['aarch64', 'passed'], ['armv7', 'passed'], ['s390x', 'failed']]);
    expect(sort.find((r) => r.isa === 's390x')!.message).toMatch(/^cross-ISA oracle: output on s390x differs from aarch64, armv7/);
    expect(merged.properties.merged!.shards.map((s) => s.index)).toEqual([1, 2, 3]);
    expect(merged.properties.startedAt).toBe('2026-01-01T00:01:00.000Z');
    expect(merged.properties.finishedAt).toBe('2026-01-01T00:13:00.000Z');
  });

  it('an oracle failure of a listed case is a known failure', () => {
    const listed = shards.map((s) => ({ ...s, run: { ...s.run, results: s.run.results.map((r) => (r.case === 'sort' && r.isa === 's390x' ? { ...r, knownFailure: { reason: 'qemu' } } : r)) } }));
    expect(mergeShards(listed).results.find((r) => r.case === 'sort' && r.isa === 's390x')!.verdict).toBe('known-failure');
  });

  it('refuses a missing shard, a shard given twice, a case in two shards, one line each', () => {
    expect(mergeProblems(shards.slice(0, 2))).toEqual(['missing shard 3/3 (given: 1, 2)']);
    expect(mergeProblems([...shards, shards[1]!])).toEqual(['shard 2/3 given 2 times: shard-2/results.json, shard-2/results.json']);
    const overlapping = [shards[0]!, shard(2, 3, [result('aarch64', 'echo')]), shards[2]!];
    expect(mergeProblems(overlapping)).toEqual(['case busybox/echo on aarch64 (image built) is in both shard-1/results.json and shard-2/results.json']);
    expect(() => mergeShards(shards.slice(1))).toThrow(HarnessError);
  });

  it('refuses shards of different matrices, harness versions, counts, splits, and runs that are not shards', () => {
    expect(mergeProblems([shards[0]!, shard(2, 3, [], { matrix: 'release' }), shards[2]!])).toEqual([
      'shards of different matrices: shard-1/results.json has ci, shard-2/results.json has release',
    ]);
    expect(mergeProblems([shards[0]!, shard(2, 3, [], { harnessVersion: '0.2.0' }), shards[2]!])).toEqual([
      'shards of different harness versions: shard-1/results.json has 0.1.0, shard-2/results.json has 0.2.0',
    ]);
    expect(mergeProblems([shards[0]!, shard(2, 4, [])])[0]).toBe('shards of different shard counts: shard-1/results.json has 3, shard-2/results.json has 4');
    const otherSplit = shard(2, 3, []);
    otherSplit.run.properties.shard!.plan = 'def';
    expect(mergeProblems([shards[0]!, otherSplit, shards[2]!])).toEqual(['shards of different splits (other filters or timings): shard-1/results.json has split abc, shard-2/results.json has split def']);
    const unsharded = shard(1, 1, []);
    delete unsharded.run.properties.shard;
    expect(mergeProblems([unsharded])).toEqual(["shard-1/results.json: not a shard's results (no properties.shard): pass the results of runs made with --shard K/N"]);
  });
});
