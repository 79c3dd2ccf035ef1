// Runs one build command with zx, quietly, and turns a failure into an error that names the
// command and shows the end of its output (the part that says what broke).
import type { $ as Zx } from 'zx';
import { HarnessError } from '../harness/errors.ts';

// zx is loaded on the first build command, not at every start of the CLI (list, --version).
let zx: Promise<typeof Zx> | undefined;

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Aborting kills the command's whole process tree (make and its compilers), not just the shell. */
  signal?: AbortSignal;
  input?: string;
}

const TAIL_LINES = 25;

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error(`aborted: ${String(signal.reason)}`);
}

export async function run(argv: string[], options: RunOptions = {}): Promise<string> {
  const { cwd, signal, input } = options;
  if (signal?.aborted) throw abortReason(signal);
  const env = { ...process.env, LC_ALL: 'C', ...options.env };
  const $ = await (zx ??= import('zx').then((m) => m.$));
  const child = $({ cwd, env, input, quiet: true, nothrow: true })`${argv}`;
  const killTree = () => void child.kill('SIGKILL').catch(() => {});
  signal?.addEventListener('abort', killTree, { once: true });
  try {
    const result = await child;
    if (signal?.aborted) throw abortReason(signal);
    if (result.exitCode !== 0) {
      const tail = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-TAIL_LINES).join('\n');
      throw new HarnessError(`\`${argv.join(' ')}\` exited ${result.exitCode ?? result.signal}${cwd ? ` in ${cwd}` : ''}:\n${tail}`);
    }
    return result.stdout;
  } finally {
    signal?.removeEventListener('abort', killTree);
  }
}
