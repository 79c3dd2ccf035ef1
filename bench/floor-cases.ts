// Reads bench/floor-cases.yaml: which cases the run benchmark's floor gives a root of their
// own, and which it leaves out of both runs, each with its reason.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { globToRegExp, type PlannedCase } from '../harness/matrix/plan.ts';

interface FloorCaseRow {
  test: string;
  arch?: string | string[];
  reason: string;
}

const FILE = new URL('floor-cases.yaml', import.meta.url);
const rows = parse(readFileSync(FILE, 'utf8')) as { root_of_its_own: FloorCaseRow[]; excluded: FloorCaseRow[] };
// The harness run leaves a case out by its name (--grep), on every ISA it runs.
const narrowed = rows.excluded.find((row) => row.arch !== undefined);
if (narrowed) throw new Error(`${FILE.pathname}: excluded '${narrowed.test}': arch cannot narrow an excluded row (the harness run leaves a case out on every ISA)`);

function reasonFor(list: readonly FloorCaseRow[], planned: PlannedCase): string | undefined {
  return list.find((row) => globToRegExp(row.test).test(planned.test) && (row.arch === undefined || [row.arch].flat().includes(planned.job.isa.name)))?.reason;
}

/** Why the case needs a writable root of its own in the floor, if it does. */
export const rootOfItsOwnReason = (planned: PlannedCase) => reasonFor(rows.root_of_its_own, planned);
/** Why the case cannot be made fair, if it cannot: it runs in neither the harness nor the floor. */
export const excludedReason = (planned: PlannedCase) => reasonFor(rows.excluded, planned);
