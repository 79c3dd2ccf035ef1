// Case durations from earlier runs (--timings FILE|DIR), for balancing shards. Reads
// results.json files only; the newest run wins where several recorded the same case.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { HarnessError } from '../errors.ts';
import { readResultsJson } from '../report/json.ts';
import type { Timings } from './assign.ts';

export interface LoadedTimings {
  timings: Timings;
  /** The results files read, in the order applied. */
  files: string[];
}

/** Every results.json under a directory, at any depth (CI artifacts unpack into a directory per shard). */
export async function resultsFilesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name === 'results.json')
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** A results.json, or every results.json under a directory (an empty directory gives no timings). */
export async function loadTimings(path: string): Promise<LoadedTimings> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw new HarnessError(`--timings: cannot read ${path} (${error.code}); pass a results.json or a directory of earlier runs' results`);
  });
  const files = info.isDirectory() ? await resultsFilesUnder(path) : [path];
  const runs = await Promise.all(files.map(async (file) => ({ file, run: await readResultsJson(file) })));
  // Oldest first, so a newer run's duration replaces an older one.
  runs.sort((a, b) => a.run.properties.finishedAt.localeCompare(b.run.properties.finishedAt) || a.file.localeCompare(b.file));
  const timings = new Map<string, Map<string, number>>();
  for (const { run } of runs) {
    for (const result of run.results) {
      // Only cases that ran: skips and the image checks cost nothing worth balancing.
      if (result.attempts.length === 0) continue;
      const jobId = `${result.image}/${result.isa}/${result.suite}`;
      const job = timings.get(jobId) ?? new Map<string, number>();
      job.set(result.case, result.durationMs);
      timings.set(jobId, job);
    }
  }
  return { timings, files: runs.map((r) => r.file) };
}
