// `harness qualify`: run the matrix (or take --against RUN), qualify it against the baseline,
// print the verdict and write the reports with it.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DurationThreshold } from '../duration-threshold.ts';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_TESTS_FAILED } from '../errors.ts';
import { loadMatrix } from '../matrix/load.ts';
import type { PlanFilters } from '../matrix/plan.ts';
import { checkSameMatrix, formatQualification, matrixCoverage, qualifyRun, type Coverage } from '../qualify.ts';
import { loadRun } from '../report/load.ts';
import type { RunResults } from '../results.ts';
import { DEFAULT_MATRIX } from '../prepare.ts';
import { writeReports, type ReportOutputs } from './report.ts';
import { triageRun } from '../triage/rerun.ts';
import { runWithProgress } from './run.ts';

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
  /** Run the failures again under qemu-system first (harness/triage): emulator-only ones are explained. */
  triage?: boolean;
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
    if (options.triage) run = (await triageRun(run, { matrixPath: options.matrixPath, log: (line) => console.error(line) })).results;
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

