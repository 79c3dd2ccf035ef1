// Runs jobs across the machine's cores with retries, fail-fast and cancellation. Knows
// nothing about suites, sandboxes or reports: a job is an attempt function and a verdict.
import PQueue from 'p-queue';

export interface ScheduledJob<T> {
  id: string;
  attempt: (signal: AbortSignal) => Promise<T>;
}

export interface ScheduleOptions<T> {
  concurrency: number;
  /** Extra attempts after a failed one; a job that needed one and then passed is flaky. */
  retries: number;
  passed: (outcome: T) => boolean;
  /** Stop starting jobs after the first job that fails all its attempts. */
  failFast?: boolean;
  signal?: AbortSignal;
  /** Called once per finished job with every attempt's outcome, in order. */
  onSettled?: (job: ScheduledJob<T>, attempts: T[]) => void;
}

/**
 * Runs every job (in the order given: callers interleave ISAs) and returns each finished
 * job's attempts. Jobs never started because of fail-fast or cancellation are absent.
 */
export async function schedule<T>(jobs: ScheduledJob<T>[], options: ScheduleOptions<T>): Promise<Map<string, T[]>> {
  const stop = new AbortController();
  const onAbort = () => stop.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  const queue = new PQueue({ concurrency: Math.max(1, options.concurrency) });
  const settled = new Map<string, T[]>();

  const runJob = async (job: ScheduledJob<T>) => {
    if (stop.signal.aborted) return;
    const attempts: T[] = [];
    for (let attempt = 0; attempt <= options.retries; attempt++) {
      const outcome = await job.attempt(stop.signal);
      attempts.push(outcome);
      if (options.passed(outcome) || stop.signal.aborted) break;
    }
    settled.set(job.id, attempts);
    options.onSettled?.(job, attempts);
    if (options.failFast && !options.passed(attempts[attempts.length - 1] as T)) stop.abort(new Error('fail-fast'));
  };

  try {
    await Promise.all(jobs.map((job) => queue.add(() => runJob(job))));
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  return settled;
}
