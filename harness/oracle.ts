// The cross-ISA oracle: a case whose output must agree across ISAs, and does not, fails on
// the ISAs that disagree with the majority (every ISA when there is no majority), naming
// them and showing the diff. This catches endianness and word-size bugs that an expected
// output written on x86_64 would miss.
import type { CaseResult } from './results.ts';
import { outputDiff } from './verdict.ts';

function lastStdout(result: CaseResult): string | undefined {
  return result.attempts[result.attempts.length - 1]?.stdout;
}

/**
 * Returns the results with oracle failures applied. Only results whose key is in
 * `crossIsaKeys` (`<suite>/<case>`) take part, grouped by image and case; skipped and
 * errored results are left out of the vote.
 */
export function applyCrossIsaOracle(results: CaseResult[], crossIsaKeys: ReadonlySet<string>): CaseResult[] {
  const groups = new Map<string, CaseResult[]>();
  for (const result of results) {
    if (!crossIsaKeys.has(`${result.suite}/${result.case}`)) continue;
    if (result.verdict !== 'passed' && result.verdict !== 'failed' && result.verdict !== 'known-failure') continue;
    if (lastStdout(result) === undefined) continue;
    const key = `${result.image}\0${result.suite}\0${result.case}`;
    groups.set(key, [...(groups.get(key) ?? []), result]);
  }

  const overrides = new Map<CaseResult, string>();
  for (const group of groups.values()) {
    const byOutput = new Map<string, CaseResult[]>();
    for (const result of group) byOutput.set(lastStdout(result)!, [...(byOutput.get(lastStdout(result)!) ?? []), result]);
    if (byOutput.size < 2) continue;
    const names = (rs: CaseResult[]) => rs.map((r) => r.isa).sort().join(', ');
    // Ties by the ISAs' names, not by the order results arrived in: a merge of shards says the same as one run.
    const ranked = [...byOutput.entries()].sort((a, b) => b[1].length - a[1].length || names(a[1]).localeCompare(names(b[1])));
    const [majorityOutput, majority] = ranked[0]!;
    const hasMajority = majority.length > (ranked[1]?.[1].length ?? 0);
    for (const [output, members] of ranked) {
      if (hasMajority && output === majorityOutput) continue;
      const reference = hasMajority ? majority : ranked.find(([o]) => o !== output)![1];
      const refOutput = hasMajority ? majorityOutput : lastStdout(reference[0]!)!;
      const message =
        `cross-ISA oracle: output on ${names(members)} differs from ${names(reference)}\n` +
        outputDiff(names(reference), refOutput, names(members), output);
      for (const member of members) overrides.set(member, message);
    }
  }

  return results.map((result) => {
    const message = overrides.get(result);
    if (!message) return result;
    return { ...result, verdict: result.verdict === 'known-failure' ? 'known-failure' : 'failed', message: result.message ? `${result.message}\n${message}` : message };
  });
}

/**
 * The verdicts that need the whole run, applied last by a run and by a merge of shards: the
 * cross-ISA oracle over the results marked crossIsa, then known failures (an oracle failure
 * of a case on the known-failures list is a known failure).
 */
export function applyRunWideVerdicts(results: CaseResult[]): CaseResult[] {
  const crossIsaKeys = new Set(results.filter((r) => r.crossIsa).map((r) => `${r.suite}/${r.case}`));
  return applyCrossIsaOracle(results, crossIsaKeys).map((r) => (r.verdict === 'failed' && r.knownFailure ? { ...r, verdict: 'known-failure' } : r));
}
