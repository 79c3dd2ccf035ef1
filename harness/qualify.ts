// Release qualification: a run qualifies when every ISA and suite of its matrix ran, nothing
// fails, nothing needed a retry, and nothing that passed in the baseline stopped passing.
// Reads results only; `harness qualify` runs the matrix first or takes an existing run.
import { changeLabel, changesOf, compareRuns, formatComparison, type CaseChange, type Comparison } from './diff.ts';
import type { DurationThreshold } from './duration-threshold.ts';
import { HarnessError } from './errors.ts';
import type { Matrix } from './matrix/schema.ts';
import { caseKey, matrixNameOf } from './report/load.ts';
import { compareIsas } from './report/order.ts';
import { isUnexpectedPass, knownFailureText } from './report/summary.ts';
import { isFailing, verdictClass } from './report/verdicts.ts';
import type { CaseResult, RunResults } from './results.ts';

/** An ISA x suite pair the qualification must see results for. */
export interface Coverage {
  isa: string;
  suite: string;
}

export interface Qualification {
  qualified: boolean;
  /** Why not, one line each: regressions first, then failures, flaky cases, missing coverage, gone and slower cases. */
  reasons: string[];
  /** Listed, not failing: unexpectedly passing known failures, fixed and added cases, known-failure changes. */
  notes: string[];
  comparison: Comparison;
  baselineFile: string;
}

/** Every ISA x suite of the matrix (its jobs, including those skipped for absent optional files). */
export function matrixCoverage(matrix: Matrix): Coverage[] {
  return matrix.isas.flatMap((isa) => matrix.suites.map((suite) => ({ isa: isa.name, suite: suite.name })));
}

/** A run of another matrix (a baseline, an --against run) is bad input, not a failed qualification. */
export function checkSameMatrix(matrixName: string, run: RunResults, file: string): void {
  const got = matrixNameOf(run);
  if (got !== matrixName) throw new HarnessError(`${file}: a run of matrix '${got}', not '${matrixName}'; pass a baseline run of the same matrix`);
}

function label(r: CaseResult): string {
  return changeLabel(r);
}

function firstLine(text: string | undefined): string {
  return text?.split('\n', 1)[0] ?? '';
}

/** At most this many lines per reason kind; the rest is counted. */
const LINES_PER_KIND = 25;

function capped(lines: string[], what: string): string[] {
  if (lines.length <= LINES_PER_KIND) return lines;
  return [...lines.slice(0, LINES_PER_KIND), `${what}: ${lines.length - LINES_PER_KIND} more (see the report)`];
}

export function qualifyRun(input: {
  run: RunResults;
  baseline: RunResults;
  baselineFile: string;
  coverage?: readonly Coverage[];
  durationThreshold?: DurationThreshold;
}): Qualification {
  const { run, baseline, baselineFile } = input;
  checkSameMatrix(matrixNameOf(run), baseline, baselineFile);
  const comparison = compareRuns(baseline, run, { durationThreshold: input.durationThreshold });
  const regressionKeys = new Set(changesOf(comparison, 'regressions').map(caseKey));
  const describe = (kind: string, c: CaseChange) => `${kind}: ${changeLabel(c)}: ${c.before ?? '(absent)'} -> ${c.after ?? '(absent)'}${c.note ? `: ${c.note}` : ''}`;

  const regressions = changesOf(comparison, 'regressions').map((c) => describe('regression', c));
  const stillFailing = run.results.filter((r) => isFailing(r) && !regressionKeys.has(caseKey(r))).map((r) => `failing (also in the baseline): ${label(r)}: ${r.verdict}: ${firstLine(r.message)}`);
  const flaky = run.results.filter((r) => r.flaky).map((r) => `flaky: ${label(r)}: passed after ${r.attempts.length} attempts (a retry is not a pass)`);
  const pairs = [...new Map([...(input.coverage ?? []), ...baseline.results.map((r) => ({ isa: r.isa, suite: r.suite }))].map((p) => [`${p.isa}\0${p.suite}`, p])).values()];
  const ran = new Set(run.results.filter((r) => verdictClass(r.verdict) !== 'skip').map((r) => `${r.isa}\0${r.suite}`));
  const missing = pairs
    .filter((p) => !ran.has(`${p.isa}\0${p.suite}`))
    .sort((a, b) => compareIsas(a.isa, b.isa) || a.suite.localeCompare(b.suite))
    .map((p) => `not covered: ${p.isa} ${p.suite}: no case of this ISA and suite ran`);
  const gone = changesOf(comparison, 'gone').map((c) => describe('gone', c));
  const slower = changesOf(comparison, 'slower').map((c) => describe('slower', c));

  const reasons = [
    ...capped(regressions, 'regressions'),
    ...capped(stillFailing, 'failing'),
    ...capped(flaky, 'flaky'),
    ...capped(missing, 'not covered'),
    ...capped(gone, 'gone'),
    ...capped(slower, 'slower'),
  ];
  const notes = [
    ...capped(run.results.filter(isUnexpectedPass).map((r) => `unexpectedly passing known failure: ${label(r)}: ${knownFailureText(r)} (remove it from known_failures)`), 'unexpectedly passing'),
    ...capped(changesOf(comparison, 'fixed').map((c) => describe('fixed', c)), 'fixed'),
    ...capped(changesOf(comparison, 'knownChanged').map((c) => `known failure changed: ${changeLabel(c)}: ${c.note ?? ''}`), 'known failures changed'),
    ...capped(changesOf(comparison, 'added').map((c) => describe('added', c)), 'added'),
    ...capped(changesOf(comparison, 'changed').map((c) => describe('changed', c)), 'changed'),
  ];
  return { qualified: reasons.length === 0, reasons, notes, comparison, baselineFile };
}

/** The verdict line first, then its reasons, the notes and the comparison table. */
export function formatQualification(q: Qualification): string {
  const verdict = q.qualified ? 'QUALIFIED' : `NOT QUALIFIED (${q.reasons.length} reason${q.reasons.length === 1 ? '' : 's'})`;
  return [
    `${verdict} against baseline ${q.baselineFile}`,
    ...q.reasons.map((r) => `  ${r}`),
    ...(q.notes.length ? ['', 'noted (not failing):', ...q.notes.map((n) => `  ${n}`)] : []),
    '',
    formatComparison(q.comparison),
  ].join('\n');
}
