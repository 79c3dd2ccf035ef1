// `harness merge`: shards' results into one results.json and one JUnit, then the summary.
import { join, resolve } from 'node:path';
import { mergeResults } from '../merge.ts';
import { REPO_ROOT } from '../paths.ts';
import { writeResultsJson } from '../report/json.ts';
import { writeJunit, type JunitOptions } from '../report/junit.ts';
import { exitCodeFor, formatSummaryTable, summarize } from '../report/summary.ts';

export interface MergeCommandOptions extends JunitOptions {
  shards: string[];
  /** Default reports/merged-<time>/junit.xml and results.json. */
  junitPath?: string;
  jsonPath?: string;
  quiet: boolean;
}

export async function mergeCommand(options: MergeCommandOptions): Promise<number> {
  const merged = await mergeResults(options.shards);
  const dir = join(REPO_ROOT, 'reports', `merged-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const junitPath = resolve(options.junitPath ?? join(dir, 'junit.xml'));
  const jsonPath = resolve(options.jsonPath ?? join(dir, 'results.json'));
  await writeJunit(merged, junitPath, options);
  await writeResultsJson(merged, jsonPath);
  if (!options.quiet) console.log(formatSummaryTable(summarize(merged)));
  console.log(`merged ${merged.properties.merged!.shards.length} shards\nJUnit: ${junitPath}\nJSON:  ${jsonPath}`);
  return exitCodeFor(merged);
}
