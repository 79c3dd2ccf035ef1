// One typed record per case: the input of every reporter and of later tools (merge, diff,
// bisect). results.json is this, serialised.
import type { LimitHit } from './limits.ts';

export type Verdict = 'passed' | 'failed' | 'skipped' | 'known-failure' | 'error';

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
  knownFailure?: { reason: string; link?: string };
  attempts: Attempt[];
  startedAt: string;
  durationMs: number;
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
  /** How each per-case limit is enforced on this host (e.g. memory: 'cgroup1 /sys/fs/cgroup/memory/...'), and the matrix's defaults. */
  limits?: { memory: string; pids: string; tmp: string; output: string; defaults: Record<string, number> };
}

export interface RunResults {
  schemaVersion: 1;
  properties: RunProperties;
  results: CaseResult[];
}
