// The image suite: what an Alpine-style image promises (docker-library's official-images
// tests in spirit). Rows of cases.yaml run as they are; the rest are computed here from the
// image facts, the ISA and the suite settings.
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestCase } from '../../case.ts';
import { HarnessError } from '../../errors.ts';
import { loadRows, missingApplets, rowToCase, type ScriptRow } from '../busybox/rows.ts';
import type { Suite, SuiteContext } from '../suite.ts';
import { appletLinkProblems, devEntries, sizeBudgetProblem } from './checks.ts';

export const IMAGE_CASES_FILE = fileURLToPath(new URL('cases.yaml', import.meta.url));
const SUITE = 'image';
const SHELLS = new Set(['sh', 'ash', 'bash', 'dash', 'hush', 'ksh', 'mksh', 'zsh']);
/** Prints 'ok' when it was given no findings, else one finding a line: the case expects 'ok'. */
const REPORT_FINDINGS = 'if [ $# -eq 0 ]; then echo ok; else printf "%s\\n" "$@"; fi';

let cachedRows: ScriptRow[] | undefined;

export function imageRows(): ScriptRow[] {
  cachedRows ??= loadRows(IMAGE_CASES_FILE);
  return cachedRows;
}

/** A case decided on the host: the guest prints the findings, and passes when there are none. */
export function findingsCase(name: string, findings: readonly string[]): TestCase {
  return { name, suite: SUITE, argv: ['/bin/sh', '-c', REPORT_FINDINGS, 'findings', ...findings], expect: { stdout: 'ok\n' }, crossIsa: false };
}

/** A skipped case keeps its name in the report, with the reason. */
function skipped(name: string, reason: string): TestCase {
  return { name, suite: SUITE, argv: ['/bin/true'], expect: {}, skip: reason };
}

/**
 * The default command must start as PID 1 of its PID namespace, as a container engine starts
 * it: the case asks the sandbox for that (pid1) and asks the shell for its PID with -c, so it
 * needs a default command that is a bare shell.
 */
export function pidOneCase(defaultCmd: readonly string[]): TestCase {
  const name = 'default command starts as PID 1 of its namespace';
  const [program] = defaultCmd;
  if (program === undefined) return skipped(name, 'the image has no default command');
  if (!SHELLS.has(posix.basename(program)) || defaultCmd.includes('-c')) {
    return skipped(name, `default command '${defaultCmd.join(' ')}' is not a bare shell, so it cannot be asked for its PID`);
  }
  return { name, suite: SUITE, argv: [...defaultCmd, '-c', 'echo "pid $$"'], pid1: true, expect: { stdout: 'pid 1\n' }, crossIsa: true };
}

/** A case judged from the archive's own headers; skipped for images that did not come as an archive. */
function archiveCase(name: string, found: readonly string[] | undefined, describe: (path: string) => string): TestCase {
  if (found === undefined) return skipped(name, 'the image did not come as an archive (or was cached before archives were judged)');
  return findingsCase(name, found.map(describe));
}

export function sizeBudgetCase(compressedBytes: number | undefined, budget: unknown): TestCase {
  const name = 'compressed image fits its size budget';
  if (budget === undefined) return skipped(name, 'no sizeBudgetBytes in the image suite settings');
  if (typeof budget !== 'number' || !(budget > 0)) {
    throw new HarnessError(`image suite settings: sizeBudgetBytes must be a positive number of bytes, got ${JSON.stringify(budget)}`);
  }
  if (compressedBytes === undefined) return skipped(name, 'the image did not come as an archive, so it has no compressed size');
  const problem = sizeBudgetProblem(compressedBytes, budget);
  return findingsCase(name, problem ? [problem] : []);
}

export async function imageCases(ctx: SuiteContext): Promise<TestCase[]> {
  const { image, isa } = ctx;
  const present = new Set(image.applets);
  const dev = await devEntries(image.rootfs);
  const unameCase: TestCase = {
    name: 'uname -m names the ISA',
    suite: SUITE,
    argv: ['/bin/sh', '-c', 'uname -m'],
    expect: { stdout: `${isa.unameMachine}\n` },
    crossIsa: false,
  };
  const unameMissing = missingApplets(['uname'], present);
  if (unameMissing.length > 0) unameCase.skip = `applet ${unameMissing.join(', ')} not in this BusyBox build`;
  return [
    ...imageRows().map((row) => rowToCase(row, SUITE, present, image.busyboxVersion)),
    findingsCase('/dev is empty in the image', [
      ...dev.map((entry) => `/dev/${entry} ships in the image`),
      ...(image.archive?.devices ?? []).map((path) => `${path} is a device node in the archive`),
    ]),
    archiveCase('no setuid or setgid files in the archive', image.archive?.setuid, (path) => `${path} is setuid or setgid`),
    archiveCase('world-writable directories have the sticky bit', image.archive?.worldWritableDirs, (path) => `${path} is world-writable without the sticky bit`),
    image.applets.length > 0
      ? findingsCase('applet links name applets', image.appletLinkProblems ?? appletLinkProblems(image.rootfs, image.applets))
      : skipped('applet links name applets', 'the image lists no BusyBox applets'),
    pidOneCase(image.defaultCmd),
    // docker-library's override-cmd test: argv[0] is looked up on PATH, as an engine does.
    { name: 'a command given in place of the default runs', suite: SUITE, argv: ['echo', 'hello'], expect: { stdout: 'hello\n' }, crossIsa: true },
    unameCase,
    sizeBudgetCase(image.compressedBytes, ctx.settings.sizeBudgetBytes),
  ];
}

export const imageSuite: Suite = {
  name: SUITE,
  description: 'image promises: os-release, UTC, locked root, empty /dev, BusyBox /bin/sh and applet links, top process, override command, uname -m, size budget',
  cases: imageCases,
  // The rows and the six computed cases above.
  estimatedCases: () => imageRows().length + 6,
};
