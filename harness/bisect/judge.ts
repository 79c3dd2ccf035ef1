// What one run says about the state it ran on, in `git bisect run` terms: the selected
// cases pass, one fails, or the state cannot be judged. Pure: reads results only.
import { EXIT_OK, EXIT_TESTS_FAILED } from '../errors.ts';
import type { CaseResult, RunResults } from '../results.ts';
import { IMAGE_CHECK_CASE, IMAGE_CHECK_SUITE } from '../prepare.ts';

/** `git bisect run`'s "cannot test this commit": the commit is skipped. */
export const EXIT_CANNOT_JUDGE = 125;

export type StateVerdict = 'pass' | 'fail' | 'skip';

export interface Judgement {
  verdict: StateVerdict;
  /** Why: the failing case's message, or why nothing could be judged. */
  reason: string;
  /** The cases the judgement rests on. */
  cases: CaseResult[];
  /** No case of the selection exists in this run (a skip). */
  absent?: boolean;
}

export function caseId(result: CaseResult): string {
  return `${result.suite}/${result.case}`;
}

const isImageCheck = (result: CaseResult) => result.suite === IMAGE_CHECK_SUITE && result.case === IMAGE_CHECK_CASE;

/**
 * Judges a run: an image whose ISA check failed, or that does not boot, cannot be judged;
 * otherwise a failed, errored or known-failing selected case fails the state (bisecting
 * asks whether the case works, whatever a matrix expects); selected cases that all pass
 * (skips aside) pass it; nothing run means it cannot be judged.
 * `only` narrows the selection to one `<suite>/<case>`; default every case but the ISA checks.
 */
export function judgeRun(run: RunResults, only?: string): Judgement {
  const blocked = run.results.filter((r) => isImageCheck(r) && r.verdict === 'failed');
  if (blocked.length) return { verdict: 'skip', reason: blocked.map((r) => r.message ?? 'image check failed').join('; '), cases: blocked };
  const selected = run.results.filter((r) => (only === undefined ? !isImageCheck(r) : caseId(r) === only));
  const failing = selected.filter((r) => r.verdict === 'failed' || r.verdict === 'error' || r.verdict === 'known-failure');
  if (failing.length) {
    return { verdict: 'fail', reason: failing.map((r) => `${r.isa} ${caseId(r)}: ${firstLine(r.message) || r.verdict}`).join('; '), cases: failing };
  }
  const passed = selected.filter((r) => r.verdict === 'passed');
  if (passed.length) return { verdict: 'pass', reason: `${passed.length} case(s) passed`, cases: passed };
  if (!selected.length) return { verdict: 'skip', reason: `no case ${only ? `'${only}' ` : ''}ran`, cases: [], absent: true };
  return { verdict: 'skip', reason: `every selected case was skipped: ${firstLine(selected[0]!.message)}`, cases: selected };
}

/** The exit code of `harness run --bisect`: 0 pass, 1 fail, 125 cannot be judged. */
export function bisectExitCode(judgement: Judgement): number {
  return judgement.verdict === 'pass' ? EXIT_OK : judgement.verdict === 'fail' ? EXIT_TESTS_FAILED : EXIT_CANNOT_JUDGE;
}

function firstLine(text: string | undefined): string {
  return (text ?? '').trim().split('\n')[0] ?? '';
}
