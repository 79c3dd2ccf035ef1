// Counts per ISA x suite, the terminal table, and the run's exit code. Pure.
import { EXIT_OK, EXIT_TESTS_FAILED } from '../errors.ts';
import type { CaseResult, RunResults } from '../results.ts';
import { compareIsas, groupSorted } from './order.ts';

export interface Counts {
  total: number;
  /** Includes flaky passes and unexpectedly passing known failures. */
  passed: number;
  failed: number;
  error: number;
  skipped: number;
  /** Known failures that failed as expected. */
  known: number;
  /** Failed under qemu-user, passed under qemu-system with the real kernel (triage): explained, not failed. */
  emulatorOnly: number;
  flaky: number;
  /** Known failures that passed: worth removing from the list, not a failure. */
  unexpectedlyPassing: number;
  /** Sum of the cases' durations (cases run in parallel, so more than wall time). */
  durationMs: number;
}

export interface SummaryRow extends Counts {
  isa: string;
  suite: string;
}

export interface Summary {
  rows: SummaryRow[];
  totals: Counts;
  /** The cases behind `unexpectedlyPassing`, so the table can name them. */
  unexpectedPasses: CaseResult[];
}

/** A known failure that now passes: reported, never hidden, but it does not fail the run. */
export function isUnexpectedPass(result: CaseResult): boolean {
  return result.verdict === 'passed' && result.knownFailure !== undefined;
}

/** "<reason> (<link>)" of a case on the known-failures list. */
export function knownFailureText(result: CaseResult): string {
  const known = result.knownFailure;
  if (!known) return result.message ?? 'no reason given';
  return known.link ? `${known.reason} (${known.link})` : known.reason;
}

export function emptyCounts(): Counts {
  return { total: 0, passed: 0, failed: 0, error: 0, skipped: 0, known: 0, emulatorOnly: 0, flaky: 0, unexpectedlyPassing: 0, durationMs: 0 };
}

/** Adds one result to running counts (summaries and live progress share this). */
export function countResult(into: Counts, result: CaseResult): void {
  into.total++;
  into.durationMs += result.durationMs;
  switch (result.verdict) {
    case 'passed':
      into.passed++;
      if (result.flaky) into.flaky++;
      if (isUnexpectedPass(result)) into.unexpectedlyPassing++;
      break;
    case 'failed':
      into.failed++;
      break;
    case 'error':
      into.error++;
      break;
    case 'skipped':
      into.skipped++;
      break;
    case 'known-failure':
      into.known++;
      break;
    case 'emulator-only':
      into.emulatorOnly++;
      break;
  }
}

export function summarize(results: RunResults): Summary {
  const groups = groupSorted(
    results.results,
    (r) => `${r.isa}\0${r.suite}`,
    (a, b) => compareIsas(a.isa, b.isa) || a.suite.localeCompare(b.suite),
  );
  const totals = emptyCounts();
  const rows = groups.map((group) => {
    const first = group[0] as CaseResult;
    const row: SummaryRow = { isa: first.isa, suite: first.suite, ...emptyCounts() };
    for (const result of group) {
      countResult(row, result);
      countResult(totals, result);
    }
    return row;
  });
  return { rows, totals, unexpectedPasses: results.results.filter(isUnexpectedPass) };
}

/** 0 when nothing failed or errored; known failures (passing or not) never fail a run. */
export function exitCodeFor(results: RunResults): number {
  const { totals } = summarize(results);
  return totals.failed + totals.error > 0 ? EXIT_TESTS_FAILED : EXIT_OK;
}

const COLUMNS: Array<{ title: string; value: (c: Counts) => string }> = [
  { title: 'tests', value: (c) => String(c.total) },
  { title: 'passed', value: (c) => String(c.passed) },
  { title: 'failed', value: (c) => String(c.failed) },
  { title: 'errors', value: (c) => String(c.error) },
  { title: 'skipped', value: (c) => String(c.skipped) },
  { title: 'known', value: (c) => String(c.known) },
  { title: 'emulator-only', value: (c) => String(c.emulatorOnly) },
  { title: 'flaky', value: (c) => String(c.flaky) },
  { title: 'time', value: (c) => `${(c.durationMs / 1000).toFixed(1)}s` },
];

/** An aligned table: text columns left, numbers right, a totals line, then unexpected passes. */
export function formatSummaryTable(summary: Summary): string {
  const header = ['ISA', 'suite', ...COLUMNS.map((c) => c.title)];
  const body = summary.rows.map((row) => [row.isa, row.suite, ...COLUMNS.map((c) => c.value(row))]);
  const total = ['total', '', ...COLUMNS.map((c) => c.value(summary.totals))];
  const table = [header, ...body, total];
  const widths = header.map((_, i) => Math.max(...table.map((line) => (line[i] as string).length)));
  const render = (line: string[]) =>
    line.map((cell, i) => (i < 2 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number))).join('  ').trimEnd();
  const rule = '-'.repeat(widths.reduce((sum, w) => sum + w, 0) + 2 * (widths.length - 1));
  const lines = [render(header), rule, ...body.map(render), rule, render(total)];
  if (summary.unexpectedPasses.length) {
    lines.push('', `unexpectedly passing (known failures that now pass; not a failure): ${summary.unexpectedPasses.length}`);
    for (const r of summary.unexpectedPasses) lines.push(`  ${r.isa} ${r.suite}/${r.case}: ${knownFailureText(r)}`);
  }
  return lines.join('\n');
}
