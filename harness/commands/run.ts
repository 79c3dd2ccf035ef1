// `harness run` and `harness list`: thin wrappers that print what the library returns.
import type { PlanFilters } from '../matrix/plan.ts';
import { formatJobList } from '../matrix/list.ts';
import { progressMode } from '../report/progress.ts';
import { formatSummaryTable } from '../report/summary.ts';
import { EXIT_INTERRUPTED, EXIT_OK } from '../errors.ts';
import { prepareRun, runMatrix, type RunOutcome } from '../run.ts';
import { bisectExitCode, EXIT_CANNOT_JUDGE, judgeRun } from '../bisect/judge.ts';

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
  quiet: boolean;
  /** Exit as `git bisect run` expects: 0 pass, 1 fail, 125 cannot be judged, 130 interrupted. */
  bisect?: boolean;
}

export async function runCommand(options: RunCommandOptions): Promise<number> {
  const abort = new AbortController();
  const onSigint = () => abort.abort(new Error('interrupted'));
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    const mode = progressMode(process.env, Boolean(process.stderr.isTTY), options.quiet);
    let outcome: RunOutcome;
    try {
      outcome = await runMatrix({
        ...options,
        progress: mode,
        signal: abort.signal,
        onBuildProgress: mode === 'quiet' ? undefined : (isa, stage) => console.error(`[build ${isa.name}] ${stage}`),
      });
    } catch (error) {
      if (!options.bisect) throw error;
      if (abort.signal.aborted) return EXIT_INTERRUPTED;
      // A state whose image does not build, fetch or extract: git bisect skips it.
      console.error(`harness: cannot judge this state: ${(error as Error).message.split('\n')[0]}`);
      return EXIT_CANNOT_JUDGE;
    }
    console.log(formatSummaryTable(outcome.summary));
    console.log(`JUnit: ${outcome.junitPath}\nJSON:  ${outcome.jsonPath}`);
    if (abort.signal.aborted) {
      console.error('harness: interrupted; the reports hold what ran before the stop');
      return EXIT_INTERRUPTED;
    }
    if (options.bisect) {
      const judgement = judgeRun(outcome.results);
      console.log(`bisect: ${judgement.verdict}: ${judgement.reason}`);
      return bisectExitCode(judgement);
    }
    return outcome.exitCode;
  } finally {
    process.removeListener('SIGINT', onSigint);
    process.removeListener('SIGTERM', onSigint);
  }
}
