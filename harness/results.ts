// One typed record per case: the input of every reporter and of later tools (merge, diff,
// bisect). results.json is this, serialised.

/** emulator-only: failed under qemu-user, passed under qemu-system with the ISA's real kernel (triage). */
export type Verdict = 'passed' | 'failed' | 'skipped' | 'known-failure' | 'error' | 'emulator-only';

export interface Attempt {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  stdout: string;
  stderr: string;
}

export interface CaseResult {
  suite: string;
  case: string;
  isa: string;
  image: string;
  imageDigest: string;
  verdict: Verdict;
  /** Expected vs got, for failures; the skip reason for skips; the known-failure reason. */
  message?: string;
  /** True when a retry was needed to pass. */
  flaky: boolean;
  /** The case asks for its output in reports even when it passes (static suite). */
  attachOutput?: boolean;
  /** Set when the case is on the matrix's known-failures list, whatever its verdict. */
  knownFailure?: { reason: string; link?: string; emulator?: boolean };
  /** Set by triage: the case run again under qemu-system with the ISA's real Linux kernel. */
  triage?: TriageRecord;
  attempts: Attempt[];
  startedAt: string;
  durationMs: number;
}

/** What triage found for one failed case (optional field: results without it stay valid). */
export interface TriageRecord {
  /**
   * emulator-only: passes under the real kernel; also-fails: fails there too; not-judged: it
   * could not be run there (no kernel, the VM did not boot, ...).
   */
  outcome: 'emulator-only' | 'also-fails' | 'not-judged';
  /** One line for the report, e.g. "fails under qemu-user 7.2.x, passes under qemu-system 7.2.x with Linux 6.1.0-50-s390x s390x". */
  evidence: string;
  qemuUserVersion?: string;
  qemuSystemVersion?: string;
  /** `uname -r` of the kernel it ran under. */
  kernel?: string;
  /** The run under qemu-system, when there was one. */
  attempt?: Attempt;
  /** Why it failed there too (judgement), when it did. */
  message?: string;
}

export interface RunProperties {
  harnessVersion: string;
  kernel: string;
  hostMachine: string;
  startedAt: string;
  finishedAt: string;
  matrix: string;
  /** Per ISA: QEMU version and binfmt flags (or 'native'). */
  isas: Record<string, { qemuVersion: string; binfmtFlags: string; interpreter: string }>;
  /** Per image reference: its digest. */
  images: Record<string, { digest: string; isa: string }>;
}

export interface RunResults {
  schemaVersion: 1;
  properties: RunProperties;
  results: CaseResult[];
}
