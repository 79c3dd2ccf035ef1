// Splits a plan's jobs into N shards: a pure function of the jobs, N and earlier timings, so
// every shard process computes the same split without talking to the others. Each case
// lands in exactly one shard; units of work go longest first onto the least-loaded shard.
//
// A unit is a chunk of one job (image x ISA x suite), at most 1/CHUNKS_PER_SHARD of a
// shard's fair share, so balance stays within a few percent while a shard still needs few
// images. A job with history is chunked by its recorded case durations (cases in name
// order); a job without history is cut into equal parts of its estimate (cases by a hash of
// their name, since its case list is known only once its image is extracted).
import { createHash } from 'node:crypto';
import type { Isa } from '../isa.ts';

/** What the split needs to know of a job, before any image is built or extracted. */
export interface ShardJob {
  /** `<image>/<isa>/<suite>`: the key of timings too. */
  id: string;
  isa: Isa;
  suite: string;
  /** The suite's guess at its case count on this ISA, used when no earlier run ran the job. */
  estimatedCases: number;
}

/** Job id -> case name -> duration (ms) in an earlier run. */
export type Timings = ReadonlyMap<string, ReadonlyMap<string, number>>;

export interface ShardPlan {
  total: number;
  /** The shard (1-based) that runs a case of a job. */
  shardOf(jobId: string, caseName: string): number;
  /** The jobs with at least one case in shard `index` (1-based): the images and probes it needs. */
  jobsIn(index: number): ReadonlySet<string>;
  /** Predicted busy time of each shard (index - 1), ms of case time. */
  predictedMs: number[];
  /** Jobs whose cost is an estimate (no history). */
  estimatedJobs: string[];
  /** Identifies the split: shards of one run carry the same digest. */
  digest: string;
}

/** Balance within ~1/8 of a share in the worst case, typically a few percent. */
const CHUNKS_PER_SHARD = 8;
/** A native case's guess when no earlier run has any case of its suite. */
export const DEFAULT_CASE_MS = 100;

interface Unit {
  key: string;
  jobId: string;
  cost: number;
}

/** How the cases of one job map to its units. */
type JobSplit =
  | { kind: 'history'; chunkOfCase: Map<string, number>; chunks: number }
  | { kind: 'estimate'; chunks: number };

/** A stable number from a string (the same on every machine and Node version). */
function stableHash(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}

/** Per native case, by suite: the mean recorded duration divided by its ISA's slowdown. */
function nativeCaseMs(jobs: readonly ShardJob[], timings: Timings): Map<string, number> {
  const sums = new Map<string, { ms: number; n: number }>();
  for (const job of jobs) {
    const history = timings.get(job.id);
    if (!history) continue;
    const sum = sums.get(job.suite) ?? { ms: 0, n: 0 };
    for (const ms of history.values()) {
      sum.ms += ms / job.isa.timeoutMultiplier;
      sum.n++;
    }
    sums.set(job.suite, sum);
  }
  return new Map([...sums].filter(([, s]) => s.n > 0).map(([suite, s]) => [suite, s.ms / s.n]));
}

/** A job never run before: its case count (as the same suite had elsewhere, else the suite's guess) times the ISA's slowdown. */
function estimateJobMs(job: ShardJob, jobs: readonly ShardJob[], timings: Timings, perCase: ReadonlyMap<string, number>): number {
  const counts = jobs.filter((other) => other.suite === job.suite && timings.has(other.id)).map((other) => timings.get(other.id)!.size);
  const cases = counts.length ? Math.max(...counts) : job.estimatedCases;
  return Math.max(1, cases) * (perCase.get(job.suite) ?? DEFAULT_CASE_MS) * job.isa.timeoutMultiplier;
}

export function planShards(jobs: readonly ShardJob[], total: number, timings: Timings): ShardPlan {
  const perCase = nativeCaseMs(jobs, timings);
  const jobCost = new Map<string, number>();
  const estimatedJobs: string[] = [];
  for (const job of jobs) {
    const history = timings.get(job.id);
    if (history?.size) jobCost.set(job.id, [...history.values()].reduce((a, b) => a + b, 0));
    else {
      jobCost.set(job.id, estimateJobMs(job, jobs, timings, perCase));
      estimatedJobs.push(job.id);
    }
  }
  const grandTotal = [...jobCost.values()].reduce((a, b) => a + b, 0);
  const chunkLimit = Math.max(1, grandTotal / total / CHUNKS_PER_SHARD);

  const units: Unit[] = [];
  const splits = new Map<string, JobSplit>();
  for (const job of jobs) {
    const history = timings.get(job.id);
    if (history?.size) {
      const chunkOfCase = new Map<string, number>();
      let chunk = 0;
      let load = 0;
      for (const name of [...history.keys()].sort()) {
        const ms = history.get(name)!;
        if (load > 0 && load + ms > chunkLimit) {
          units.push({ key: `${job.id}#${chunk}`, jobId: job.id, cost: load });
          chunk++;
          load = 0;
        }
        chunkOfCase.set(name, chunk);
        load += ms;
      }
      units.push({ key: `${job.id}#${chunk}`, jobId: job.id, cost: load });
      splits.set(job.id, { kind: 'history', chunkOfCase, chunks: chunk + 1 });
    } else {
      const cost = jobCost.get(job.id)!;
      const chunks = Math.max(1, Math.ceil(cost / chunkLimit));
      for (let chunk = 0; chunk < chunks; chunk++) units.push({ key: `${job.id}#${chunk}`, jobId: job.id, cost: cost / chunks });
      splits.set(job.id, { kind: 'estimate', chunks });
    }
  }

  // Longest first onto the least-loaded shard; ties by key and by shard number, so the
  // split is the same in every process.
  const load = new Array<number>(total).fill(0);
  const shardOfUnit = new Map<string, number>();
  for (const unit of [...units].sort((a, b) => b.cost - a.cost || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    let best = 0;
    for (let s = 1; s < total; s++) if (load[s]! < load[best]!) best = s;
    load[best]! += unit.cost;
    shardOfUnit.set(unit.key, best + 1);
  }

  const jobsPerShard = Array.from({ length: total }, () => new Set<string>());
  for (const unit of units) jobsPerShard[shardOfUnit.get(unit.key)! - 1]!.add(unit.jobId);

  const shardOf = (jobId: string, caseName: string): number => {
    const split = splits.get(jobId);
    if (!split) throw new Error(`shard plan: job ${jobId} is not in the plan`);
    // A case the earlier run did not have goes to one of its job's chunks, by its name.
    const chunk = split.kind === 'history' ? (split.chunkOfCase.get(caseName) ?? stableHash(caseName) % split.chunks) : stableHash(caseName) % split.chunks;
    return shardOfUnit.get(`${jobId}#${chunk}`)!;
  };
  const digest = createHash('sha256')
    .update(JSON.stringify([total, [...units].map((u) => [u.key, shardOfUnit.get(u.key)]), [...splits].map(([id, s]) => [id, s.kind === 'history' ? [...s.chunkOfCase] : s.chunks])]))
    .digest('hex')
    .slice(0, 16);
  return {
    total,
    shardOf,
    jobsIn: (index) => jobsPerShard[index - 1] ?? new Set(),
    predictedMs: load,
    estimatedJobs,
    digest,
  };
}
