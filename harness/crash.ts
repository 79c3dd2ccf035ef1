// What the CLI does with an exception nobody expected: the full trace goes to a file, the
// terminal gets one line saying where, and the exit code is EXIT_INTERNAL (never 0, 1 or 2,
// which a CI reads as a verdict). Cleanup runs all the same: finally blocks on the way up,
// and the sandbox's exit hook for anything still running.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { EXIT_INTERNAL } from './errors.ts';
import { harnessVersion } from './paths.ts';

/** Writes the trace of `error` to a file in the temp dir and returns the one line to print. */
export function reportInternalError(error: unknown, argv: readonly string[] = process.argv): string {
  const file = join(tmpdir(), `harness-crash-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}.log`);
  const text = [`harness ${harnessVersion()} (node ${process.version})`, `argv: ${JSON.stringify(argv.slice(2))}`, '', inspect(error, { depth: 6 }), ''].join('\n');
  try {
    writeFileSync(file, text);
    return `harness: internal error (a bug in the harness, exit ${EXIT_INTERNAL}): ${firstLine(error)}; full trace in ${file}`;
  } catch {
    return `harness: internal error (a bug in the harness, exit ${EXIT_INTERNAL}): ${firstLine(error)}; the trace could not be written to ${file}`;
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).split('\n')[0]!;
}

/** Exceptions thrown outside any await chain (a stream's callback): reported the same way. */
export function exitOnUncaught(): void {
  const fail = (error: unknown) => {
    process.stderr.write(`${reportInternalError(error)}\n`);
    process.exit(EXIT_INTERNAL);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
}
