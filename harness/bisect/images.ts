// `harness bisect --images`: which image of an ordered series first fails a case on one ISA
// (or, with --first-fixed, first passes it). Both ends are checked first, images that cannot
// be judged are skipped as git skips commits, and the boundary is rerun to rule out a flaky
// case. Each step is a normal run; extractions are cached by the run's image cache.
import { join } from 'node:path';
import type { Isa } from '../isa.ts';
import { confirmEnds, flakinessOf, newReportDir, removeOnBadInput, type Judge } from './common.ts';
import { termOf, termWords, writeBisectLog, type BisectAnswer, type BisectLog, type BisectStep, type Direction } from './log.ts';
import { nextIndex, outcome, record, startSearch } from './search.ts';
import { readSeries } from './series.ts';
import { parseCaseId, runStep } from './step.ts';

export const DEFAULT_RERUNS = 3;

export interface ImageBisectOptions {
  /** A series file or a glob (see readSeries). */
  images: string;
  caseId: string;
  isa: Isa;
  direction?: Direction;
  /** Extra runs of each side of the boundary; default 3. */
  reruns?: number;
  /** Default reports/bisect-<time>/. */
  reportDir?: string;
  cacheDir?: string;
  /** Relative series paths and globs; default the process's. */
  cwd?: string;
  signal?: AbortSignal;
  /** Called after each step, as it happens. */
  onStep?: (step: BisectStep) => void | Promise<void>;
}

export interface BisectResult {
  log: BisectLog;
  logPath: string;
  reportDir: string;
}

export async function bisectImages(options: ImageBisectOptions): Promise<BisectResult> {
  parseCaseId(options.caseId);
  const direction = options.direction ?? 'first-bad';
  const words = termWords(direction);
  const series = await readSeries(options.images, options.cwd);
  const report = await newReportDir(options.reportDir);
  const reportDir = report.dir;
  const started = new Date();
  const steps: BisectStep[] = [];

  const refOf = (index: number) => series[index]!.ref;
  const judge: Judge<number> = async (index, role) => {
    const entry = series[index]!;
    const n = steps.length + 1;
    const run = await runStep({
      image: entry.source, imageName: `image-${index + 1}`, isa: options.isa, caseId: options.caseId,
      dir: join(reportDir, 'steps', `${String(n).padStart(2, '0')}-image-${index + 1}`), cacheDir: options.cacheDir, signal: options.signal,
    });
    const step: BisectStep = {
      n, role, subject: entry.ref, index, verdict: run.verdict, term: termOf(run.verdict, direction), reason: run.reason,
      durationMs: Math.round(run.durationMs), ...(run.resultsPath && { results: run.resultsPath }),
    };
    steps.push(step);
    await options.onStep?.(step);
    return { step, absent: run.absent === true };
  };

  return removeOnBadInput(report, options.signal, async () => {
    await confirmEnds(judge, 0, series.length - 1, { direction, caseId: options.caseId, isa: options.isa, describe: refOf });
    let search = startSearch(series.length);
    for (let index = nextIndex(search); index !== undefined; index = nextIndex(search)) {
      search = record(search, index, (await judge(index, 'search')).step.term);
    }
    const found = outcome(search);
    let answer: BisectAnswer;
    if (found.kind === 'ambiguous') {
      answer = {
        kind: 'ambiguous', candidates: found.candidates.map(refOf),
        message: `only images that cannot be judged lie between ${refOf(found.lastOld)} (${words.old}) and ${refOf(found.candidates[found.candidates.length - 1]!)} (${words.new}); the first ${words.new} image is one of: ${found.candidates.map(refOf).join(', ')}`,
      };
    } else {
      const flaky = await flakinessOf(judge, found.lastOld, found.firstNew, options.reruns ?? DEFAULT_RERUNS, steps, refOf);
      answer = flaky
        ? { kind: 'flaky', suspects: [refOf(found.lastOld), refOf(found.firstNew)], message: `flaky boundary, no culprit named: ${flaky} (between ${refOf(found.lastOld)} and ${refOf(found.firstNew)})` }
        : {
          kind: 'found', first: refOf(found.firstNew), index: found.firstNew, lastOld: refOf(found.lastOld),
          message: `first ${words.new} image: ${refOf(found.firstNew)} (#${found.firstNew + 1} of ${series.length}); last ${words.old}: ${refOf(found.lastOld)}`,
        };
    }
    const finished = new Date();
    const log: BisectLog = {
      schemaVersion: 1, mode: 'images', case: options.caseId, isa: options.isa.name, direction, series: series.map((entry) => entry.ref),
      startedAt: started.toISOString(), finishedAt: finished.toISOString(), durationMs: finished.getTime() - started.getTime(), steps, answer,
    };
    return { log, logPath: await writeBisectLog(log, reportDir), reportDir };
  });
}
