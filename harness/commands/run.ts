// `harness run`: a thin wrapper that prints what the library returns.
import type { PlanFilters } from '../matrix/plan.ts';
import type { Matrix } from '../matrix/schema.ts';
import { STDOUT_PATH } from '../report/atomic.ts';
import { formatWhatFailed } from '../report/failures.ts';
import type { JunitOptions } from '../report/junit.ts';
import { writeStepSummary } from '../report/markdown.ts';
import { progressMode, type ProgressMode } from '../report/progress.ts';
import { formatSummaryTable } from '../report/summary.ts';
import { runMatrix, type RunOutcome } from '../run.ts';
import { printNotice } from './list.ts';
import { onStopSignals } from './stop-signals.ts';
import { bisectExitCode, EXIT_CANNOT_JUDGE, judgeRun } from '../bisect/judge.ts';


export interface RunCommandOptions {
  matrixPath?: string;
  /** Builds the matrix in memory instead (harness check), interruptible like the run. */
  makeMatrix?: (signal: AbortSignal, progress: ProgressMode) => Promise<Matrix>;
  filters: PlanFilters;
  jobs?: number;
  failFast?: boolean;
  junitPath?: string;
  jsonPath?: string;
  htmlPath?: string;
  quiet: boolean;
  junit?: JunitOptions;
  /** Exit as `git bisect run` expects: 0 pass, 1 fail, 125 cannot be judged, 130 interrupted. */
  bisect?: boolean;
  /** Run each failure again under qemu-system with the ISA's real kernel. */
  triage?: boolean;
}

/** A run with progress on the terminal, Ctrl-C handled, then the summary and what failed; `qualify` runs this too. */
export async function runWithProgress(options: RunCommandOptions): Promise<{ outcome: RunOutcome; interrupted: boolean; stopCode: number }> {
  // The first signal stops the run (reports are still written); a second one exits at once,
  // and the sandbox's exit hook still kills every namespace (so its mounts go with it).
  const stop = onStopSignals({ secondExits: true });
  try {
    const mode = progressMode(process.env, Boolean(process.stderr.isTTY), options.quiet);
    const matrix = await options.makeMatrix?.(stop.signal, mode);
    const outcome = await runMatrix({
      ...options,
      matrix,
      progress: mode,
      signal: stop.signal,
      onNotice: printNotice,
      onBuildProgress: mode === 'quiet' ? undefined : (isa, stage) => console.error(`[build ${isa.name}] ${stage}`),
      onTriageLog: mode === 'quiet' ? undefined : (line) => console.error(line),
    });
    // A report on stdout ('-') keeps stdout for itself: the summary goes to stderr then.
    const say = [outcome.junitPath, outcome.jsonPath].includes(STDOUT_PATH) ? console.error : console.log;
    // Loaded for --triage only (it brings the VM layer).
    if (outcome.triageBoots) say((await import('../triage/index.ts')).formatTriageBoots(outcome.triageBoots));
    say(formatSummaryTable(outcome.summary));
    const failed = formatWhatFailed(outcome.results.results);
    if (failed) say(`\n${failed}`);
    say(`JUnit: ${outcome.junitPath}\nJSON:  ${outcome.jsonPath}\nHTML:  ${outcome.htmlPath}`);
    if (stop.signal.aborted) console.error('harness: interrupted; the reports hold what ran before the stop');
    return { outcome, interrupted: stop.signal.aborted, stopCode: stop.exitCode() };
  } finally {
    stop.dispose();
  }
}

export async function runCommand(options: RunCommandOptions): Promise<number> {
  let ran: Awaited<ReturnType<typeof runWithProgress>>;
  try {
    ran = await runWithProgress(options);
  } catch (error) {
    if (!options.bisect) throw error;
    // A state whose image does not build, fetch or extract: git bisect skips it.
    console.error(`harness: cannot judge this state: ${(error as Error).message.split('\n')[0]}`);
    return EXIT_CANNOT_JUDGE;
  }
  const { outcome, interrupted, stopCode } = ran;
  if (interrupted) return stopCode;
  await writeStepSummary(outcome.results);
  if (options.bisect) {
    const judgement = judgeRun(outcome.results);
    console.log(`bisect: ${judgement.verdict}: ${judgement.reason}`);
    return bisectExitCode(judgement);
  }
  return outcome.exitCode;
}
