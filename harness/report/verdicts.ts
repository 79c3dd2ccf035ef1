// What each verdict means to the tools after a run, and counts per ISA x suite x verdict.
// Generic over the verdict list: a verdict added to results.json shows up in every report as
// its own column; until it is classed here it counts as failing (strict, never a silent pass).
import type { CaseResult, Verdict } from '../results.ts';
import { VERDICT_NAMES } from './json.ts';
import { compareIsas } from './order.ts';

/** pass: good; fail: fails a run and a qualification; known: an accepted failure; skip: not run. */
export type VerdictClass = 'pass' | 'fail' | 'known' | 'skip';

const CLASSES: Partial<Record<string, VerdictClass>> = {
  passed: 'pass',
  failed: 'fail',
  error: 'fail',
  'known-failure': 'known',
  // Triage showed the image right and the emulator wrong: explained, like a known failure.
  'emulator-only': 'known',
  skipped: 'skip',
};

export function verdictClass(verdict: string): VerdictClass {
  return CLASSES[verdict] ?? 'fail';
}

export function isFailing(result: Pick<CaseResult, 'verdict'>): boolean {
  return verdictClass(result.verdict) === 'fail';
}

/** Display order: failing verdicts first, then known, skipped, passed; unknown ones among the failing. */
const CLASS_ORDER: VerdictClass[] = ['fail', 'known', 'skip', 'pass'];

export function orderVerdicts(verdicts: Iterable<string>): string[] {
  return [...new Set(verdicts)].sort((a, b) => CLASS_ORDER.indexOf(verdictClass(a)) - CLASS_ORDER.indexOf(verdictClass(b)) || a.localeCompare(b));
}

/** A cell's colour: its worst case; a cell of skips only is grey. */
const WORST_FIRST: VerdictClass[] = ['fail', 'known', 'pass', 'skip'];

export interface GridCell {
  isa: string;
  suite: string;
  total: number;
  /** Per verdict, only those that occur. */
  verdicts: Record<string, number>;
  flaky: number;
  /** The worst class among the cell's cases: its colour. */
  worst: VerdictClass;
}

export interface VerdictGrid {
  isas: string[];
  suites: string[];
  /** Every verdict of results.json plus any other found in the run, in display order. */
  verdicts: string[];
  cells: Record<string, GridCell>;
  totals: Record<string, number>;
}

export function gridKey(isa: string, suite: string): string {
  return `${isa}\0${suite}`;
}

/** Counts per ISA x suite x verdict. Pure. */
export function verdictGrid(results: readonly CaseResult[]): VerdictGrid {
  const cells: Record<string, GridCell> = {};
  const totals: Record<string, number> = {};
  const isas = new Set<string>();
  const suites = new Set<string>();
  for (const result of results) {
    isas.add(result.isa);
    suites.add(result.suite);
    const key = gridKey(result.isa, result.suite);
    const cell = (cells[key] ??= { isa: result.isa, suite: result.suite, total: 0, verdicts: {}, flaky: 0, worst: 'skip' });
    cell.total++;
    cell.verdicts[result.verdict] = (cell.verdicts[result.verdict] ?? 0) + 1;
    if (result.flaky) cell.flaky++;
    totals[result.verdict] = (totals[result.verdict] ?? 0) + 1;
    const cls = verdictClass(result.verdict);
    if (WORST_FIRST.indexOf(cls) < WORST_FIRST.indexOf(cell.worst)) cell.worst = cls;
  }
  return {
    isas: [...isas].sort(compareIsas),
    suites: [...suites].sort(),
    verdicts: orderVerdicts([...VERDICT_NAMES, ...Object.keys(totals)] as Verdict[]),
    cells,
    totals,
  };
}
