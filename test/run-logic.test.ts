// Unit tests of the pure pieces of a run: scheduling, judging, the cross-ISA oracle.
import { describe, expect, it } from 'vitest';
import type { TestCase } from '../harness/case.ts';
import { applyCrossIsaOracle } from '../harness/oracle.ts';
import type { Attempt, CaseResult } from '../harness/results.ts';
import { idleShareSampler } from '../harness/host/cpu-idle.ts';
import { nextConcurrency, schedule } from '../harness/scheduler.ts';
import { judge } from '../harness/verdict.ts';

const attempt = (over: Partial<Attempt> = {}): Attempt => ({
  exitCode: 0, signal: null, timedOut: false, durationMs: 1, stdout: '', stderr: '', ...over,
});
const testCase = (expect: TestCase['expect']): TestCase => ({ name: 'c', suite: 's', argv: ['/bin/true'], expect });

describe('judge', () => {
  it('passes on the expected exit code and stdout', () => {
    expect(judge(testCase({ stdout: 'a\n' }), attempt({ stdout: 'a\n' }), 1000)).toEqual({ passed: true });
  });
  it('says expected vs got for exit code and stdout, with a diff', () => {
    const j = judge(testCase({ stdout: 'a\nb\n', exitCode: 0 }), attempt({ exitCode: 3, stdout: 'a\nc\n' }), 1000);
    expect(j.passed).toBe(false);
    expect(j.message).toContain('exit code: expected 0, got 3');
    expect(j.message).toContain('-b');
    expect(j.message).toContain('+c');
  });
  it('fails a death by signal even when any exit code is fine', () => {
    expect(judge(testCase({ anyExitCode: true }), attempt({ exitCode: null, signal: 'SIGSEGV' }), 1000)).toEqual({ passed: false, message: 'died of SIGSEGV' });
    expect(judge(testCase({ anyExitCode: true }), attempt({ exitCode: 1 }), 1000).passed).toBe(true);
  });
  it('reports timeouts and regex mismatches', () => {
    expect(judge(testCase({}), attempt({ timedOut: true, exitCode: null, signal: 'SIGKILL' }), 2500).message).toMatch(/timed out after 2.5 s/);
    expect(judge(testCase({ stdoutMatches: '^PID +USER' }), attempt({ stdout: 'x' }), 1000).message).toMatch(/does not match/);
  });
});

describe('schedule', () => {
  it('retries failures, records every attempt, and runs at most `concurrency` at once', async () => {
    let running = 0;
    let peak = 0;
    const tries = new Map<string, number>();
    const jobs = ['a', 'b', 'c', 'd'].map((id) => ({
      id,
      attempt: async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        const n = (tries.get(id) ?? 0) + 1;
        tries.set(id, n);
        return id === 'b' ? n >= 2 : id !== 'd';
      },
    }));
    const settled = await schedule(jobs, { concurrency: 2, retries: 1, passed: (ok) => ok });
    expect(peak).toBe(2);
    expect(settled.get('a')).toEqual([true]);
    expect(settled.get('b')).toEqual([false, true]);
    expect(settled.get('d')).toEqual([false, false]);
  });
  it('stops starting jobs after a failure with fail-fast', async () => {
    const jobs = Array.from({ length: 10 }, (_, i) => ({ id: String(i), attempt: async () => i !== 0 }));
    const settled = await schedule(jobs, { concurrency: 1, retries: 0, passed: (ok) => ok, failFast: true });
    expect(settled.size).toBe(1);
  });
  it('jobs: auto adds a slot while the cores stand idle and jobs wait, up to max, and gives it back once they are busy', () => {
    const scale = { min: 4, max: 8 };
    expect(nextConcurrency(4, 0.5, true, scale)).toBe(5);
    expect(nextConcurrency(8, 0.5, true, scale)).toBe(8);
    // Nothing waiting: no slot would be used.
    expect(nextConcurrency(4, 0.5, false, scale)).toBe(4);
    expect(nextConcurrency(6, 0.05, true, scale)).toBe(6);
    expect(nextConcurrency(6, 0, true, scale)).toBe(5);
    expect(nextConcurrency(4, 0, true, scale)).toBe(4);
  });
  it("reads the machine's idle share from /proc/stat: a share from 0 to 1 per interval", async () => {
    const idleShare = idleShareSampler();
    await new Promise((done) => setTimeout(done, 50));
    const share = idleShare();
    expect(share).toBeGreaterThanOrEqual(0);
    expect(share).toBeLessThanOrEqual(1);
  });
  it('with autoScale, more jobs run at once while idle time is reported, never past max', async () => {
    let running = 0;
    let peak = 0;
    const jobs = Array.from({ length: 40 }, (_, i) => ({
      id: String(i),
      attempt: async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((done) => setTimeout(done, 30));
        running--;
        return true;
      },
    }));
    const settled = await schedule(jobs, { concurrency: 2, retries: 0, passed: Boolean, autoScale: { max: 5, idleShare: () => 0.9, intervalMs: 5 } });
    expect(settled.size).toBe(40);
    expect(peak).toBe(5);
    running = 0;
    peak = 0;
    await schedule(jobs, { concurrency: 2, retries: 0, passed: Boolean, autoScale: { max: 5, idleShare: () => 0, intervalMs: 5 } });
    expect(peak).toBe(2);
  });
  it('with depth 2, hands each slot its next job while the current one runs: at most 2 a slot, every slot used, retries in their slot', async () => {
    const inFlight = new Map<number, number>();
    const peaks = new Map<number, number>();
    const slotsOf = new Map<string, Set<number>>();
    const attemptsOf = new Map<string, number>();
    const jobs = Array.from({ length: 30 }, (_, i) => ({
      id: String(i),
      attempt: async (_signal: AbortSignal, slot: number) => {
        const id = String(i);
        attemptsOf.set(id, (attemptsOf.get(id) ?? 0) + 1);
        slotsOf.set(id, new Set([...(slotsOf.get(id) ?? []), slot]));
        inFlight.set(slot, (inFlight.get(slot) ?? 0) + 1);
        peaks.set(slot, Math.max(peaks.get(slot) ?? 0, inFlight.get(slot)!));
        await new Promise((done) => setTimeout(done, 2 + (i % 3)));
        inFlight.set(slot, inFlight.get(slot)! - 1);
        // Every third job fails its first attempt.
        return i % 3 !== 0 || attemptsOf.get(id)! > 1;
      },
    }));
    const settled = await schedule(jobs, { concurrency: 3, depth: 2, retries: 1, passed: Boolean });
    expect(settled.size).toBe(30);
    expect([...peaks.keys()].sort()).toEqual([0, 1, 2]);
    expect(Math.max(...peaks.values())).toBe(2);
    expect([...slotsOf.values()].every((slots) => slots.size === 1)).toBe(true);
    expect([...attemptsOf].filter(([, n]) => n === 2).map(([id]) => Number(id)).sort((x, y) => x - y)).toEqual([0, 3, 6, 9, 12, 15, 18, 21, 24, 27]);
  });
  it('runs nothing when already cancelled', async () => {
    const controller = new AbortController();
    controller.abort();
    const settled = await schedule([{ id: 'x', attempt: async () => true }], { concurrency: 1, retries: 0, passed: Boolean, signal: controller.signal });
    expect(settled.size).toBe(0);
  });
  it('lets every running job listen on its signal without a MaxListenersExceededWarning, with and without a scope deadline', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      for (const scope of [undefined, 'suite']) {
        const jobs = Array.from({ length: 16 }, (_, n) => ({
          id: String(n), scope,
          attempt: async (signal: AbortSignal) => {
            const listener = () => {};
            signal.addEventListener('abort', listener);
            await new Promise((resolve) => setTimeout(resolve, 5));
            signal.removeEventListener('abort', listener);
            return true;
          },
        }));
        const settled = await schedule(jobs, { concurrency: 16, retries: 0, passed: Boolean, scopeDeadlines: new Map([['suite', { ms: 60_000, reason: 'r' }]]) });
        expect(settled.size).toBe(16);
      }
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('cross-ISA oracle', () => {
  const result = (isa: string, stdout: string, verdict: CaseResult['verdict'] = 'passed'): CaseResult => ({
    suite: 'busybox', case: 'sort -n', isa, image: 'built', imageDigest: 'sha256:0', verdict, flaky: false,
    attempts: [attempt({ stdout })], startedAt: '', durationMs: 1,
  });
  it('fails the ISAs that disagree with the majority, naming both sides', () => {
    const out = applyCrossIsaOracle(
      [result('x86_64', '1\n2\n'), result('aarch64', '1\n2\n'), result('s390x', '2\n1\n')],
      new Set(['busybox/sort -n']),
    );
    expect(out.map((r) => r.verdict)).toEqual(['passed', 'passed', 'failed']);
    expect(out[2]!.message).toContain('output on s390x differs from aarch64, x86_64');
    expect(out[2]!.message).toMatch(/^-1\n 2\n\+1$/m);
  });
  it('fails every side when there is no majority, and ignores cases not marked cross-ISA', () => {
    const rs = [result('x86_64', 'a'), result('s390x', 'b')];
    expect(applyCrossIsaOracle(rs, new Set(['busybox/sort -n'])).map((r) => r.verdict)).toEqual(['failed', 'failed']);
    expect(applyCrossIsaOracle(rs, new Set()).map((r) => r.verdict)).toEqual(['passed', 'passed']);
  });
});
