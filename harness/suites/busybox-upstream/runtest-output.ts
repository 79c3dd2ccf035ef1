// Reads what BusyBox's `runtest -v` prints: a `PASS:`, `FAIL:`, `SKIPPED:` or `UNTESTED:`
// line per case. With -v, testing.sh prints a "=====" line and the command before each
// case and `diff -u expected actual` after a failing one; old-style tests print their
// `sh -x` trace after a failure. Pure.
import type { SubResult } from '../../subresults.ts';

const RESULT_LINE = /^(PASS|FAIL|SKIPPED|UNTESTED): (.*)$/;
const SEPARATOR = '======================';

const VERDICTS = { PASS: 'passed', FAIL: 'failed', SKIPPED: 'skipped', UNTESTED: 'skipped' } as const;

export function parseRuntestOutput(stdout: string): SubResult[] {
  const results: SubResult[] = [];
  let preamble: string[] = []; // the command lines since the last separator
  let current: { kind: keyof typeof VERDICTS; name: string; lines: string[]; detail: string[] } | undefined;
  const finish = () => {
    if (!current) return;
    const detail = current.detail.join('\n').trimEnd();
    const message = current.kind === 'FAIL'
      ? [`FAIL: ${current.name}`, ...(detail ? [detail] : [])].join('\n')
      : current.kind === 'UNTESTED' ? 'UNTESTED: the applet or a feature it needs is not in the .config' : current.kind === 'SKIPPED' ? 'SKIPPED by the testsuite (an optional feature is off, or a known bug or internet test skipped)' : undefined;
    results.push({
      name: current.name,
      verdict: VERDICTS[current.kind],
      output: [...current.lines, ...current.detail].join('\n').trimEnd() + '\n',
      ...(message !== undefined && { message }),
    });
    current = undefined;
  };
  for (const line of stdout.split('\n')) {
    const result = RESULT_LINE.exec(line);
    if (result) {
      finish();
      current = { kind: result[1] as keyof typeof VERDICTS, name: result[2]!.trim(), lines: [...preamble, line], detail: [] };
      preamble = [];
    } else if (line === SEPARATOR) {
      finish();
      preamble = [line];
    } else if (current) {
      current.detail.push(line);
    } else {
      preamble.push(line);
    }
  }
  finish();
  return results;
}
