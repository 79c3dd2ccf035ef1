// A test case is data: what to run inside the image and what must come out. Suites build
// cases; only the sandbox runs them.
import type { CaseSpec } from './results.ts';
import type { Limits } from './limits.ts';

export interface CaseFile {
  /** Path inside the guest, absolute (e.g. /tmp/in.txt). */
  path: string;
  /** Text content, or base64 bytes when `encoding` is base64. */
  content: string;
  encoding?: 'utf8' | 'base64';
  mode?: number;
}

/** Output formats harness/subresults.ts can split into results. */
export type SubResultFormat = 'busybox-runtest';

export interface TestCase {
  /** Unique within its suite, stable across runs and ISAs (the cross-ISA oracle pairs by it). */
  name: string;
  suite: string;
  /** argv run inside the guest; a script is ['/bin/sh', '-c', script]. */
  argv: string[];
  stdin?: string;
  /**
   * The guest's stderr goes where its stdout goes, as `2>&1` would send it: a program whose
   * output is on stderr runs without a shell around it (under qemu-user, a second start).
   */
  stderrToStdout?: boolean;
  /** Working directory inside the guest (default /). */
  cwd?: string;
  files?: CaseFile[];
  /**
   * Host directories laid out like a guest root, overlaid read-only above the image (below
   * files and hostFiles): a big tree staged once and shared by many cases (a testsuite).
   */
  layers?: string[];
  env?: Record<string, string>;
  /** Host files copied into the guest before the run (e.g. a compiled probe): guest path -> host path. */
  hostFiles?: Record<string, string>;
  expect: {
    exitCode?: number;
    stdout?: string;
    /** Regular expression the stdout must match, where exact output varies (ps, qemu in argv). */
    stdoutMatches?: string;
    /** When true, any exit code will do; output is still checked (per-applet usage cases). */
    anyExitCode?: boolean;
    /** Regular expression no line of stdout may match (a FAIL line of a testsuite). */
    stdoutExcludes?: string;
    /** The guest must die of this signal (e.g. SIGABRT) instead of exiting. */
    signal?: string;
  };
  /** Seconds on a native ISA; the ISA's timeoutMultiplier scales it. */
  timeoutSeconds?: number;
  /** The case's own limits, over its suite's and the matrix's. */
  limits?: Partial<Limits>;
  /** Why the case cannot run on this image or ISA (e.g. applet compiled out): reported as skipped. */
  skip?: string;
  /** Why the case fails without running (e.g. a binary that is not static): reported as failed. */
  failure?: string;
  /** A known failure the suite itself ships (a matrix entry for the same case wins). */
  knownFailure?: { reason: string; link?: string };
  /**
   * The case's stdout holds many results (a testsuite's PASS/FAIL lines): the named parser
   * in harness/subresults.ts turns them into one result each, named `<case>: <sub-case>`.
   */
  subResults?: SubResultFormat;
  /** Cases whose output must agree across ISAs (the cross-ISA oracle). */
  crossIsa?: boolean;
  /** Use an empty root holding only hostFiles and files (static-binary promise). */
  emptyRoot?: boolean;
  /** Run argv as PID 1 of its namespace, as a container engine runs an image's command. */
  pid1?: boolean;
  /** Report the output even when the case passes (a user's own binaries). */
  attachOutput?: boolean;
  /** Where the case is written down: a data row (file and line) or a program's source. */
  source?: { file: string; line?: number };
}

/** The bytes a case file holds. */
export function caseFileBytes(file: CaseFile): Buffer {
  return Buffer.from(file.content, file.encoding === 'base64' ? 'base64' : 'utf8');
}

/** What results record of a case: its command, stdin and expectations (reports show them for failures). */
export function caseSpec(testCase: TestCase): CaseSpec {
  return { argv: testCase.argv, ...(testCase.stdin !== undefined && { stdin: testCase.stdin }), expect: testCase.expect };
}
