// `harness run` and `harness list`: thin wrappers that print what the library returns.
import type { PlanFilters } from '../matrix/plan.ts';
import { formatJobList } from '../matrix/list.ts';
import { formatWhatFailed } from '../report/failures.ts';
import { writeStepSummary } from '../report/markdown.ts';
import { progressMode } from '../report/progress.ts';
import { formatSummaryTable } from '../report/summary.ts';
import { EXIT_INTERRUPTED, EXIT_OK } from '../errors.ts';
import { prepareRun, runMatrix, type RunOutcome } from '../run.ts';

export async function listCommand(matrixPath: string | undefined, filters: PlanFilters): Promise<number> {
  const prepared = await prepareRun({ matrixPath, filters, build: false });
  console.log(formatJobList(prepared.cases, prepared.plan.skipped));
  if (prepared.unbuilt.length) {
    console.log(`\nnot built yet (their cases appear once \`harness build-images\` has run): ${prepared.unbuilt.join(', ')}`);
  }
  return EXIT_OK;
}

export interface RunCommandOptions {
  matrixPath?: string;
  filters: PlanFilters;
  jobs?: number;
  failFast?: boolean;
  junitPath?: string;
  jsonPath?: string;
  htmlPath?: string;
  quiet: boolean;
}

/** A run with progress on the terminal, Ctrl-C handled, then the summary and what failed; `qualify` runs this too. */
export async function runWithProgress(options: RunCommandOptions): Promise<{ outcome: RunOutcome; interrupted: boolean }> {
  const abort = new AbortController();
  const onSigint = () => abort.abort(new Error('interrupted'));
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    const mode = progressMode(process.env, Boolean(process.stderr.isTTY), options.quiet);
    const outcome = await runMatrix({
      ...options,
      progress: mode,
      signal: abort.signal,
      onBuildProgress: mode === 'quiet' ? undefined : (isa, stage) => console.error(`[build ${isa.name}] ${stage}`),
    });
    console.log(formatSummaryTable(outcome.summary));
    const failed = formatWhatFailed(outcome.results.results);
    if (failed) console.log(`\n${failed}`);
    console.log(`JUnit: ${outcome.junitPath}\nJSON:  ${outcome.jsonPath}\nHTML:  ${outcome.htmlPath}`);
    if (abort.signal.aborted) console.error('harness: interrupted; the reports hold what ran before the stop');
    return { outcome, interrupted: abort.signal.aborted };
  } finally {
    process.removeListener('SIGINT', onSigint);
    process.removeListener('SIGTERM', onSigint);
  }
}

export async function runCommand(options: RunCommandOptions): Promise<number> {
  const { outcome, interrupted } = await runWithProgress(options);
  if (interrupted) return EXIT_INTERRUPTED;
  await writeStepSummary(outcome.results);
  return outcome.exitCode;
}
