// One case per applet: `busybox <applet> --help` must print usage and die of no signal.
// BusyBox prints usage for a lone --help before the applet's main runs
// (libbb/appletlib.c show_usage_if_dash_dash_help), so no applet reads stdin, blocks or acts
// on the system; the exceptions below are the applets that skip that check.
// One function's module, not the whole package: this is on the path of every start.
import lt from 'semver/functions/lt.js';
import type { TestCase } from '../../case.ts';


/** What an applet without the --help check prints (POSIX: `test --help` is an ordinary operand). */
export const HELP_EXCEPTIONS: Readonly<Record<string, { stdout?: string; stdoutMatches?: string }>> = {
  test: { stdout: '' },
  true: { stdout: '' },
  false: { stdout: '' },
  echo: { stdout: '--help\n' },
  // BusyBox 1.35 has no usage text for the bracket forms (before 1.31: with a period); 1.36 skips the check and complains.
  '[': { stdoutMatches: '^(BusyBox v[^\\n]* multi-call binary\\.\\n\\nNo help available\\.?\\n|\\[: missing \\]\\n)$' },
  '[[': { stdoutMatches: '^(BusyBox v[^\\n]* multi-call binary\\.\\n\\nNo help available\\.?\\n|\\[\\[: missing \\]\\]\\n)$' },
  // Builds that list busybox itself as an applet print its banner and copyright.
  busybox: { stdoutMatches: '^BusyBox v[^\\n]* multi-call binary\\.\\n' },
};

export function helpCaseName(applet: string): string {
  return `applet ${applet} --help`;
}

/** The banner, then either the applet's usage or BusyBox's note that it has none (with a period before 1.31). */
export function usagePattern(applet: string): string {
  const name = applet.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return `^BusyBox v\\d+\\.\\d+\\.\\d+[^\\n]* multi-call binary\\.\\n\\n(Usage: ${name}( |\\n|$)|No help available\\.?\\n$)`;
}

/** Applets whose --help printed their usage before BusyBox 1.31, like any other applet's. */
const USAGE_BEFORE_1_31 = ['echo'];

/** The --help case of an applet; `busyboxVersion`, when known, picks the behaviour of that release. */
export function helpCase(applet: string, suite: string, busyboxVersion?: string): TestCase {
  const older = busyboxVersion !== undefined && USAGE_BEFORE_1_31.includes(applet) && lt(busyboxVersion, '1.31.0');
  const exception = older ? undefined : HELP_EXCEPTIONS[applet];
  return {
    name: helpCaseName(applet),
    suite,
    // No shell around it (a second emulated start, which doubled the case's cost). Usage goes
    // to stderr: it is folded into stdout, where expectations look. stdin is /dev/null.
    argv: ['busybox', applet, '--help'],
    stderrToStdout: true,
    expect: {
      anyExitCode: true,
      ...(exception ?? { stdoutMatches: usagePattern(applet) }),
    },
    // The banner names the build date, so only the verdict is comparable across ISAs.
    crossIsa: false,
  };
}
