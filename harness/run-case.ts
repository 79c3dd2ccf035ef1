// Runs one case in its image: the one mapping from a case's data to the sandbox's options.
import type { TestCase } from './case.ts';
import type { Isa } from './isa.ts';
import { DEFAULT_LIMITS, type Limits, mergeLimits } from './limits.ts';
import { runInSandbox, type SandboxRunOptions, type SandboxRunResult } from './sandbox/index.ts';
import { judge } from './verdict.ts';

/** How a case is run, beyond its own data: `limits` are the suite's and matrix's, merged (PlannedCase.limits). */
export interface RunCaseOptions extends Pick<SandboxRunOptions, 'signal' | 'slot' | 'onStart'> {
  limits?: Limits;
}

/** The case's own limits go over `limits`. */
export function runCase(testCase: TestCase, target: { rootfs: string; isa: Isa }, timeoutMs: number, { signal, limits = DEFAULT_LIMITS, slot, onStart }: RunCaseOptions = {}): Promise<SandboxRunResult> {
  return runInSandbox({
    rootfs: target.rootfs,
    isa: target.isa,
    argv: testCase.argv,
    stdin: testCase.stdin,
    stderrToStdout: testCase.stderrToStdout,
    cwd: testCase.cwd,
    files: testCase.files,
    layers: testCase.layers,
    hostFiles: testCase.hostFiles,
    env: testCase.env,
    timeoutMs,
    emptyRoot: testCase.emptyRoot,
    guestIsPid1: testCase.pid1,
    limits: mergeLimits(limits, testCase.limits),
    signal,
    slot,
    onStart,
  });
}

/** Runs a case once and judges it: why it failed, or undefined when it passed. */
export async function caseFailure(testCase: TestCase, target: { rootfs: string; isa: Isa }, baseTimeoutSeconds = 30): Promise<string | undefined> {
  const timeoutMs = (testCase.timeoutSeconds ?? baseTimeoutSeconds) * target.isa.timeoutMultiplier * 1000;
  return judge(testCase, await runCase(testCase, target, timeoutMs), timeoutMs, target.isa).message;
}
