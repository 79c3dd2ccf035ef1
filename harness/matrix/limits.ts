// The limits: section of a matrix (and of a suite): per-case memory, tasks, writable space
// and output, as sizes and counts people write.
import { LIMIT_KEYS, type Limits } from '../limits.ts';
import type { Field, FieldReader } from './fields.ts';
import { parseSize } from './units.ts';

/** `level` suite: the keys that apply per case only (archive_members is the matrix's alone). */
export function readLimits(reader: FieldReader, at: Field, level: 'matrix' | 'suite'): Partial<Limits> | undefined {
  const entries = reader.map(at, Object.keys(LIMIT_KEYS), { noun: 'limit' });
  if (!entries) return undefined;
  const limits: Partial<Limits> = {};
  for (const [key, field] of entries) {
    const spec = LIMIT_KEYS[key]!;
    if (spec.matrixOnly && level === 'suite') {
      reader.report(field, `${key} applies to the whole matrix (images are extracted once, before any suite): set it under the matrix's limits:`);
      continue;
    }
    const value = spec.kind === 'size'
      ? reader.measure(field, 'a size, e.g. 512MiB', parseSize)
      : reader.integer(field, 1, key === 'pids' ? 'a whole number of tasks (1 or more), e.g. 256' : 'a whole number of members (1 or more), e.g. 100000');
    if (value !== undefined) limits[spec.field] = value;
  }
  return limits;
}
