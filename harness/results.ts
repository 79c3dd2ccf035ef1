// One typed record per case: the input of every reporter and of later tools (merge, diff,
// bisect). results.json is this, serialised.
import type { LimitHit } from './limits.ts';

/** emulator-only: failed under qemu-user, passed under qemu-system with the ISA's real kernel (triage). */
export type Verdict = 'passed' | 'failed' | 'skipped' | 'known-failure' | 'error' | 'emulator-only';

export interface Attempt {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  stdout: string;
  stderr: string;
  /** Per-case limits it ran into (absent in results written before limits existed). */
  limitHits?: LimitHit[];
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
  /** The case's output must agree across ISAs: merge applies the cross-ISA oracle to it. */
  crossIsa?: boolean;
  /** Where the case is written down (a cases.yaml row, a probe's source), relative to the repository. */
  source?: { file: string; line?: number };
  /** Set by triage: the case run again under qemu-system with the ISA's real Linux kernel. */
  triage?: TriageRecord;
  attempts: Attempt[];
  startedAt: string;
  durationMs: number;
  /** What the case ran and expected, so a report can show a failure without the suite (optional: older runs lack it). */
  spec?: CaseSpec;
}

/** A case's command and expectations as run (TestCase, minus its files). */
export interface CaseSpec {
  argv: string[];
  stdin?: string;
  expect: { exitCode?: number; stdout?: string; stdoutMatches?: string; anyExitCode?: boolean };
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
  /** The matrix's name (optional: older runs lack it; then the file name stands for it). */
  matrixName?: string;
  /** Per ISA: QEMU version and binfmt flags (or 'native'). */
  isas: Record<string, { qemuVersion: string; binfmtFlags: string; interpreter: string }>;
  /** Per image reference: its digest. */
  images: Record<string, { digest: string; isa: string }>;
  /** How each per-case limit is enforced on this host (e.g. memory: 'cgroup1 /sys/fs/cgroup/memory/...'), and the matrix's defaults. */
  limits?: { memory: string; pids: string; tmp: string; output: string; defaults: Record<string, number> };
  /** Set when the run was one shard of a split plan (its results lack the cross-ISA oracle: merge applies it). */
  shard?: ShardProperties;
  /** Set on a run merged from shards: each shard's properties. */
  merged?: { shards: Array<ShardProperties & { file: string; startedAt: string; finishedAt: string }> };
}

export interface ShardProperties {
  /** 1-based. */
  index: number;
  total: number;
  /** What chose it: '--shard', or the CI variables read (e.g. 'CI_NODE_INDEX/CI_NODE_TOTAL'). */
  source: string;
  /** Digest of the split (jobs, shard count, timings): every shard of one run has the same. */
  plan: string;
  /** The earlier results files whose durations balanced the split. */
  timings: string[];
  /** This shard's predicted case time, ms. */
  predictedMs: number;
}

export interface RunResults {
  schemaVersion: 1;
  properties: RunProperties;
  results: CaseResult[];
}

/** The key that names one case of a run; two results with the same key cannot both be true. */
export function caseKey(result: Pick<CaseResult, 'image' | 'isa' | 'suite' | 'case'>): string {
  return `${result.image}\0${result.isa}\0${result.suite}\0${result.case}`;
}
