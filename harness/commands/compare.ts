// `harness qualify`, `harness diff` and `harness report`: load runs (files, run directories,
// shards), compare, and print or write what the library returns.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { compareRuns, formatComparison, type DurationThreshold } from '../diff.ts';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_TESTS_FAILED } from '../errors.ts';
import { loadMatrix } from '../matrix/load.ts';
import type { PlanFilters } from '../matrix/plan.ts';
import { checkSameMatrix, formatQualification, matrixCoverage, qualifyRun, type Coverage } from '../qualify.ts';
import { writeFileAtomic } from '../report/atomic.ts';
import { writeHtmlReport, type HtmlReportOptions } from '../report/html.ts';
import { loadRun } from '../report/load.ts';
import { markdownReport, writeStepSummary } from '../report/markdown.ts';
import type { RunResults } from '../results.ts';
import { DEFAULT_MATRIX } from '../run.ts';
import { runWithProgress } from './run.ts';

export interface ReportOutputs {
  htmlPath?: string;
  markdownPath?: string;
}

/** The HTML and Markdown a command writes, and the step summary when CI asks for one. */
async function writeReports(run: RunResults, reports: HtmlReportOptions, outputs: ReportOutputs): Promise<void> {
  if (outputs.htmlPath) {
    await writeHtmlReport(run, resolve(outputs.htmlPath), reports);
    console.log(`HTML:  ${resolve(outputs.htmlPath)}`);
  }
  if (outputs.markdownPath) {
    await writeFileAtomic(resolve(outputs.markdownPath), markdownReport(run, reports));
    console.log(`Markdown: ${resolve(outputs.markdownPath)}`);
  }
  const summary = await writeStepSummary(run, reports);
  if (summary) console.log(`step summary: ${summary}`);
}

export interface QualifyCommandOptions extends ReportOutputs {
  matrixPath?: string;
  baseline: string[];
  /** Qualify this existing run instead of running the matrix. */
  against?: string[];
  filters: PlanFilters;
  jobs?: number;
  junitPath?: string;
  jsonPath?: string;
  durationThreshold?: DurationThreshold;
  quiet: boolean;
}

/** The ISA x suite pairs to require: the matrix's, when it can be read (an --against run's matrix may be elsewhere). */
async function coverageOf(matrixPath: string | undefined, run: RunResults): Promise<Coverage[]> {
  if (matrixPath) return matrixCoverage(await loadMatrix(matrixPath));
  if (!existsSync(run.properties.matrix)) {
    console.error(`harness: ${run.properties.matrix} (the run's matrix) is not here: requiring the baseline's ISAs and suites; pass the matrix to require its own`);
    return [];
  }
  return matrixCoverage(await loadMatrix(run.properties.matrix));
}

export async function qualifyCommand(options: QualifyCommandOptions): Promise<number> {
  // Bad input fails before anything runs: the baseline must load and be of the same matrix.
  const baseline = await loadRun(options.baseline);
  const baselineFile = options.baseline.join(', ');
  let run: RunResults;
  let htmlPath = options.htmlPath;
  if (options.against?.length) {
    run = await loadRun(options.against);
    if (options.matrixPath) {
      const { name } = await loadMatrix(options.matrixPath);
      checkSameMatrix(name, run, options.against.join(', '));
    }
  } else {
    const matrix = await loadMatrix(resolve(options.matrixPath ?? DEFAULT_MATRIX));
    checkSameMatrix(matrix.name, baseline, baselineFile);
    const { outcome, interrupted } = await runWithProgress({ ...options, matrixPath: matrix.file });
    if (interrupted) return EXIT_INTERRUPTED;
    run = outcome.results;
    htmlPath ??= outcome.htmlPath;
  }
  const coverage = await coverageOf(options.matrixPath ?? (options.against?.length ? undefined : DEFAULT_MATRIX), run);
  const qualification = qualifyRun({ run, baseline, baselineFile, coverage, durationThreshold: options.durationThreshold });
  console.log(`\n${formatQualification(qualification)}`);
  await writeReports(run, { qualification, comparison: qualification.comparison }, { ...options, htmlPath });
  return qualification.qualified ? EXIT_OK : EXIT_TESTS_FAILED;
}

export async function diffCommand(oldPaths: string[], newPaths: string[], options: { json: boolean; durationThreshold?: DurationThreshold }): Promise<number> {
  const [oldRun, newRun] = await Promise.all([loadRun(oldPaths), loadRun(newPaths)]);
  const comparison = compareRuns(oldRun, newRun, { durationThreshold: options.durationThreshold });
  console.log(options.json ? JSON.stringify(comparison, null, 2) : formatComparison(comparison));
  return comparison.totals.regressions ? EXIT_TESTS_FAILED : EXIT_OK;
}

export interface ReportCommandOptions extends ReportOutputs {
  baseline?: string[];
  durationThreshold?: DurationThreshold;
}

export async function reportCommand(runPaths: string[], options: ReportCommandOptions): Promise<number> {
  const run = await loadRun(runPaths);
  const baseline = options.baseline?.length ? await loadRun(options.baseline) : undefined;
  const comparison = baseline && compareRuns(baseline, run, { durationThreshold: options.durationThreshold });
  // With no output named, the HTML goes beside the (first) results, as a run writes it.
  const first = resolve(runPaths[0] as string);
  const htmlPath = options.htmlPath ?? (options.markdownPath ? undefined : join(existsSync(join(first, 'results.json')) ? first : dirname(first), 'report.html'));
  await writeReports(run, { ...(comparison && { comparison }) }, { htmlPath, markdownPath: options.markdownPath });
  return EXIT_OK;
}
