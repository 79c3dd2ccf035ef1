// results.json: the run's results as written, and read back (merge, diff, re-report) with
// enough checking that a wrong or stale file fails with its path and field, not deep inside.
import { readFile } from 'node:fs/promises';
import { HarnessError } from '../errors.ts';
import type { RunResults, Verdict } from '../results.ts';
import { writeFileAtomic } from './atomic.ts';

const SCHEMA_VERSION: RunResults['schemaVersion'] = 1;

// A record, so adding a Verdict without listing it here fails to compile.
const VERDICTS: Record<Verdict, true> = { passed: true, failed: true, skipped: true, 'known-failure': true, error: true, 'emulator-only': true };
/** Every verdict results.json may hold: reports take their columns from this list. */
export const VERDICT_NAMES = Object.keys(VERDICTS) as Verdict[];

export async function writeResultsJson(results: RunResults, path: string): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(results, null, 2)}\n`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks the shape reporters rely on; returns the first problem as `field: what is wrong`. */
function shapeProblem(data: unknown): string | undefined {
  if (!isObject(data)) return 'top level: expected an object';
  if (data.schemaVersion !== SCHEMA_VERSION) {
    return `schemaVersion: expected ${SCHEMA_VERSION}, got ${JSON.stringify(data.schemaVersion)} (written by another harness version?)`;
  }
  if (!isObject(data.properties)) return 'properties: expected an object';
  for (const key of ['isas', 'images'] as const) {
    if (!isObject(data.properties[key])) return `properties.${key}: expected an object`;
  }
  if (!Array.isArray(data.results)) return 'results: expected an array';
  for (const [index, result] of data.results.entries()) {
    const at = `results[${index}]`;
    if (!isObject(result)) return `${at}: expected an object`;
    for (const key of ['suite', 'case', 'isa', 'image', 'imageDigest', 'startedAt'] as const) {
      if (typeof result[key] !== 'string') return `${at}.${key}: expected a string`;
    }
    if (typeof result.verdict !== 'string' || !(result.verdict in VERDICTS)) {
      return `${at}.verdict: expected one of ${Object.keys(VERDICTS).join(', ')}, got ${JSON.stringify(result.verdict)}`;
    }
    if (typeof result.durationMs !== 'number') return `${at}.durationMs: expected a number`;
    if (typeof result.flaky !== 'boolean') return `${at}.flaky: expected a boolean`;
    if (!Array.isArray(result.attempts)) return `${at}.attempts: expected an array`;
  }
  return undefined;
}

export async function readResultsJson(path: string): Promise<RunResults> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new HarnessError(`cannot read results ${path} (${(error as NodeJS.ErrnoException).code}); pass the results.json of a run`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new HarnessError(`${path}: not valid JSON (${(error as Error).message}); pass the results.json of a run`);
  }
  const problem = shapeProblem(data);
  if (problem) throw new HarnessError(`${path}: ${problem}`);
  return data as RunResults;
}
