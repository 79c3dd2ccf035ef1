// What `--duration-threshold` means: how much slower than its baseline a case may get before
// diff, report and qualify call it a regression. Its own module: the CLI reads it at every
// start, and diff.ts loads the results readers.
import { HarnessError } from './errors.ts';

export interface DurationThreshold {
  /** Slower by more than this many percent ... */
  percent: number;
  /** ... and by at least this many milliseconds (millisecond jitter is not a regression). */
  floorMs: number;
}

export const DEFAULT_DURATION_FLOOR_MS = 1000;

/** "50" or "50%": the percent a case may be slower than its baseline. */
export function parseDurationThreshold(value: string): DurationThreshold {
  const percent = Number(value.replace(/%$/, ''));
  if (!Number.isFinite(percent) || percent < 0) throw new HarnessError(`--duration-threshold: '${value}' is not a percentage (e.g. 50%)`);
  return { percent, floorMs: DEFAULT_DURATION_FLOOR_MS };
}
