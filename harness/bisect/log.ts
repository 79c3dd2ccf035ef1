// The bisect log: every step (what was judged, its verdict, how long it took, where its run
// report is) and the answer. Written as bisect.json beside the steps' run reports; printed
// as lines on the terminal. Pure apart from writeBisectLog.
import { join } from 'node:path';
import { writeFileAtomic } from '../report/atomic.ts';
import type { StateVerdict } from './judge.ts';
import type { Term } from './search.ts';

export type Direction = 'first-bad' | 'first-fixed';

export interface BisectStep {
  /** 1-based, in the order run. */
  n: number;
  /** ends are checked first; reruns test the boundary again for flakiness. */
  role: 'good end' | 'bad end' | 'search' | 'rerun';
  /** An image reference, or a commit. */
  subject: string;
  /** Position in the series (images mode). */
  index?: number;
  /** Commit subject line (source mode). */
  title?: string;
  verdict: StateVerdict;
  /** In bisect terms: old (good, or still broken for --first-fixed), new, skip. */
  term: Term;
  reason: string;
  durationMs: number;
  /** Source mode: the component build (included in durationMs). */
  buildMs?: number;
  /** The step's results.json, when its run got that far. */
  results?: string;
}

export type BisectAnswer =
  | { kind: 'found'; first: string; title?: string; index?: number; lastOld: string; message: string }
  | { kind: 'flaky'; suspects: [string, string]; message: string }
  | { kind: 'ambiguous'; candidates: string[]; message: string };

export interface BisectLog {
  schemaVersion: 1;
  mode: 'images' | 'source';
  case: string;
  isa: string;
  direction: Direction;
  /** Images mode: the series, in order. */
  series?: string[];
  /** Source mode: the tree, the component, the refs as given and as resolved. */
  source?: { dir: string; component: string; good: string; bad: string; goodCommit: string; badCommit: string; commits: number; buildDir: string };
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** Source mode: component builds run (ends included). */
  builds?: number;
  steps: BisectStep[];
  answer: BisectAnswer;
  /** Source mode: `git bisect log`, which `git bisect replay` takes. */
  gitBisectLog?: string;
}

/** What old and new mean in this direction, for people. */
export function termWords(direction: Direction): Record<Term, string> {
  return direction === 'first-bad' ? { old: 'good', new: 'bad', skip: 'skip' } : { old: 'broken', new: 'fixed', skip: 'skip' };
}

/** old/new for a pass or fail in this direction. */
export function termOf(verdict: StateVerdict, direction: Direction): Term {
  if (verdict === 'skip') return 'skip';
  return (verdict === 'fail') === (direction === 'first-bad') ? 'new' : 'old';
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

export function formatStep(step: BisectStep, direction: Direction): string {
  const words = termWords(direction);
  const what = step.title ? `${step.subject.slice(0, 12)} ${step.title}` : step.subject;
  const build = step.buildMs === undefined ? '' : ` (build ${seconds(step.buildMs)})`;
  const why = step.verdict === 'pass' ? '' : `: ${step.reason}`;
  return `step ${String(step.n).padStart(2)}  ${step.role.padEnd(8)}  ${words[step.term].padEnd(6)} ${seconds(step.durationMs).padStart(7)}${build}  ${what}${why}`;
}

export function formatLog(log: BisectLog): string {
  const lines = log.steps.map((step) => formatStep(step, log.direction));
  const builds = log.builds === undefined ? '' : `, ${log.builds} builds`;
  const perStep = log.steps.length ? `, ${seconds(log.durationMs / log.steps.length)} per step` : '';
  lines.push(`${log.answer.message}`, `${log.steps.length} steps${builds} in ${seconds(log.durationMs)}${perStep}`);
  return lines.join('\n');
}

export async function writeBisectLog(log: BisectLog, reportDir: string): Promise<string> {
  const path = join(reportDir, 'bisect.json');
  await writeFileAtomic(path, `${JSON.stringify(log, null, 2)}\n`);
  return path;
}
