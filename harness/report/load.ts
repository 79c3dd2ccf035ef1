// The one way later tools (diff, qualify, report) load a run: a results.json, a run directory,
// or several of them. The shards of one split run are merged as `harness merge` merges them
// (oracle and known failures across shards); other sets of runs are concatenated with a
// duplicate check.
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { HarnessError } from '../errors.ts';
import { mergeShards } from '../merge.ts';
import { caseKey, type CaseResult, type RunResults } from '../results.ts';

export { caseKey };
import { readResultsJson } from './json.ts';

/** The results.json a path names: the file itself, or results.json inside a run directory. */
async function resultsFile(path: string): Promise<string> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw new HarnessError(`cannot read results ${path} (${error.code}); pass a results.json or a run directory (reports/<run>/)`);
  });
  return info.isDirectory() ? join(path, 'results.json') : path;
}


/** The matrix a run came from: its name, or for runs that predate matrixName, its file's name. */
export function matrixNameOf(run: RunResults): string {
  return run.properties.matrixName ?? basename(run.properties.matrix).replace(/\.ya?ml$/, '');
}

/** Several shards' results as one run; each case may appear in one shard only. */
function combine(runs: Array<{ file: string; run: RunResults }>): RunResults {
  const [first, ...rest] = runs as [{ file: string; run: RunResults }, ...Array<{ file: string; run: RunResults }>];
  if (!rest.length) return first.run;
  const seen = new Map<string, string>();
  const results: CaseResult[] = [];
  for (const { file, run } of runs) {
    if (matrixNameOf(run) !== matrixNameOf(first.run)) {
      throw new HarnessError(`${file}: a run of matrix '${matrixNameOf(run)}', but ${first.file} is of '${matrixNameOf(first.run)}'; pass shards of one run`);
    }
    for (const result of run.results) {
      const key = caseKey(result);
      const other = seen.get(key);
      if (other) throw new HarnessError(`${file}: ${result.isa} ${result.suite}/${result.case} [${result.image}] is also in ${other}; pass each shard once`);
      seen.set(key, file);
      results.push(result);
    }
  }
  const props = runs.map(({ run }) => run.properties);
  return {
    schemaVersion: first.run.schemaVersion,
    properties: {
      ...first.run.properties,
      startedAt: props.map((p) => p.startedAt).sort()[0] as string,
      finishedAt: props.map((p) => p.finishedAt).sort().at(-1) as string,
      isas: Object.assign({}, ...props.map((p) => p.isas)),
      images: Object.assign({}, ...props.map((p) => p.images)),
    },
    results,
  };
}

/** Loads one run from one or more paths (files or run directories); errors name the file. */
export async function loadRun(paths: readonly string[]): Promise<RunResults> {
  if (!paths.length) throw new HarnessError('no results given: pass a results.json or a run directory');
  const runs = await Promise.all(
    paths.map(async (path) => {
      const file = await resultsFile(path);
      return { file, run: await readResultsJson(file) };
    }),
  );
  return runs.some(({ run }) => run.properties.shard) ? mergeShards(runs) : combine(runs);
}
