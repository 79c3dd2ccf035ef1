// One case, many results: a case whose stdout reports many sub-cases (a testsuite's
// PASS/FAIL lines) names a parser (TestCase.subResults); this turns its one result into
// one result per sub-case, `<case>: <sub-case>`. The case itself is reported too, but only
// when the run went wrong beyond a failing sub-case (timeout, signal, nothing reported).
import type { SubResultFormat, TestCase } from './case.ts';
import type { Attempt, CaseResult } from './results.ts';
import { parseRuntestOutput } from './suites/busybox-upstream/runtest-output.ts';

/** One sub-case as a parser reads it from the output. */
export interface SubResult {
  name: string;
  verdict: 'passed' | 'failed' | 'skipped';
  /** The lines that belong to it (command, result line, diff). */
  output: string;
  /** A failure's diff or a skip's reason. */
  message?: string;
}

const PARSERS: Readonly<Record<SubResultFormat, (stdout: string) => SubResult[]>> = {
  'busybox-runtest': parseRuntestOutput,
};

/** Sub-case names made unique within one case, in order: a repeated name gets ` (2)`, ` (3)`, ... */
function uniqueNames(subs: readonly SubResult[]): string[] {
  const seen = new Map<string, number>();
  return subs.map((sub) => {
    const n = (seen.get(sub.name) ?? 0) + 1;
    seen.set(sub.name, n);
    return n === 1 ? sub.name : `${sub.name} (${n})`;
  });
}

/** Why the run as a whole went wrong, beyond failing sub-cases; undefined when it did not. */
function runProblem(last: Attempt, subs: readonly SubResult[], judged: string | undefined): string | undefined {
  if (last.timedOut || last.signal) return `${judged ?? `died of ${last.signal}`}; ${subs.length} result(s) were reported before`;
  if (subs.length === 0) return `reported no result and exited ${last.exitCode}; see its output`;
  if (last.exitCode !== 0 && !subs.some((sub) => sub.verdict === 'failed')) return `exited ${last.exitCode} though no sub-case failed; see its output`;
  return undefined;
}

/**
 * The results of a finished case: itself when it has no sub-results (or never ran), else one
 * per sub-case of its last attempt (each carrying an even share of the time), plus the case
 * itself when the run went wrong as a whole.
 */
export function expandSubResults(testCase: TestCase, result: CaseResult): CaseResult[] {
  const last = result.attempts.at(-1);
  if (!testCase.subResults || !last) return [result];
  const parse = PARSERS[testCase.subResults];
  const subs = parse(last.stdout);
  // A sub-case that failed in an earlier attempt and passes in the last is flaky.
  const failedBefore = new Set(result.attempts.slice(0, -1).flatMap((attempt) => {
    const earlier = parse(attempt.stdout);
    return uniqueNames(earlier).filter((_, i) => earlier[i]!.verdict === 'failed');
  }));
  const problem = runProblem(last, subs, result.verdict === 'failed' ? result.message?.split('\n')[0] : undefined);
  // The time is shared evenly by every record reported, so the sum stays the job's.
  const share = result.durationMs / (subs.length + (problem ? 1 : 0));
  const { message: _jobMessage, ...base } = result;
  const expanded = uniqueNames(subs).map((name, i): CaseResult => {
    const sub = subs[i]!;
    return {
      ...base,
      case: `${testCase.name}: ${name}`,
      verdict: sub.verdict,
      ...(sub.message !== undefined && { message: sub.message }),
      flaky: sub.verdict === 'passed' && failedBefore.has(name),
      attempts: [{ ...last, stdout: sub.output, stderr: sub.verdict === 'failed' ? last.stderr : '', durationMs: share }],
      durationMs: share,
    };
  });
  // Ran cleanly and had nothing to report (a testsuite file that checks nothing here).
  if (subs.length === 0 && last.exitCode === 0 && !last.timedOut) return [{ ...result, verdict: 'skipped', message: 'ran no case: it reported no result and exited 0' }];
  const whole: CaseResult[] = problem ? [{ ...result, verdict: 'failed', message: problem, durationMs: share }] : [];
  return [...expanded, ...whole];
}
