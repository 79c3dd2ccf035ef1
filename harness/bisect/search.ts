// Binary search over an ordered series with git bisect's rules: the first entry is known
// "old" (good, or still broken when looking for a fix), the last "new"; an entry that cannot
// be judged is skipped and its nearest neighbour tried instead. Pure.

export type Term = 'old' | 'new' | 'skip';

export interface SeriesSearch {
  size: number;
  /** Highest index known old. */
  lastOld: number;
  /** Lowest index known new. */
  firstNew: number;
  skipped: ReadonlySet<number>;
}

export type SearchOutcome =
  | { kind: 'found'; lastOld: number; firstNew: number }
  /** Only skipped entries lie between: the first new one is one of `candidates` (firstNew last). */
  | { kind: 'ambiguous'; lastOld: number; candidates: number[] };

/** A search whose two ends have been judged old (0) and new (size - 1). */
export function startSearch(size: number): SeriesSearch {
  if (size < 2) throw new Error(`a series to bisect needs two entries, got ${size}`);
  return { size, lastOld: 0, firstNew: size - 1, skipped: new Set() };
}

/** Entries still to judge: strictly between the last old and the first new, not skipped. */
function candidates(search: SeriesSearch): number[] {
  const out: number[] = [];
  for (let i = search.lastOld + 1; i < search.firstNew; i++) if (!search.skipped.has(i)) out.push(i);
  return out;
}

/** The entry to judge next (the one closest to the middle, the lower on a tie), or undefined when done. */
export function nextIndex(search: SeriesSearch): number | undefined {
  const middle = (search.lastOld + search.firstNew) / 2;
  let best: number | undefined;
  for (const i of candidates(search)) if (best === undefined || Math.abs(i - middle) < Math.abs(best - middle)) best = i;
  return best;
}

export function record(search: SeriesSearch, index: number, term: Term): SeriesSearch {
  if (index <= search.lastOld || index >= search.firstNew) throw new Error(`index ${index} is outside the open range (${search.lastOld}, ${search.firstNew})`);
  if (term === 'old') return { ...search, lastOld: index };
  if (term === 'new') return { ...search, firstNew: index };
  return { ...search, skipped: new Set([...search.skipped, index]) };
}

export function outcome(search: SeriesSearch): SearchOutcome {
  if (nextIndex(search) !== undefined) throw new Error('the search is not finished');
  const between: number[] = [];
  for (let i = search.lastOld + 1; i < search.firstNew; i++) between.push(i);
  if (!between.length) return { kind: 'found', lastOld: search.lastOld, firstNew: search.firstNew };
  return { kind: 'ambiguous', lastOld: search.lastOld, candidates: [...between, search.firstNew] };
}

/** Steps a search needs at most over `size` entries once both ends are judged (no skips). */
export function maxSearchSteps(size: number): number {
  return Math.ceil(Math.log2(Math.max(1, size - 1)));
}
