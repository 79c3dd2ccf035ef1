// `harness diff` and `harness report`: load runs (files, run directories, shards), compare,
// and print or write what the library returns. Nothing here loads the runner.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { compareRuns, formatComparison } from '../diff.ts';
import type { DurationThreshold } from '../duration-threshold.ts';
import { EXIT_OK, EXIT_TESTS_FAILED } from '../errors.ts';
import type { HtmlReportOptions } from '../report/html.ts';
import { loadRun } from '../report/load.ts';
import type { RunResults } from '../results.ts';

export interface ReportOutputs {
  htmlPath?: string;
  markdownPath?: string;
}

/** The HTML and Markdown a command writes, and the step summary when CI asks for one. */
export async function writeReports(run: RunResults, reports: HtmlReportOptions, outputs: ReportOutputs): Promise<void> {
  // Loaded here, so `harness diff` does not pay for the renderers.
  const [{ writeHtmlReport }, { markdownReport, writeStepSummary }, { writeFileAtomic }] = await Promise.all([
    import('../report/html.ts'), import('../report/markdown.ts'), import('../report/atomic.ts'),
  ]);
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
