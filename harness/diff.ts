// Two runs compared case by case, per ISA and suite: what regressed, what was fixed, what was
// added or is gone, which known failures changed, what got slower. Reads results only. Pure.
import type { DurationThreshold } from './duration-threshold.ts';
import type { CaseResult, RunResults } from './results.ts';
import { caseKey, matrixNameOf } from './report/load.ts';
import { compareIsas } from './report/order.ts';
import { verdictClass } from './report/verdicts.ts';

export const CHANGE_KINDS = ['regressions', 'fixed', 'knownChanged', 'added', 'gone', 'slower', 'changed'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** Headings, in the order reports show them: regressions first. */
export const CHANGE_TITLES: Record<ChangeKind, string> = {
  regressions: 'regressions',
  fixed: 'fixed',
  knownChanged: 'known failures changed',
  added: 'added',
  gone: 'gone',
  slower: 'slower',
  changed: 'other verdict changes',
};

export interface CaseChange {
  isa: string;
  suite: string;
  case: string;
  image: string;
  /** Verdicts in the old and the new run (absent: the case is not in that run). */
  before?: string;
  after?: string;
  /** Why, in one line: the new failure's first line, the known-failure change, the slowdown. */
  note?: string;
  beforeMs?: number;
  afterMs?: number;
}

export interface GroupComparison {
  isa: string;
  suite: string;
  changes: Record<ChangeKind, CaseChange[]>;
  /** Cases in both runs with the same verdict. */
  unchanged: number;
}

export interface Comparison {
  old: { matrix: string; startedAt: string; cases: number };
  new: { matrix: string; startedAt: string; cases: number };
  durationThreshold?: DurationThreshold;
  groups: GroupComparison[];
  totals: Record<ChangeKind, number>;
  /** Images whose digest differs between the runs (key: image/ISA). */
  imageChanges: Array<{ image: string; before?: string; after?: string }>;
}


function firstLine(text: string | undefined): string | undefined {
  const line = text?.split('\n', 1)[0];
  return line || undefined;
}

function knownText(result: CaseResult): string | undefined {
  return result.knownFailure?.reason;
}

/** Which bucket a case present in both runs falls into, if any. */
function classify(before: CaseResult, after: CaseResult): { kind: ChangeKind; note?: string } | undefined {
  const was = verdictClass(before.verdict);
  const now = verdictClass(after.verdict);
  // Strict: a case that passed must still pass; a case that did not fail must not fail now.
  if ((before.verdict === 'passed' && after.verdict !== 'passed') || (now === 'fail' && was !== 'fail')) {
    const known = after.verdict === 'known-failure' ? `now a known failure: ${knownText(after) ?? ''}` : undefined;
    return { kind: 'regressions', note: known ?? firstLine(after.message) };
  }
  if (was === 'fail' && after.verdict === 'passed') return { kind: 'fixed' };
  if (knownText(before) !== knownText(after) || (before.verdict !== after.verdict && (was === 'known' || now === 'known'))) {
    const describe = (r: CaseResult) => (r.knownFailure ? `${r.verdict} (known: ${r.knownFailure.reason})` : r.verdict);
    return { kind: 'knownChanged', note: `${describe(before)} -> ${describe(after)}` };
  }
  if (before.verdict !== after.verdict) return { kind: 'changed', note: firstLine(after.message) };
  return undefined;
}

function isSlower(before: CaseResult, after: CaseResult, threshold: DurationThreshold): boolean {
  return after.durationMs - before.durationMs >= threshold.floorMs && after.durationMs > before.durationMs * (1 + threshold.percent / 100);
}

function emptyChanges(): Record<ChangeKind, CaseChange[]> {
  return Object.fromEntries(CHANGE_KINDS.map((kind) => [kind, []])) as unknown as Record<ChangeKind, CaseChange[]>;
}

function change(base: CaseResult, before: CaseResult | undefined, after: CaseResult | undefined, note?: string): CaseChange {
  return {
    isa: base.isa, suite: base.suite, case: base.case, image: base.image,
    ...(before && { before: before.verdict, beforeMs: before.durationMs }),
    ...(after && { after: after.verdict, afterMs: after.durationMs }),
    ...(note && { note }),
  };
}

export function compareRuns(oldRun: RunResults, newRun: RunResults, options: { durationThreshold?: DurationThreshold } = {}): Comparison {
  const groups = new Map<string, GroupComparison>();
  const groupOf = (r: CaseResult) => {
    const key = `${r.isa}\0${r.suite}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { isa: r.isa, suite: r.suite, changes: emptyChanges(), unchanged: 0 }));
    return group;
  };
  const oldByKey = new Map(oldRun.results.map((r) => [caseKey(r), r]));
  const newKeys = new Set<string>();
  for (const after of newRun.results) {
    const key = caseKey(after);
    newKeys.add(key);
    const before = oldByKey.get(key);
    const group = groupOf(after);
    if (!before) {
      group.changes.added.push(change(after, undefined, after, firstLine(after.message)));
      continue;
    }
    const found = classify(before, after);
    if (found) group.changes[found.kind].push(change(after, before, after, found.note));
    else group.unchanged++;
    const threshold = options.durationThreshold;
    if (threshold && verdictClass(after.verdict) === 'pass' && isSlower(before, after, threshold)) {
      const note = `${(before.durationMs / 1000).toFixed(2)} s -> ${(after.durationMs / 1000).toFixed(2)} s`;
      group.changes.slower.push(change(after, before, after, note));
    }
  }
  for (const before of oldRun.results) {
    if (!newKeys.has(caseKey(before))) groupOf(before).changes.gone.push(change(before, before, undefined));
  }

  const sorted = [...groups.values()].sort((a, b) => compareIsas(a.isa, b.isa) || a.suite.localeCompare(b.suite));
  const totals = Object.fromEntries(CHANGE_KINDS.map((kind) => [kind, sorted.reduce((sum, g) => sum + g.changes[kind].length, 0)])) as Record<ChangeKind, number>;
  const images = new Set([...Object.keys(oldRun.properties.images), ...Object.keys(newRun.properties.images)]);
  const imageChanges = [...images]
    .sort()
    .map((image) => ({ image, before: oldRun.properties.images[image]?.digest, after: newRun.properties.images[image]?.digest }))
    .filter((c) => c.before !== c.after);
  const side = (run: RunResults) => ({ matrix: matrixNameOf(run), startedAt: run.properties.startedAt, cases: run.results.length });
  return {
    old: side(oldRun),
    new: side(newRun),
    ...(options.durationThreshold && { durationThreshold: options.durationThreshold }),
    groups: sorted,
    totals,
    imageChanges,
  };
}

/** Every change of one kind across groups, in ISA then suite order. */
export function changesOf(comparison: Comparison, kind: ChangeKind): CaseChange[] {
  return comparison.groups.flatMap((g) => g.changes[kind]);
}

/** "s390x busybox/sort -n" (with the image when it is not the project's own). */
export function changeLabel(c: Pick<CaseChange, 'isa' | 'suite' | 'case' | 'image'>): string {
  return `${c.isa} ${c.suite}/${c.case}${c.image === 'built' ? '' : ` [${c.image}]`}`;
}

function changeLine(c: CaseChange): string {
  const verdicts = `${c.before ?? '(absent)'} -> ${c.after ?? '(absent)'}`;
  return `  ${changeLabel(c)}: ${verdicts}${c.note ? `: ${c.note}` : ''}`;
}

/** Lines listed per kind before the rest is summarised, so a terminal stays readable. */
const LISTED_PER_KIND = 50;

/** The terminal form: a table per ISA x suite with a change, then the changes, regressions first. */
export function formatComparison(comparison: Comparison): string {
  const header = ['ISA', 'suite', ...CHANGE_KINDS.map((k) => CHANGE_TITLES[k].split(' ')[0] as string), 'same'];
  const rows = comparison.groups
    .filter((g) => CHANGE_KINDS.some((k) => g.changes[k].length))
    .map((g) => [g.isa, g.suite, ...CHANGE_KINDS.map((k) => String(g.changes[k].length)), String(g.unchanged)]);
  const total = ['total', '', ...CHANGE_KINDS.map((k) => String(comparison.totals[k])), String(comparison.groups.reduce((s, g) => s + g.unchanged, 0))];
  const table = [header, ...rows, total];
  const widths = header.map((_, i) => Math.max(...table.map((line) => (line[i] as string).length)));
  const render = (line: string[]) => line.map((cell, i) => (i < 2 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number))).join('  ').trimEnd();
  const rule = '-'.repeat(widths.reduce((s, w) => s + w, 0) + 2 * (widths.length - 1));
  const lines = [
    `old: ${comparison.old.matrix} ${comparison.old.startedAt} (${comparison.old.cases} cases)`,
    `new: ${comparison.new.matrix} ${comparison.new.startedAt} (${comparison.new.cases} cases)`,
    '',
    ...(rows.length ? [render(header), rule, ...rows.map(render), rule, render(total)] : [`no case changed (${total.at(-1)} cases the same)`]),
  ];
  for (const kind of CHANGE_KINDS) {
    const changes = changesOf(comparison, kind);
    if (!changes.length) continue;
    lines.push('', `${CHANGE_TITLES[kind]} (${changes.length}):`, ...changes.slice(0, LISTED_PER_KIND).map(changeLine));
    if (changes.length > LISTED_PER_KIND) lines.push(`  ... and ${changes.length - LISTED_PER_KIND} more (--json lists all)`);
  }
  for (const c of comparison.imageChanges) lines.push(`image ${c.image}: ${c.before ?? '(absent)'} -> ${c.after ?? '(absent)'}`);
  return lines.join('\n');
}
