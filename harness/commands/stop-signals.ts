// Ctrl-C and SIGTERM for a command that cleans up after itself: the first signal aborts its
// work through an AbortSignal; `exitCode` says which signal came (130 SIGINT, 143 SIGTERM).
import { EXIT_INTERRUPTED, EXIT_TERMINATED } from '../errors.ts';

export interface StopSignals {
  signal: AbortSignal;
  /** The exit code for the signal that stopped the command (130 until one comes). */
  exitCode(): number;
  /** Gives SIGINT and SIGTERM back to their earlier handlers. */
  dispose(): void;
}

/** `secondExits`: a second signal exits at once with that code, cleanup or not. */
export function onStopSignals(options: { secondExits?: boolean } = {}): StopSignals {
  const abort = new AbortController();
  let code = EXIT_INTERRUPTED;
  const onSignal = (received: NodeJS.Signals) => {
    if (abort.signal.aborted && options.secondExits) process.exit(code);
    code = received === 'SIGTERM' ? EXIT_TERMINATED : EXIT_INTERRUPTED;
    abort.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: abort.signal,
    exitCode: () => code,
    dispose: () => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    },
  };
}
