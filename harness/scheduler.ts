// Runs jobs across the machine's cores with retries, fail-fast, timeouts and cancellation.
// Knows nothing about suites, sandboxes or reports: a job is an attempt function and a verdict.
import { setMaxListeners } from 'node:events';
import { availableParallelism } from 'node:os';
import PQueue from 'p-queue';

/**
 * Cases in flight per core for `jobs: auto`. A case's set-up and teardown (namespaces, mounts)
 * mostly wait on the kernel, so more slots than cores keep the cores busy: bench/micro.ts
 * (600 trivial cases, 2 cores, under load) ran jobs 4 1.16-1.39x faster than jobs 2, and jobs
 * 6 no better than 4 in one run of two (README, Benchmarks).
 */
export const AUTO_JOBS_PER_CORE = 2;

/** The number of cases run at once for `jobs: auto`. */
export function autoJobs(cores: number = availableParallelism()): number {
  return cores * AUTO_JOBS_PER_CORE;
}

/** `jobs: auto` may add slots up to this many per core while the cores stand idle. */
export const AUTO_JOBS_MAX_PER_CORE = 4;

/**
 * Slots that follow the machine: start at `min`; while jobs wait and the cores stood idle for
 * most of the last interval (cases sleeping, or waiting on the kernel), one more slot, up to
 * `max`; back down towards `min` once the cores are busy again.
 */
export interface AutoScale {
  min: number;
  max: number;
  /** The share of the machine's CPU time that was idle since the last call (0 to 1). */
  idleShare: () => number;
  intervalMs: number;
}

/** How often the slots are reconsidered: often enough to fill a core within a short sleep. */
const AUTO_SCALE_INTERVAL_MS = 250;

/** `jobs: auto`'s scaling on this machine, reading idle time from `idleShare` (host/cpu-idle.ts). */
export function autoScaleFor(idleShare: () => number, cores: number = availableParallelism()): Omit<AutoScale, 'min'> {
  return { max: cores * AUTO_JOBS_MAX_PER_CORE, idleShare, intervalMs: AUTO_SCALE_INTERVAL_MS };
}

/** Idle above this share of an interval adds a slot; below the lower one, a slot goes. */
const RAISE_AT_IDLE = 0.1;
const LOWER_AT_IDLE = 0.02;

/** The slot count after one interval (pure). */
export function nextConcurrency(current: number, idle: number, waiting: boolean, scale: Pick<AutoScale, 'min' | 'max'>): number {
  if (waiting && idle > RAISE_AT_IDLE && current < scale.max) return current + 1;
  if (idle < LOWER_AT_IDLE && current > scale.min) return current - 1;
  return current;
}

export interface ScheduledJob<T> {
  id: string;
  /** The scope (e.g. one suite on one ISA) whose timeout bounds this job. */
  scope?: string;
  /**
   * `slot`: which of the `concurrency` slots runs it (every attempt of a job runs in one).
   * `started`: to call when the attempt's work begins. With depth 1 that is when it is handed
   * to its slot, and the call changes nothing; deeper, a job may wait in its slot behind the
   * one running there, and its scope's clock starts only at this call.
   */
  attempt: (signal: AbortSignal, slot: number, started: () => void) => Promise<T>;
}

/** A time bound and the words that say why the jobs it cut off did not run. */
export interface Deadline {
  ms: number;
  reason: string;
}

export interface ScheduleOptions<T> {
  /** Slots: jobs that run at once. */
  concurrency: number;
  /**
   * Jobs handed to each slot at once (default 1). With 2, a slot is given its next job while
   * its current one still runs, for it to start the moment that one ends, with no round trip
   * through this process; a slot still runs one job at a time (the sandbox keeps the next
   * one waiting in the slot's helper).
   */
  depth?: number;
  /** Slots follow the machine's idle time (jobs: auto), from `concurrency` up to `autoScale.max`. */
  autoScale?: Omit<AutoScale, 'min'>;
  /** Extra attempts after a failed one; a job that needed one and then passed is flaky. */
  retries: number;
  passed: (outcome: T) => boolean;
  /** Stop starting jobs after the first job that fails all its attempts. */
  failFast?: boolean;
  signal?: AbortSignal;
  /** Per scope, counted from the start of its first job (ScheduledJob.attempt, `started`): when it passes, its running jobs are stopped and the rest never start. */
  scopeDeadlines?: ReadonlyMap<string, Deadline>;
  /** The whole schedule, counted from now. */
  deadline?: Deadline;
  /** Called once per finished job with every attempt's outcome, in order (a job stopped halfway included). */
  onSettled?: (job: ScheduledJob<T>, attempts: T[]) => void;
  /** Called once per job that never started, with why (the abort reason's message). */
  onNotRun?: (job: ScheduledJob<T>, reason: string) => void;
}

/** The abort reason of a deadline that passed (a suite's or the run's timeout). */
export class DeadlineError extends Error {}

/** Why a signal was aborted, in words. */
export function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason.message : String(reason);
}

/**
 * Runs every job (in the order given: callers interleave ISAs) and returns each finished
 * job's attempts. Jobs never started because of fail-fast, a timeout or cancellation are
 * absent (and reported through onNotRun).
 */
export async function schedule<T>(jobs: ScheduledJob<T>[], options: ScheduleOptions<T>): Promise<Map<string, T[]>> {
  const stop = new AbortController();
  // Each running job listens on its signal (the sandbox's kill): as many listeners as slots, which
  // jobs: auto and a large `jobs` take past Node's warning at 10.
  setMaxListeners(0, stop.signal);
  const onAbort = () => stop.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  const timers: NodeJS.Timeout[] = [];
  const startTimer = (controller: AbortController, deadline: Deadline) => {
    timers.push(setTimeout(() => controller.abort(new DeadlineError(deadline.reason)), deadline.ms));
  };
  // A run whose time is already used up (by preparing images) starts nothing.
  if (options.deadline && options.deadline.ms <= 0) stop.abort(new DeadlineError(options.deadline.reason));
  else if (options.deadline) startTimer(stop, options.deadline);
  /** Each scope's signal (the run's stop or the scope's own deadline), made once: AbortSignal.any per job cost more than the job's bookkeeping. */
  const scopes = new Map<string, { signal: AbortSignal; startClock: () => void }>();
  /** A job of no scope with a deadline: the run's stop, no clock. */
  const unscoped = { signal: stop.signal, startClock: () => {} };
  /** The job's signal, and what starts its scope's clock (once, at the first job that starts). */
  const scopeOf = (scope: string | undefined): { signal: AbortSignal; startClock: () => void } => {
    const deadline = scope === undefined ? undefined : options.scopeDeadlines?.get(scope);
    if (!deadline || scope === undefined) return unscoped;
    let entry = scopes.get(scope);
    if (!entry) {
      const controller = new AbortController();
      const signal = AbortSignal.any([stop.signal, controller.signal]);
      setMaxListeners(0, signal);
      let clockStarted = false;
      entry = {
        signal,
        startClock: () => {
          if (clockStarted) return;
          clockStarted = true;
          startTimer(controller, deadline);
        },
      };
      scopes.set(scope, entry);
    }
    return entry;
  };
  const depth = Math.max(1, options.depth ?? 1);
  let slots = Math.max(1, options.concurrency);
  const queue = new PQueue({ concurrency: slots * depth });
  const settled = new Map<string, T[]>();
  const scale = options.autoScale && { ...options.autoScale, min: slots };
  const scaler = scale && setInterval(() => {
    slots = nextConcurrency(slots, scale.idleShare(), queue.size > 0, scale);
    queue.concurrency = slots * depth;
  }, scale.intervalMs).unref();
  /** Jobs in flight per slot; a job goes to the least loaded slot that is still in use. */
  const load: number[] = [];
  const takeSlot = (): number => {
    let best = 0;
    for (let slot = 0; slot < slots; slot++) if ((load[slot] ?? 0) < (load[best] ?? 0)) best = slot;
    load[best] = (load[best] ?? 0) + 1;
    return best;
  };

  const runJob = async (job: ScheduledJob<T>) => {
    const { signal, startClock } = scopeOf(job.scope);
    if (signal.aborted) return options.onNotRun?.(job, abortReason(signal));
    const attempts: T[] = [];
    const slot = takeSlot();
    if (depth === 1) startClock();
    try {
      for (let attempt = 0; attempt <= options.retries; attempt++) {
        const outcome = await job.attempt(signal, slot, startClock);
        attempts.push(outcome);
        if (options.passed(outcome) || signal.aborted) break;
      }
    } finally {
      load[slot]!--;
    }
    settled.set(job.id, attempts);
    options.onSettled?.(job, attempts);
    if (options.failFast && !options.passed(attempts[attempts.length - 1] as T)) stop.abort(new Error('--fail-fast stopped the run after a failure'));
  };

  try {
    await Promise.all(jobs.map((job) => queue.add(() => runJob(job))));
  } finally {
    clearInterval(scaler);
    for (const timer of timers) clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
  return settled;
}
