// What both bisect modes share: checking the two ends before searching, rerunning the
// boundary to rule out a flaky case, and a report dir that bad input leaves no trace of.
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { HarnessError } from '../errors.ts';
import type { Isa } from '../isa.ts';
import { REPO_ROOT } from '../paths.ts';
import { termWords, type BisectStep, type Direction } from './log.ts';

/** Judges one subject (an image index, a commit) and records the step. */
export type Judge<T> = (subject: T, role: BisectStep['role']) => Promise<{ step: BisectStep; absent: boolean }>;

export interface EndsContext<T> {
  direction: Direction;
  caseId: string;
  isa: Isa;
  describe: (subject: T) => string;
}

/** The old end must be old and the new end new; otherwise bisecting cannot answer anything. */
export async function confirmEnds<T>(judge: Judge<T>, oldEnd: T, newEnd: T, context: EndsContext<T>): Promise<void> {
  const words = termWords(context.direction);
  const flag = { old: context.direction === 'first-bad' ? 'good' : 'broken', new: context.direction === 'first-bad' ? 'bad' : 'fixed' };
  for (const [subject, expected, role] of [[oldEnd, 'old', 'good end'], [newEnd, 'new', 'bad end']] as const) {
    const { step, absent } = await judge(subject, role);
    const where = `the ${flag[expected]} end ${context.describe(subject)}`;
    if (absent) throw new HarnessError(`--case '${context.caseId}' matches no case on ${context.isa.name} in ${where}; \`harness list --arch ${context.isa.name}\` prints the case IDs`);
    if (step.term === 'skip') throw new HarnessError(`${where} cannot be judged on ${context.isa.name}: ${step.reason}`);
    if (step.term !== expected) {
      const hint = context.direction === 'first-bad' ? 'are good and bad the wrong way round? (--first-fixed looks for a fix)' : 'are the ends the wrong way round? (--first-bad looks for a break)';
      throw new HarnessError(`${where} is ${words[step.term]} (${step.verdict === 'pass' ? 'the case passes' : step.reason}), not ${words[expected]}: nothing to bisect; ${hint}`);
    }
  }
}

/**
 * Reruns the last old and the first new subject `reruns` times each; any disagreement
 * with the search's verdicts makes the boundary flaky. Returns why, or undefined if stable.
 */
export async function flakinessOf<T>(judge: Judge<T>, lastOld: T, firstNew: T, reruns: number, steps: readonly BisectStep[], describe: (subject: T) => string): Promise<string | undefined> {
  const tallies: string[] = [];
  let flaky = false;
  for (const [subject, expected] of [[lastOld, 'old'], [firstNew, 'new']] as const) {
    const terms = [];
    for (let i = 0; i < reruns; i++) terms.push((await judge(subject, 'rerun')).step.term);
    const earlier = steps.filter((step) => step.role !== 'rerun' && step.subject === describe(subject)).map((step) => step.term);
    const all = [...earlier, ...terms];
    const agreeing = all.filter((term) => term === expected).length;
    if (agreeing !== all.length) flaky = true;
    tallies.push(`${describe(subject)} was ${expected} in ${agreeing} of ${all.length} runs`);
  }
  return flaky ? tallies.join(', ') : undefined;
}

export interface ReportDir {
  dir: string;
  /** The bisect made the dir (so bad input may remove all of it). */
  created: boolean;
}

/** Timestamped dir under reports/ unless one is given; a given one must not hold a bisect already. */
export async function newReportDir(given: string | undefined): Promise<ReportDir> {
  const dir = resolve(given ?? join(REPO_ROOT, 'reports', `bisect-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  const existing = await readdir(dir).catch(() => undefined);
  if (existing?.some((name) => name === 'steps' || name === 'bisect.json')) {
    throw new HarnessError(`--report-dir ${dir} already holds a bisect (steps/, bisect.json); give an empty or new directory`);
  }
  await mkdir(dir, { recursive: true });
  return { dir, created: existing === undefined };
}

/** Runs the bisect; on bad input or Ctrl-C, removes what it wrote, so nothing half-written stays. */
export async function removeOnBadInput<R>(report: ReportDir, signal: AbortSignal | undefined, body: () => Promise<R>): Promise<R> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof HarnessError || signal?.aborted) {
      await rm(report.created ? report.dir : join(report.dir, 'steps'), { recursive: true, force: true });
    }
    throw error;
  }
}
