// JUnit XML for CI (Jenkins, GitLab, junitparser): one <testsuite> per image x ISA x suite.
// Valid against the Jenkins xUnit junit-10.xsd; junitXml notes what that takes beyond the builder.
import junitModule, { type Builder, type TestCase as JunitCase } from 'junit-report-builder';
import type { Attempt, CaseResult, RunResults } from '../results.ts';
import { writeFileAtomic } from './atomic.ts';
import { truncateOutput } from './truncate.ts';
import { compareIsas, groupSorted } from './order.ts';
import { isUnexpectedPass, knownFailureText } from './summary.ts';

export { truncateOutput };

// The typings declare an ES default export; the CommonJS build exports the builder itself.
const rootBuilder = junitModule as unknown as Builder;

// Characters XML 1.0 cannot carry, escaped or not: C0 controls but tab/LF/CR, U+FFFE/F, lone surrogates.
const XML_ILLEGAL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Replaces characters XML 1.0 forbids with a visible \xNN / \uNNNN escape, so nothing vanishes silently. */
export function xmlSafe(text: string): string {
  return text.replace(XML_ILLEGAL, (ch) => {
    const code = ch.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Seconds with millisecond precision, never negative nor in exponent form (SUREFIRE_TIME). */
function seconds(ms: number): number {
  return Number((Math.max(0, ms) / 1000).toFixed(3));
}

/** The Ant/Jenkins timestamp form, yyyy-MM-ddTHH:mm:ss (it has no zone; these are UTC). */
function junitTimestamp(iso: string): string | undefined {
  const time = Date.parse(iso);
  return Number.isNaN(time) ? undefined : new Date(time).toISOString().slice(0, 19);
}

function describeAttempt(attempt: Attempt, index: number): string {
  const outcome = attempt.timedOut
    ? 'timed out'
    : attempt.signal
      ? `killed by ${attempt.signal}`
      : `exit ${attempt.exitCode}`;
  return `attempt ${index + 1}: ${outcome} (${(attempt.durationMs / 1000).toFixed(3)} s)`;
}

/** A short category for the failure's type attribute, from how the last attempt ended. */
function failureType(attempt: Attempt | undefined): string {
  if (attempt?.timedOut) return 'timeout';
  if (attempt?.signal) return 'signal';
  return 'mismatch';
}

export interface JunitOptions {
  /**
   * file= (and line=) on each <testcase> with a source: GitLab and junitparser read them, but
   * junit-10.xsd has no such attribute (a validating reader such as Jenkins xUnit rejects it).
   */
  caseFiles?: boolean;
}

/** An earlier attempt, the Maven Surefire way: <flakyFailure> in a case that then passed, <rerunFailure> in one that never did. */
interface Rerun {
  element: 'flakyFailure' | 'rerunFailure';
  message: string;
  type: string;
  systemOut?: string;
  systemErr?: string;
}

/** What the builder cannot express and is added to each <testcase> element after it builds. */
interface CaseExtras {
  skippedMessage?: string;
  systemOut?: string;
  systemErr?: string;
  reruns?: Rerun[];
  line?: number;
}

/** Every attempt but the last (which the verdict itself describes). */
function rerunsOf(result: CaseResult, element: Rerun['element']): Rerun[] {
  return result.attempts.slice(0, -1).map((attempt, index) => ({
    element,
    message: describeAttempt(attempt, index),
    type: failureType(attempt),
    systemOut: truncateOutput(attempt.stdout) || undefined,
    systemErr: truncateOutput(attempt.stderr) || undefined,
  }));
}

function extrasFor(result: CaseResult): CaseExtras {
  const last = result.attempts.at(-1);
  const output = (): CaseExtras =>
    last ? { systemOut: truncateOutput(last.stdout) || undefined, systemErr: truncateOutput(last.stderr) || undefined } : {};
  switch (result.verdict) {
    case 'passed': {
      const notes = [
        ...(isUnexpectedPass(result) ? [`unexpectedly passing: listed as a known failure (${knownFailureText(result)})`] : []),
        ...(result.flaky ? [`flaky: passed after ${result.attempts.length} attempts`, ...result.attempts.map(describeAttempt)] : []),
      ];
      const reruns = result.flaky ? { reruns: rerunsOf(result, 'flakyFailure') } : {};
      if (result.attachOutput) return { ...output(), ...(notes.length && { systemOut: [...notes, truncateOutput(last?.stdout ?? '')].join('\n') }), ...reruns };
      return { ...(notes.length && { systemOut: notes.join('\n') }), ...reruns };
    }
    case 'skipped':
      return { skippedMessage: result.message ?? 'skipped' };
    case 'known-failure':
      return { skippedMessage: `known failure: ${knownFailureText(result)}${result.triage ? ` (triage: ${result.triage.evidence})` : ''}`, ...output() };
    case 'emulator-only':
      return { skippedMessage: `emulator-only: ${result.triage?.evidence ?? result.message ?? 'passes under qemu-system'}`, ...output() };
    case 'failed':
      return { ...output(), reruns: rerunsOf(result, 'rerunFailure') };
    case 'error':
      return output();
  }
}

/**
 * The builder can put neither a message on <skipped> nor escaped text in system-out (its
 * CDATA splits only the first "]]>"), so each case's element gets those after it is built.
 */
function addExtras(testCase: JunitCase, extras: CaseExtras): void {
  const build = testCase.build.bind(testCase);
  testCase.build = (parent) => {
    const element = build(parent);
    if (extras.skippedMessage !== undefined) {
      const skipped = element.children.find((child) => (child as { name?: string }).name === 'skipped');
      (skipped as typeof element | undefined)?.att('message', xmlSafe(extras.skippedMessage));
    }
    if (extras.line !== undefined) element.att('line', String(extras.line));
    for (const rerun of extras.reruns ?? []) {
      const child = element.ele(rerun.element, { message: xmlSafe(rerun.message), type: rerun.type });
      if (rerun.systemOut) child.ele('system-out', {}, xmlSafe(rerun.systemOut));
      if (rerun.systemErr) child.ele('system-err', {}, xmlSafe(rerun.systemErr));
    }
    if (extras.systemOut) element.ele('system-out', {}, xmlSafe(extras.systemOut));
    if (extras.systemErr) element.ele('system-err', {}, xmlSafe(extras.systemErr));
    return element;
  };
}

/**
 * GitLab keeps only the first of two cases with one classname and name, so with more than
 * one image the image is part of the classname.
 */
function addCase(testCase: JunitCase, result: CaseResult, manyImages: boolean, options: JunitOptions): void {
  testCase
    .className(xmlSafe(manyImages ? `${result.suite}.${result.isa}.${result.image}` : `${result.suite}.${result.isa}`))
    .name(xmlSafe(result.case))
    .time(seconds(result.durationMs));
  const source = options.caseFiles ? result.source : undefined;
  if (source) testCase.file(xmlSafe(source.file));
  const message = xmlSafe(result.message ?? '');
  if (result.verdict === 'failed') testCase.failure(message || 'failed', failureType(result.attempts.at(-1)));
  if (result.verdict === 'error') testCase.error(message || 'harness error', 'harness-error');
  if (result.verdict === 'skipped' || result.verdict === 'known-failure' || result.verdict === 'emulator-only') testCase.skipped();
  addExtras(testCase, { ...extrasFor(result), ...(source?.line !== undefined && { line: source.line }) });
}

/** The report as a string. Pure. */
export function junitXml(results: RunResults, options: JunitOptions = {}): string {
  const { properties } = results;
  const manyImages = new Set(results.results.map((r) => r.image)).size > 1;
  const builder = rootBuilder.newBuilder();
  builder.name(xmlSafe(`alpine-qemu-harness ${properties.matrix}`));

  const suites = groupSorted(
    results.results,
    (r) => `${r.image}\0${r.isa}\0${r.suite}`,
    (a, b) => a.image.localeCompare(b.image) || compareIsas(a.isa, b.isa) || a.suite.localeCompare(b.suite),
  );
  for (const cases of suites) {
    const first = cases[0] as CaseResult;
    const isaFacts = properties.isas[first.isa];
    const suite = builder
      .testSuite()
      .name(xmlSafe(`${first.suite}.${first.isa} [${first.image}]`))
      .time(seconds(cases.reduce((sum, r) => sum + r.durationMs, 0)));
    const timestamp = junitTimestamp(cases.map((r) => r.startedAt).sort()[0] as string);
    if (timestamp) suite.timestamp(timestamp);
    const suiteProperties: Record<string, string> = {
      isa: first.isa,
      'qemu.version': isaFacts?.qemuVersion ?? 'unknown',
      'binfmt.flags': isaFacts?.binfmtFlags ?? 'unknown',
      'qemu.interpreter': isaFacts?.interpreter ?? 'unknown',
      image: first.image,
      'image.digest': first.imageDigest,
      kernel: properties.kernel,
      'host.machine': properties.hostMachine,
      'harness.version': properties.harnessVersion,
      matrix: properties.matrix,
      ...(properties.limits && { 'limits.memory': properties.limits.memory, 'limits.pids': properties.limits.pids }),
    };
    for (const [name, value] of Object.entries(suiteProperties)) suite.property(name, xmlSafe(value));
    for (const result of cases) addCase(suite.testCase(), result, manyImages, options);
  }
  // The builder always writes skipped= on <testsuites>, which junit-10.xsd does not allow
  // there (readers such as junitparser sum the suites' instead), and cannot write time= there:
  // swap one for the other. Attribute values hold no raw '"', so this matches the root tag exactly.
  const wallMs = Date.parse(properties.finishedAt) - Date.parse(properties.startedAt);
  const runMs = Number.isNaN(wallMs) ? results.results.reduce((sum, r) => sum + r.durationMs, 0) : wallMs;
  return builder
    .build()
    .replace(/^(<\?xml[^>]*\?>\s*<testsuites(?:\s+[\w.-]+="[^"]*")*?)\s+skipped="\d+"/, `$1 time="${seconds(runMs)}"`);
}

/** Writes the JUnit report atomically, creating its directory. */
export async function writeJunit(results: RunResults, path: string, options: JunitOptions = {}): Promise<void> {
  await writeFileAtomic(path, `${junitXml(results, options)}\n`);
}
