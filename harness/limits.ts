// Per-case resource limits: what a case may use, how a hit is named in a verdict. Pure; the
// kernel side (cgroups, rlimits, tmpfs size) is in sandbox/cgroup.ts and sandbox-run.c.

export interface Limits {
  /** Memory of the whole case (emulator included): cgroup memory limit, else RLIMIT_AS. */
  memoryBytes: number;
  /** Tasks (processes and threads) at once: a fork bomb stops here. */
  pids: number;
  /** Size of the case's writable layer (everything it writes, /tmp included). */
  tmpBytes: number;
  /** Bytes of stdout and of stderr kept; the rest is drained and dropped, and the case says so. */
  outputBytes: number;
  /**
   * Members an image archive may hold (all layers together); more is refused as hostile.
   * Matrix level only: images are extracted once, before any suite or case.
   */
  archiveMembers: number;
}

export type LimitName = 'memory' | 'pids' | 'tmp' | 'output';

/** A limit a case ran into. */
export interface LimitHit {
  limit: LimitName;
  /** The limit's value (bytes, or tasks for pids). */
  value: number;
}

/** What a matrix gets without `limits:`; generous for BusyBox and libc probes, small next to a CI host. */
export const DEFAULT_LIMITS: Readonly<Limits> = {
  memoryBytes: 2 * 1024 ** 3,
  pids: 1024,
  tmpBytes: 1024 ** 3,
  outputBytes: 1024 ** 2,
  // Alpine's minirootfs has about 500 members and a full Debian about 20,000: room to spare,
  // while a million-file archive is refused before it costs minutes and a million inodes.
  archiveMembers: 250_000,
};

/** The matrix keys of `limits:` and the field each sets. */
export const LIMIT_KEYS: Readonly<Record<string, { field: keyof Limits; kind: 'size' | 'count'; matrixOnly?: true }>> = {
  memory: { field: 'memoryBytes', kind: 'size' },
  pids: { field: 'pids', kind: 'count' },
  tmp: { field: 'tmpBytes', kind: 'size' },
  output: { field: 'outputBytes', kind: 'size' },
  archive_members: { field: 'archiveMembers', kind: 'count', matrixOnly: true },
};

/** Later layers win: matrix defaults, then the suite's, then the case's own. */
export function mergeLimits(base: Readonly<Limits>, ...layers: Array<Partial<Limits> | undefined>): Limits {
  return Object.assign({ ...base }, ...layers.map((layer) => Object.fromEntries(Object.entries(layer ?? {}).filter(([, v]) => v !== undefined))));
}

/** 536870912 -> '512 MiB'; sizes that are not whole MiB keep a decimal. */
export function formatBytes(bytes: number): string {
  const units: Array<[string, number]> = [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]];
  for (const [unit, size] of units) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(1))} ${unit}`;
  }
  return `${bytes} B`;
}

/** How a hit reads in a verdict. */
export function describeLimitHit(hit: LimitHit): string {
  switch (hit.limit) {
    case 'memory':
      return `out of memory (limit ${formatBytes(hit.value)})`;
    case 'pids':
      return `hit the process limit (${hit.value} tasks): fork failed with EAGAIN`;
    case 'tmp':
      return `filled its writable space (/tmp and the root, limit ${formatBytes(hit.value)})`;
    case 'output':
      return `output capped at ${formatBytes(hit.value)} per stream (the rest was dropped)`;
  }
}
