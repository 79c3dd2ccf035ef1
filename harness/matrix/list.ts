// `harness list`: what a run would do, one line per ISA x image x suite x test, then the
// number of cases per ISA and suite.
import type { PlannedCase, SkippedJob } from './plan.ts';

interface Line {
  isa: string;
  image: string;
  suite: string;
  test: string;
  note: string;
}

/** Rows and skipped jobs grouped by ISA, image and suite in the order each first appears; cases keep their order. */
export function formatJobList(rows: readonly PlannedCase[], skipped: readonly SkippedJob[] = []): string {
  const lines: Line[] = [
    ...rows.map((row) => ({ isa: row.job.isa.name, image: row.job.image.name, suite: row.job.suite.name, test: row.test, note: note(row) })),
    ...skipped.map((job) => ({ isa: job.isa.name, image: job.image, suite: job.suite, test: `${job.suite}/*`, note: `skipped: ${job.reason}` })),
  ];
  const rank = firstSeenRank();
  const sorted = lines
    .map((line, index) => ({ line, index, key: [rank('isa', line.isa), rank('image', line.image), rank('suite', line.suite)] as const }))
    .sort((a, b) => a.key[0] - b.key[0] || a.key[1] - b.key[1] || a.key[2] - b.key[2] || a.index - b.index);
  const listed = columns(sorted.map(({ line }) => [line.isa, line.image, line.test, line.note]));
  return [...listed, '', ...countTable(rows), summary(rows, skipped)].join('\n');
}

function note(row: PlannedCase): string {
  if (row.testCase.skip) return `skipped: ${row.testCase.skip}`;
  return row.knownFailure ? `known failure: ${row.knownFailure.reason}` : '';
}

/** Cases per ISA (rows) and suite (columns), with totals. */
function countTable(rows: readonly PlannedCase[]): string[] {
  // One pass: `list` of a matrix counts some 5000 cases.
  const counts = new Map<string, number>();
  const add = (key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
  for (const row of rows) {
    const isa = row.job.isa.name;
    const suite = row.job.suite.name;
    add(`${isa}\0${suite}`);
    add(`${isa}\0`);
    add(`\0${suite}`);
  }
  const isas = unique(rows.map((row) => row.job.isa.name));
  const suites = unique(rows.map((row) => row.job.suite.name));
  const count = (isa = '', suite = '') => String(isa || suite ? (counts.get(`${isa}\0${suite}`) ?? 0) : rows.length);
  const table = [
    ['ISA', ...suites, 'total'],
    ...isas.map((isa) => [isa, ...suites.map((suite) => count(isa, suite)), count(isa)]),
    ['total', ...suites.map((suite) => count(undefined, suite)), count()],
  ];
  return columns(table, 'right');
}

function summary(rows: readonly PlannedCase[], skipped: readonly SkippedJob[]): string {
  const jobs = unique(rows.map((row) => row.job.id)).length;
  const skips = rows.filter((row) => row.testCase.skip).length;
  const known = rows.filter((row) => row.knownFailure).length;
  const skippedJobs = skipped.length ? `; ${skipped.length} jobs skipped` : '';
  return `${rows.length} cases in ${jobs} jobs (${skips} skipped, ${known} known failures)${skippedJobs}`;
}

/** Pads each column to its widest cell (the last one only when right-aligned); `right` aligns all but the first to the right. */
function columns(lines: readonly string[][], align: 'left' | 'right' = 'left'): string[] {
  const widths = lines.reduce<number[]>((acc, cells) => cells.map((cell, i) => Math.max(acc[i] ?? 0, cell.length)), []);
  const pad = (cell: string, i: number, last: boolean) => {
    if (align === 'right' && i > 0) return cell.padStart(widths[i]!);
    return last ? cell : cell.padEnd(widths[i]!);
  };
  return lines.map((cells) => cells.map((cell, i) => pad(cell, i, i === cells.length - 1)).join('  ').trimEnd());
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function firstSeenRank(): (kind: string, name: string) => number {
  const seen = new Map<string, number>();
  return (kind, name) => {
    const key = `${kind}\0${name}`;
    if (!seen.has(key)) seen.set(key, seen.size);
    return seen.get(key)!;
  };
}
