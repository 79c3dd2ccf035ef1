// One shard's part of a plan: which jobs it needs (so it builds, extracts and compiles only
// for those), which of their cases it runs, and what it records about the split.
import type { Job } from '../matrix/plan.ts';
import type { ShardProperties } from '../results.ts';
import { planShards, type ShardPlan } from './assign.ts';
import type { ShardSpec } from './ci-env.ts';
import { loadTimings } from './timings.ts';

export interface ShardSelection {
  spec: ShardSpec;
  split: ShardPlan;
  /** The plan's jobs with a case in this shard. */
  jobs: Job[];
  /** Whether this shard runs a case of a job. */
  runs(job: Job, caseName: string): boolean;
  /** Whether this shard reports what concerns an image on an ISA as a whole (its ISA check): the first shard that needs it. */
  ownsImage(image: string, isa: string): boolean;
  properties: ShardProperties;
}

export async function selectShard(
  jobs: readonly Job[],
  spec: ShardSpec,
  timingsPath: string | undefined,
  estimatedCases: (job: Job) => number,
): Promise<ShardSelection> {
  const { timings, files } = timingsPath ? await loadTimings(timingsPath) : { timings: new Map(), files: [] };
  const split = planShards(jobs.map((job) => ({ id: job.id, isa: job.isa, suite: job.suite.name, estimatedCases: estimatedCases(job) })), spec.total, timings);
  const mine = split.jobsIn(spec.index);
  const firstShardOf = (image: string, isa: string): number => {
    const ids = jobs.filter((job) => job.image.name === image && job.isa.name === isa).map((job) => job.id);
    for (let index = 1; index <= spec.total; index++) if (ids.some((id) => split.jobsIn(index).has(id))) return index;
    return 0;
  };
  return {
    spec,
    split,
    jobs: jobs.filter((job) => mine.has(job.id)),
    runs: (job, caseName) => split.shardOf(job.id, caseName) === spec.index,
    ownsImage: (image, isa) => firstShardOf(image, isa) === spec.index,
    properties: { ...spec, plan: split.digest, timings: files, predictedMs: Math.round(split.predictedMs[spec.index - 1] ?? 0) },
  };
}
