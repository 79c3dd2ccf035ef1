// Failures a person can act on: the first lines of each failure's diff, and the "what failed"
// list that ends a run, one line per case across ISAs. Pure.
import type { CaseResult } from '../results.ts';
import { compareIsas, groupSorted } from './order.ts';
import { isFailing } from './verdicts.ts';

/** Lines of a failure's message shown under its FAIL line (the diff's head). */
export const FAILURE_HEAD_LINES = 12;

/** The message's first line, then up to `lines` more, indented; says how many were left out. */
export function failureHead(message: string | undefined, lines = FAILURE_HEAD_LINES, indent = '    '): string {
  const [first = '', ...rest] = (message ?? '').replace(/\n+$/, '').split('\n');
  const shown = rest.slice(0, lines).map((line) => `${indent}${line}`);
  if (rest.length > lines) shown.push(`${indent}[... ${rest.length - lines} more lines in the report]`);
  return [first, ...shown].join('\n');
}

/** "FAIL s390x busybox/sort -n: stdout differs:" and the diff's first lines. */
export function failureLine(result: CaseResult): string {
  const tag = result.verdict === 'failed' ? 'FAIL' : result.verdict.toUpperCase();
  const image = result.image === 'built' ? '' : ` [${result.image}]`;
  return `${tag} ${result.isa} ${result.suite}/${result.case}${image}: ${failureHead(result.message)}`;
}

const ORACLE = /cross-ISA oracle: output on (.+?) differs from (.+)$/m;

/** Why one ISA failed, briefly: the oracle's vote, or a verdict other than plain failed. */
function annotation(result: CaseResult): string {
  const oracle = ORACLE.exec(result.message ?? '');
  const notes = [
    ...(result.verdict === 'failed' ? [] : [result.verdict]),
    ...(oracle ? [`oracle: differs from ${(oracle[2] as string).split(', ').length} ISAs`] : []),
  ];
  return notes.length ? ` (${notes.join('; ')})` : '';
}

/**
 * One line per failing case, its ISAs together: `busybox/date past 2038: armv7`,
 * `busybox/cut fields: s390x (oracle: differs from 7 ISAs)`. Empty when nothing failed.
 */
export function whatFailed(results: readonly CaseResult[]): string[] {
  const groups = groupSorted(
    results.filter(isFailing),
    (r) => `${r.image}\0${r.suite}\0${r.case}`,
    (a, b) => a.suite.localeCompare(b.suite) || a.case.localeCompare(b.case) || a.image.localeCompare(b.image),
  );
  return groups.map((group) => {
    const first = group[0] as CaseResult;
    const byNote = new Map<string, string[]>();
    for (const r of [...group].sort((a, b) => compareIsas(a.isa, b.isa))) {
      const note = annotation(r);
      byNote.set(note, [...(byNote.get(note) ?? []), r.isa]);
    }
    const isas = [...byNote].map(([note, names]) => `${names.join(', ')}${note}`).join('; ');
    return `${first.suite}/${first.case}${first.image === 'built' ? '' : ` [${first.image}]`}: ${isas}`;
  });
}

/** The block that ends a run's terminal output; empty when nothing failed. */
export function formatWhatFailed(results: readonly CaseResult[]): string {
  const lines = whatFailed(results);
  return lines.length ? [`what failed (${lines.length} case${lines.length === 1 ? '' : 's'}):`, ...lines.map((l) => `  ${l}`)].join('\n') : '';
}
