// Reports list ISAs in the ISA table's order, so every report of a run reads the same way.
import { ISA_NAMES } from '../isa.ts';

/** ISAs in table order; names the table does not know go last, alphabetically. */
export function compareIsas(a: string, b: string): number {
  const rank = (name: string) => {
    const index = ISA_NAMES.indexOf(name);
    return index === -1 ? ISA_NAMES.length : index;
  };
  return rank(a) - rank(b) || a.localeCompare(b);
}

/** Groups items by `key`, keeping each group's items in input order; groups sorted by `compare`. */
export function groupSorted<T>(items: readonly T[], key: (item: T) => string, compare: (a: T, b: T) => number): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return [...groups.values()].sort((a, b) => compare(a[0] as T, b[0] as T));
}
