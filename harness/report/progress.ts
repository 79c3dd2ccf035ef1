// What a run shows while it runs: live per-ISA lines on a terminal, plain lines in CI logs,
// nothing when quiet. Fed one finished case at a time; reads results only.
import type { CaseResult } from '../results.ts';
import { compareIsas } from './order.ts';
import { failureLine } from './failures.ts';
import { countResult, emptyCounts, type Counts } from './summary.ts';
import { isFailing } from './verdicts.ts';

export type ProgressMode = 'tty' | 'plain' | 'quiet';

export interface ProgressOptions {
  isas: string[];
  /** Cases planned per ISA and suite (ISA -> suite -> count): a suite is finished at its count. */
  totals: Record<string, Record<string, number>>;
  mode: ProgressMode;
  /** Default: stderr, so stdout stays free for what a command prints. */
  stream?: NodeJS.WritableStream;
}

export interface Progress {
  caseDone(result: CaseResult): void;
  /** Draws the final state and releases the terminal; call it once, also after a failed run. */
  stop(): void;
}

/** Live redrawing needs a terminal nobody logs: not in CI, not on a dumb terminal. */
export function progressMode(env: NodeJS.ProcessEnv, isTTY: boolean, quiet: boolean): ProgressMode {
  if (quiet) return 'quiet';
  return isTTY && !env.CI && env.TERM !== 'dumb' ? 'tty' : 'plain';
}

/** Redraws at most this often: hundreds of cases a second would otherwise flood the terminal. */
const REDRAW_MS = 100;

/** "12 tests: 10 passed, 1 failed, 1 skipped (3.2 s)": zero counts left out. */
export function formatCounts(counts: Counts): string {
  const parts = (['passed', 'failed', 'error', 'skipped', 'known', 'flaky'] as const)
    .filter((key) => counts[key] > 0)
    .map((key) => `${counts[key]} ${key === 'error' ? 'errors' : key}`);
  return `${counts.total} tests: ${parts.join(', ')} (${(counts.durationMs / 1000).toFixed(1)} s)`;
}

function plainProgress(options: ProgressOptions, stream: NodeJS.WritableStream): Progress {
  const suiteCounts = new Map<string, Counts>();
  return {
    caseDone(result) {
      if (isFailing(result)) stream.write(`${failureLine(result)}\n`);
      const key = `${result.isa}\0${result.suite}`;
      const counts = suiteCounts.get(key) ?? emptyCounts();
      suiteCounts.set(key, counts);
      countResult(counts, result);
      if (counts.total === options.totals[result.isa]?.[result.suite]) {
        stream.write(`${result.isa} ${result.suite}: ${formatCounts(counts)}\n`);
      }
    },
    stop() {},
  };
}

interface IsaState {
  done: number;
  total: number;
  failed: number;
  last: string;
}

async function ttyProgress(options: ProgressOptions, stream: NodeJS.WritableStream): Promise<Progress> {
  // Loaded only for a terminal: its start-up (string widths, ANSI wrapping) was a tenth of a quiet run's.
  const { createLogUpdate } = await import('log-update');
  const log = createLogUpdate(stream);
  const isas = [...options.isas].sort(compareIsas);
  const width = Math.max(...isas.map((isa) => isa.length));
  const states = new Map<string, IsaState>(
    isas.map((isa) => [isa, { done: 0, total: Object.values(options.totals[isa] ?? {}).reduce((a, b) => a + b, 0), failed: 0, last: '' }]),
  );
  let lastDraw = 0;
  let pending: NodeJS.Timeout | undefined;
  const draw = () => {
    pending = undefined;
    lastDraw = Date.now();
    log(
      isas
        .map((isa) => {
          const s = states.get(isa) as IsaState;
          const failed = s.failed ? `  ${s.failed} failed` : '';
          return `${isa.padEnd(width)}  ${s.done}/${s.total}${failed}${s.last ? `  ${s.last}` : ''}`;
        })
        .join('\n'),
    );
  };
  draw();
  return {
    caseDone(result) {
      const state = states.get(result.isa);
      if (!state) return;
      state.done++;
      if (isFailing(result)) state.failed++;
      state.last = `${result.suite}/${result.case}`;
      if (isFailing(result)) {
        // Above the live lines, where it stays: clear them, print it, draw them again below.
        log.clear();
        stream.write(`${failureLine(result)}\n`);
        clearTimeout(pending);
        draw();
        return;
      }
      if (pending) return;
      const wait = REDRAW_MS - (Date.now() - lastDraw);
      if (wait <= 0) draw();
      else pending = setTimeout(draw, wait).unref();
    },
    stop() {
      clearTimeout(pending);
      draw();
      log.done();
    },
  };
}

export async function createProgress(options: ProgressOptions): Promise<Progress> {
  const stream = options.stream ?? process.stderr;
  switch (options.mode) {
    case 'quiet':
      return { caseDone() {}, stop() {} };
    case 'plain':
      return plainProgress(options, stream);
    case 'tty':
      return ttyProgress(options, stream);
  }
}
