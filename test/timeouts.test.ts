// Timeouts at every level: the scheduler's scope and run deadlines (pure, with fake jobs),
// then real runs of the built aarch64 image whose suite timeout and run timeout fire: the
// rest of that scope is reported as not run, with the reason.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDuration } from '../harness/matrix/units.ts';
import { runMatrix } from '../harness/run.ts';
import { sandboxLeaks, snapshotHost, type HostSnapshot } from '../harness/sandbox/index.ts';
import { ownCgroupLeaks } from '../harness/sandbox/cgroup.ts';
import { schedule, type ScheduledJob } from '../harness/scheduler.ts';

const isRoot = process.getuid?.() === 0;

/** A job that takes `ms` unless its signal stops it first; resolves to 'done' or 'stopped'. */
function sleeper(id: string, ms: number, scope?: string): ScheduledJob<string> {
  return {
    id,
    scope,
    attempt: (signal) => new Promise((resolve) => {
      const timer = setTimeout(() => resolve('done'), ms);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve('stopped');
      }, { once: true });
    }),
  };
}

describe('scheduler deadlines', () => {
  it('formats durations as a matrix writes them', () => {
    expect([500, 1500, 90_000, 30 * 60_000, 3_600_000 + 1000].map(formatDuration)).toEqual(['500ms', '1.5s', '1m30s', '30m', '1h1s']);
  });

  it('stops a scope at its deadline: its running job is stopped, the rest never start, other scopes go on', async () => {
    const notRun: Array<[string, string]> = [];
    const settled = await schedule(
      // t=0 a1 b1, t=60 a2 b2, t=120 b3, t=180 b4, t=200 a's deadline stops a2, and a3 never starts.
      ['a1', 'b1', 'a2', 'b2', 'b3', 'b4', 'a3'].map((id) => sleeper(id, id === 'a2' ? 400 : 60, id[0])),
      {
        concurrency: 2, retries: 0, passed: (outcome) => outcome === 'done',
        scopeDeadlines: new Map([['a', { ms: 200, reason: 'suite a timed out' }]]),
        onNotRun: (job, reason) => notRun.push([job.id, reason]),
      },
    );
    expect(settled.get('a1')).toEqual(['done']);
    expect(settled.get('a2')).toEqual(['stopped']);
    expect(['b1', 'b2', 'b3', 'b4'].map((id) => settled.get(id))).toEqual([['done'], ['done'], ['done'], ['done']]);
    expect(notRun).toEqual([['a3', 'suite a timed out']]);
  });

  it('counts a scope from the start of its first job, not from when it was handed to a slot to wait behind another scope\'s', async () => {
    // One slot, depth 2, run like the sandbox runs a slot: one attempt at a time, in the order
    // handed, each saying when it starts. long (scope a, 300 ms) runs; b1 and b2 (scope b, 100 ms
    // each, deadline 250 ms) wait behind it, then run from 300 to 500 ms: within b's 250 ms.
    let slotTail = Promise.resolve();
    const inSlot = (id: string, ms: number, scope: string): ScheduledJob<string> => ({
      id,
      scope,
      attempt: (signal, _slot, started) => {
        const turn = slotTail.then(() => new Promise<string>((resolve) => {
          if (signal.aborted) return resolve('not started');
          started();
          const timer = setTimeout(() => resolve('done'), ms);
          signal.addEventListener('abort', () => {
            clearTimeout(timer);
            resolve('stopped');
          }, { once: true });
        }));
        slotTail = turn.then(() => undefined);
        return turn;
      },
    });
    const notRun: string[] = [];
    const settled = await schedule([inSlot('long', 300, 'a'), inSlot('b1', 100, 'b'), inSlot('b2', 100, 'b')], {
      concurrency: 1, depth: 2, retries: 0, passed: (outcome) => outcome === 'done',
      scopeDeadlines: new Map([['b', { ms: 250, reason: 'suite b timed out' }]]),
      onNotRun: (job) => notRun.push(job.id),
    });
    expect(['long', 'b1', 'b2'].map((id) => settled.get(id))).toEqual([['done'], ['done'], ['done']]);
    expect(notRun).toEqual([]);
  });

  it('stops everything at the run deadline and names it for each job not run', async () => {
    const notRun: string[] = [];
    const started = Date.now();
    const settled = await schedule([sleeper('x', 5000), sleeper('y', 5000), sleeper('z', 10)], {
      concurrency: 1, retries: 2, passed: (outcome) => outcome === 'done',
      deadline: { ms: 100, reason: 'the run reached its timeout' },
      onNotRun: (job, reason) => notRun.push(`${job.id}: ${reason}`),
    });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(settled.get('x')).toEqual(['stopped']);
    expect(notRun).toEqual(['y: the run reached its timeout', 'z: the run reached its timeout']);
  });
});

describe.skipIf(!isRoot)('suite and run timeouts in real runs (built aarch64 image)', () => {
  let scratch: string;
  let before: HostSnapshot;
  beforeAll(async () => {
    before = await snapshotHost();
    scratch = await mkdtemp(join(tmpdir(), 'timeouts-test-'));
  });
  afterAll(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
    if (before) expect(sandboxLeaks(before, await snapshotHost())).toEqual({ mounts: [], processes: [], stagingDirs: [] });
    expect(await ownCgroupLeaks()).toEqual([]);
  });

  const run = async (name: string, timeouts: string) => {
    const matrix = join(scratch, `${name}.yaml`);
    await writeFile(matrix, `arches: [aarch64]\nimages: [built]\nsuites: { busybox: {}, image: {} }\ntimeouts: ${timeouts}\nretries: 0\njobs: 2\n`);
    return runMatrix({ matrixPath: matrix, progress: 'quiet', junitPath: join(scratch, name, 'junit.xml'), jsonPath: join(scratch, name, 'results.json') });
  };

  it('a suite timeout ends that suite: the rest of it is not run, with the reason; the other suite runs whole', async () => {
    // aarch64's multiplier scales timeouts.suite; 1s x multiplier is far less than the busybox suite needs.
    const outcome = await run('suite', '{ case: 30s, suite: 1s }');
    const busybox = outcome.results.results.filter((r) => r.suite === 'busybox' && !/applet .* not in this BusyBox/.test(r.message ?? ''));
    const reason = /suite busybox on aarch64 \(image built\) reached its timeout of \d+(\.\d)?s \(timeouts\.suite x the ISA's multiplier\)$/;
    const cut = busybox.filter((r) => r.message?.startsWith('not run: '));
    expect(cut.length).toBeGreaterThan(50);
    expect(cut.every((r) => r.verdict === 'skipped' && reason.test(r.message!))).toBe(true);
    // The cases running when it fired used up the time: failed, saying so.
    const stopped = busybox.filter((r) => r.message?.startsWith('stopped while running: '));
    expect(stopped.length).toBeGreaterThan(0);
    expect(stopped.every((r) => r.verdict === 'failed' && reason.test(r.message!))).toBe(true);
    expect(busybox.filter((r) => r.verdict === 'passed').length).toBeGreaterThan(0);
    // The image suite has its own clock: most of it ran.
    const image = outcome.results.results.filter((r) => r.suite === 'image');
    expect(image.filter((r) => r.verdict === 'passed').length).toBeGreaterThan(5);
    expect(outcome.exitCode).toBe(1);
  });

  it('a run timeout ends the run: every case left is not run, with the reason', async () => {
    const outcome = await run('run', '{ case: 30s, run: 1ms }');
    const ran = outcome.results.results.filter((r) => r.attempts.length > 0);
    expect(ran).toEqual([]);
    const cut = outcome.results.results.filter((r) => r.message === 'not run: the run reached its timeout of 1ms (timeouts.run)');
    expect(cut.length).toBeGreaterThan(100);
  });
});
