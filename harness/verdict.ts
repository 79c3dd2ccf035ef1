// Judges one attempt of a case against what the case expects. Pure.
import { createTwoFilesPatch } from 'diff';
import type { TestCase } from './case.ts';
import { type Isa, qemuBinary } from './isa.ts';
import { describeLimitHit } from './limits.ts';
import type { Attempt } from './results.ts';

export interface Judgement {
  passed: boolean;
  /** Expected vs got, when it failed. */
  message?: string;
}

/** A unified diff of two outputs, headed by the names of what is compared. */
export function outputDiff(expectedName: string, expected: string, gotName: string, got: string): string {
  return createTwoFilesPatch(expectedName, gotName, expected, got, undefined, undefined, { context: 3 })
    .split('\n')
    .slice(1) // drop the "====" separator line; keep ---/+++ and the hunks
    .join('\n')
    .trimEnd();
}

/** Exit status a shell reports for a child killed by SIGILL (128 + 4). */
const SIGILL_EXIT = 132;

/** Why SIGILL, where the ISA runs its guests on a named baseline CPU: the binary wants a newer one. */
export function illegalInstructionMessage(isa: Pick<Isa, 'qemuCpu'>): string | undefined {
  return isa.qemuCpu ? `illegal instruction: this binary needs a newer CPU than the ISA's baseline (${isa.qemuCpu})` : undefined;
}

/** qemu-user's own failures (not the guest's): assertions, TCG and fatal errors it prints before dying. */
const EMULATOR_CRASH = /^(qemu[-\w]*: .*(?:[Aa]ssertion|fatal|tcg|Unsupported)|\*\*\s*ERROR:.*qemu).*$/m;

/** `isa` names the ISA (and its emulator) in the messages of a guest that died of a signal. */
export function judge(testCase: TestCase, attempt: Attempt, timeoutMs: number, isa?: Isa): Judgement {
  const judged = judgeOutcome(testCase, attempt, timeoutMs, isa);
  // A limit explains the failure; the memory limit is the failure (its SIGKILL says nothing more).
  const hits = attempt.limitHits ?? [];
  if (judged.passed || hits.length === 0) return judged;
  const oom = hits.find((hit) => hit.limit === 'memory');
  if (oom && attempt.signal === 'SIGKILL' && !attempt.timedOut) return { passed: false, message: [describeLimitHit(oom), ...hits.filter((hit) => hit !== oom).map(describeLimitHit)].join('; ') };
  return { passed: false, message: `${hits.map(describeLimitHit).join('; ')}\n${judged.message ?? ''}`.trimEnd() };
}

function judgeOutcome(testCase: TestCase, attempt: Attempt, timeoutMs: number, isa?: Isa): Judgement {
  if (attempt.timedOut) return { passed: false, message: `timed out after ${(timeoutMs / 1000).toFixed(1)} s (whole process tree killed)` };
  const crash = attempt.signal || attempt.exitCode === null ? EMULATOR_CRASH.exec(attempt.stderr)?.[0] : undefined;
  if (crash) return { passed: false, message: `the emulator crashed${isa ? ` (${qemuBinary(isa)}, ${isa.name})` : ''}, not the guest: ${crash.trim()}` };
  const illegal = isa && illegalInstructionMessage(isa);
  if (attempt.signal === 'SIGILL' && illegal && testCase.expect.signal !== 'SIGILL') return { passed: false, message: illegal };
  const { expect } = testCase;
  if (attempt.signal && attempt.signal !== expect.signal) return { passed: false, message: `died of ${attempt.signal}${isa ? ` (${isa.name} guest)` : ''}${expect.signal ? `, expected ${expect.signal}` : ''}` };
  const wantedExit = expect.exitCode ?? 0;
  const problems: string[] = [];
  if (expect.signal && !attempt.signal) problems.push(`expected to die of ${expect.signal}, exited ${attempt.exitCode}`);
  else if (!expect.signal && !expect.anyExitCode && attempt.exitCode !== wantedExit) {
    // A shell in the guest reports its child's SIGILL as exit 132.
    const why = attempt.exitCode === SIGILL_EXIT && illegal ? ` (${illegal})` : '';
    problems.push(`exit code: expected ${wantedExit}, got ${attempt.exitCode}${why}`);
  }
  if (expect.stdout !== undefined && attempt.stdout !== expect.stdout) {
    problems.push(`stdout differs:\n${outputDiff('expected', expect.stdout, 'got', attempt.stdout)}`);
  }
  if (expect.stdoutMatches !== undefined && !new RegExp(expect.stdoutMatches, 'm').test(attempt.stdout)) {
    problems.push(`stdout does not match /${expect.stdoutMatches}/m; got:\n${attempt.stdout}`);
  }
  const excluded = expect.stdoutExcludes === undefined ? [] : attempt.stdout.split('\n').filter((line) => new RegExp(expect.stdoutExcludes!).test(line));
  if (excluded.length) problems.push(`stdout has ${excluded.length} line(s) matching /${expect.stdoutExcludes}/:\n${excluded.join('\n')}`);
  return problems.length ? { passed: false, message: problems.join('\n') } : { passed: true };
}
