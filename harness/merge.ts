// Shards' results into one run that no one can tell from an unsharded one: the shards are
// checked to be one complete split of one matrix, their cases put together, and the
// verdicts that need every ISA (the cross-ISA oracle, then known failures) applied.
// Reads results only; the reporters write the merged run like any other.
import { stat } from 'node:fs/promises';
import { HarnessError } from './errors.ts';
import { applyRunWideVerdicts } from './oracle.ts';
import { compareIsas } from './report/order.ts';
import { readResultsJson } from './report/json.ts';
import { caseKey, type RunResults } from './results.ts';
import { resultsFilesUnder } from './shard/timings.ts';

export interface ShardFile {
  file: string;
  run: RunResults;
}

/** Every problem with a set of shards, one line each. */
export class MergeRefusedError extends HarnessError {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'MergeRefusedError';
  }
}

/** The results files among `paths`: a file as given, a directory's results.json files (recursively). */
async function resultsFiles(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
      throw new HarnessError(`merge: cannot read ${path} (${error.code}); pass shards' results.json files or directories holding them`);
    });
    if (!info.isDirectory()) {
      files.push(path);
      continue;
    }
    const found = await resultsFilesUnder(path);
    if (!found.length) throw new HarnessError(`merge: ${path} holds no results.json; pass the shards' report directories`);
    files.push(...found);
  }
  return files;
}

export async function readShardFiles(paths: readonly string[]): Promise<ShardFile[]> {
  if (!paths.length) throw new HarnessError('merge: no shards given; pass each shard\'s results.json or report directory');
  return Promise.all((await resultsFiles(paths)).map(async (file) => ({ file, run: await readResultsJson(file) })));
}

/** What makes a set of shards not one complete split of one matrix, one line per problem. */
export function mergeProblems(shards: readonly ShardFile[]): string[] {
  const problems: string[] = [];
  const notShards = shards.filter((s) => !s.run.properties.shard);
  for (const s of notShards) problems.push(`${s.file}: not a shard's results (no properties.shard): pass the results of runs made with --shard K/N`);
  const split = shards.filter((s) => s.run.properties.shard);
  if (!split.length) return problems;

  const differing = (what: string, value: (s: ShardFile) => string) => {
    const values = new Map<string, string>();
    for (const s of split) if (!values.has(value(s))) values.set(value(s), s.file);
    if (values.size > 1) problems.push(`shards of different ${what}: ${[...values].map(([v, file]) => `${file} has ${v}`).join(', ')}`);
    return values.size > 1;
  };
  differing('harness versions', (s) => s.run.properties.harnessVersion);
  const otherMatrix = differing('matrices', (s) => s.run.properties.matrix);
  const otherCount = differing('shard counts', (s) => String(s.run.properties.shard!.total));
  // Same matrix and count but other filters or timings: the cases would not fit together.
  if (!otherMatrix && !otherCount) differing('splits (other filters or timings)', (s) => `split ${s.run.properties.shard!.plan}`);
  if (otherMatrix || otherCount) return problems;

  const total = split[0]!.run.properties.shard!.total;
  const byIndex = new Map<number, ShardFile[]>();
  for (const s of split) byIndex.set(s.run.properties.shard!.index, [...(byIndex.get(s.run.properties.shard!.index) ?? []), s]);
  for (const [index, files] of [...byIndex].sort((a, b) => a[0] - b[0])) {
    if (files.length > 1) problems.push(`shard ${index}/${total} given ${files.length} times: ${files.map((f) => f.file).join(', ')}`);
  }
  const missing = Array.from({ length: total }, (_, i) => i + 1).filter((index) => !byIndex.has(index));
  if (missing.length) problems.push(`missing shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${total}`).join(', ')} (given: ${[...byIndex.keys()].sort((a, b) => a - b).join(', ')})`);

  // A case in two different shards: the split was not exact (a duplicated shard is reported above).
  const seen = new Map<string, ShardFile>();
  const twice: string[] = [];
  for (const files of byIndex.values()) {
    const s = files[0]!;
    for (const r of s.run.results) {
      const other = seen.get(caseKey(r));
      if (other) twice.push(`case ${r.suite}/${r.case} on ${r.isa} (image ${r.image}) is in both ${other.file} and ${s.file}`);
      else seen.set(caseKey(r), s);
    }
  }
  if (twice.length) problems.push(twice.length > 1 ? `${twice[0]} (and ${twice.length - 1} more cases in two shards)` : twice[0]!);
  return problems;
}

/** One run from the shards, or a MergeRefusedError listing every problem. */
export function mergeShards(shards: readonly ShardFile[]): RunResults {
  const problems = mergeProblems(shards);
  if (problems.length) throw new MergeRefusedError(problems);
  const ordered = [...shards].sort((a, b) => a.run.properties.shard!.index - b.run.properties.shard!.index);
  const runs = ordered.map((s) => s.run);
  const first = runs[0]!.properties;
  const distinct = (values: string[]) => [...new Set(values)].join(', ');
  const results = applyRunWideVerdicts(runs.flatMap((run) => run.results)).sort(
    (a, b) => a.image.localeCompare(b.image) || compareIsas(a.isa, b.isa) || a.suite.localeCompare(b.suite),
  );
  return {
    schemaVersion: 1,
    properties: {
      harnessVersion: first.harnessVersion,
      kernel: distinct(runs.map((r) => r.properties.kernel)),
      hostMachine: distinct(runs.map((r) => r.properties.hostMachine)),
      startedAt: runs.map((r) => r.properties.startedAt).sort()[0]!,
      finishedAt: runs.map((r) => r.properties.finishedAt).sort().at(-1)!,
      matrix: first.matrix,
      isas: Object.assign({}, ...runs.map((r) => r.properties.isas)),
      images: Object.assign({}, ...runs.map((r) => r.properties.images)),
      merged: {
        shards: ordered.map((s) => ({ ...s.run.properties.shard!, file: s.file, startedAt: s.run.properties.startedAt, finishedAt: s.run.properties.finishedAt })),
      },
    },
    results,
  };
}

/** Reads shards' results (files or directories) and merges them: what `harness merge` and later tools call. */
export async function mergeResults(paths: readonly string[]): Promise<RunResults> {
  return mergeShards(await readShardFiles(paths));
}
