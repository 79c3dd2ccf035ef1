// The suite and run timeouts of a matrix as scheduler deadlines, each with the words that
// say why the cases it cut off did not run. Pure.
import { formatDuration } from './matrix/units.ts';
import type { Job } from './matrix/plan.ts';
import type { Matrix } from './matrix/schema.ts';
import type { Deadline } from './scheduler.ts';

/** Per job id (image/ISA/suite): its suite timeout, counted from its first case's start. */
export function suiteDeadlines(jobs: readonly Job[]): Map<string, Deadline> {
  return new Map(jobs.map((job) => [job.id, {
    ms: job.suiteTimeoutMs,
    reason: `suite ${job.suite.name} on ${job.isa.name} (image ${job.image.name}) reached its timeout of ${formatDuration(job.suiteTimeoutMs)} (timeouts.suite x the ISA's multiplier)`,
  }]));
}

/** The run's timeout, counted from the run's start: what is left of it when the cases begin. */
export function runDeadline(matrix: Matrix, runStartedMs: number, nowMs: number): Deadline | undefined {
  const { runMs } = matrix.timeouts;
  if (runMs === undefined) return undefined;
  return { ms: Math.max(0, runMs - (nowMs - runStartedMs)), reason: `the run reached its timeout of ${formatDuration(runMs)} (timeouts.run)` };
}
