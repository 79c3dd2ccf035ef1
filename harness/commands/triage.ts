// `harness triage RUN [--suggest]`: triages a finished run and rewrites its reports.
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { EXIT_INTERRUPTED } from '../errors.ts';
import { readResultsJson, writeResultsJson } from '../report/json.ts';
import { writeJunit } from '../report/junit.ts';
import { exitCodeFor, formatSummaryTable, summarize } from '../report/summary.ts';
import { formatTriageBoots, suggestKnownFailures } from '../triage/index.ts';
import { triageRun } from '../triage/rerun.ts';
import { onStopSignals } from './stop-signals.ts';

export interface TriageCommandOptions {
  run: string;
  suggest: boolean;
  matrixPath?: string;
  junitPath?: string;
  jsonPath?: string;
}

export async function triageCommand(options: TriageCommandOptions): Promise<number> {
  const isDir = await stat(options.run).then((s) => s.isDirectory(), () => false);
  const resultsPath = isDir ? join(options.run, 'results.json') : options.run;
  const run = await readResultsJson(resultsPath);
  const stop = onStopSignals();
  try {
    const report = await triageRun(run, { matrixPath: options.matrixPath, signal: stop.signal, log: (line) => console.error(line) });
    const jsonPath = options.jsonPath ?? resultsPath;
    const junitPath = options.junitPath ?? join(dirname(resultsPath), 'junit.xml');
    await writeResultsJson(report.results, jsonPath);
    await writeJunit(report.results, junitPath);
    console.log(formatTriageBoots(report.boots));
    console.log(formatSummaryTable(summarize(report.results)));
    console.log(`JUnit: ${junitPath}\nJSON:  ${jsonPath}`);
    if (options.suggest) console.log(`\n${suggestKnownFailures(report.results)}`);
    return exitCodeFor(report.results);
  } catch (error) {
    if (stop.signal.aborted) {
      console.error('harness: interrupted; the run\'s reports are unchanged');
      return EXIT_INTERRUPTED;
    }
    throw error;
  } finally {
    stop.dispose();
  }
}
