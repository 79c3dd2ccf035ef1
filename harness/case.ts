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

export interface TestCase {
  /** Unique within its suite, stable across runs and ISAs (the cross-ISA oracle pairs by it). */
  name: string;
  suite: string;
  /** argv run inside the guest; a script is ['/bin/sh', '-c', script]. */
  argv: string[];
  stdin?: string;
  files?: CaseFile[];
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
  };
  /** Seconds on a native ISA; the ISA's timeoutMultiplier scales it. */
  timeoutSeconds?: number;
  /** The case's own limits, over its suite's and the matrix's. */
  limits?: Partial<Limits>;
  /** Why the case cannot run on this image or ISA (e.g. applet compiled out): reported as skipped. */
  skip?: string;
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
