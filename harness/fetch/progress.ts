// What a download shows while it runs: a bar per file on a terminal, a line when it starts
// and one when it ends in CI logs, nothing when quiet. Several downloads share one display.
import type { createLogUpdate } from 'log-update';
import type { ProgressMode } from '../report/progress.ts';

export interface TransferProgress {
  /** `bytes` more arrived. */
  advance(bytes: number): void;
  /** Finished (ok) or abandoned (an error is reported by whoever threw it). */
  end(ok: boolean): void;
}

/** A download counts bytes; a pull (skopeo) shows only that it runs. */
export type FetchAction = 'download' | 'pull';

export interface FetchProgress {
  /** A transfer of `label`, `total` bytes when the server said. */
  start(label: string, total?: number, action?: FetchAction): TransferProgress;
}

const VERBS: Record<FetchAction, [string, string]> = { download: ['downloading', 'downloaded'], pull: ['pulling', 'pulled'] };

const BAR_WIDTH = 24;
const REDRAW_MS = 100;

export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** `[#####-----]  42%  1.2 MB/2.9 MB  label`, or the byte count alone when the size is unknown. */
export function formatBar(label: string, done: number, total: number | undefined, action: FetchAction = 'download'): string {
  if (action === 'pull') return `${VERBS.pull[0]} ${label}`;
  if (!total) return `${formatBytes(done)}  ${label}`;
  const fraction = Math.min(1, done / total);
  const filled = Math.round(fraction * BAR_WIDTH);
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${percent}  ${formatBytes(done)}/${formatBytes(total)}  ${label}`;
}

function plainProgress(stream: NodeJS.WritableStream): FetchProgress {
  return {
    start(label, total, action = 'download') {
      const started = Date.now();
      const [doing, done] = VERBS[action];
      let bytes = 0;
      stream.write(`${doing} ${label}${total ? ` (${formatBytes(total)})` : ''}\n`);
      return {
        advance: (n) => void (bytes += n),
        end: (ok) => {
          const size = action === 'download' ? `: ${formatBytes(bytes)}` : '';
          if (ok) stream.write(`${done} ${label}${size} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
        },
      };
    },
  };
}

function ttyProgress(stream: NodeJS.WritableStream, logUpdate: typeof createLogUpdate): FetchProgress {
  const log = logUpdate(stream);
  const active = new Set<{ label: string; done: number; total?: number; action: FetchAction }>();
  let pending: NodeJS.Timeout | undefined;
  const draw = () => {
    pending = undefined;
    log([...active].map((t) => formatBar(t.label, t.done, t.total, t.action)).join('\n'));
  };
  return {
    start(label, total, action = 'download') {
      const transfer = { label, done: 0, total, action };
      active.add(transfer);
      draw();
      return {
        advance(bytes) {
          transfer.done += bytes;
          pending ??= setTimeout(draw, REDRAW_MS).unref();
        },
        end(ok) {
          clearTimeout(pending);
          pending = undefined;
          active.delete(transfer);
          // A finished bar is written out for good; the others are redrawn below it.
          log.clear();
          if (ok) stream.write(`${action === 'pull' ? `${VERBS.pull[1]} ${label}` : formatBar(label, transfer.done, transfer.total ?? transfer.done)}\n`);
          if (active.size) draw();
          else log.done(); // gives the cursor back
        },
      };
    },
  };
}

const quiet: FetchProgress = { start: () => ({ advance() {}, end() {} }) };

/** Async: log-update is loaded only for a terminal (`list` and plain runs skip its import). */
export async function createFetchProgress(mode: ProgressMode, stream: NodeJS.WritableStream = process.stderr): Promise<FetchProgress> {
  switch (mode) {
    case 'quiet':
      return quiet;
    case 'plain':
      return plainProgress(stream);
    case 'tty':
      return ttyProgress(stream, (await import('log-update')).createLogUpdate);
  }
}
