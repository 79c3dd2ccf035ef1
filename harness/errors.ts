// Exit codes the CLI promises: 0 all good, 1 tests failed, 2 bad usage, input or host,
// 70 a bug in the harness (the trace is written to a file), 130 interrupted (SIGINT), 143
// terminated (SIGTERM).
export const EXIT_OK = 0;
export const EXIT_TESTS_FAILED = 1;
export const EXIT_BAD_INPUT = 2;
/** An exception nobody expected: a bug in the harness, not in the input (EX_SOFTWARE). */
export const EXIT_INTERNAL = 70;
/** Stopped by Ctrl-C, as shells report a SIGINT death (128 + 2). */
export const EXIT_INTERRUPTED = 130;
/** Stopped by SIGTERM (128 + 15). */
export const EXIT_TERMINATED = 143;

/**
 * An error the user can act on: its message is one line that names the file, field or
 * path at fault and says what to do. The CLI prints it without a stack and exits 2.
 */
export class HarnessError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT_BAD_INPUT) {
    super(message);
    this.name = 'HarnessError';
  }
}
