// Exit codes the CLI promises: 0 all good, 1 tests failed, 2 bad usage, input or host,
// 130 interrupted.
export const EXIT_OK = 0;
export const EXIT_TESTS_FAILED = 1;
export const EXIT_BAD_INPUT = 2;
/** Stopped by Ctrl-C or SIGTERM, as shells report a SIGINT death (128 + 2). */
export const EXIT_INTERRUPTED = 130;

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
