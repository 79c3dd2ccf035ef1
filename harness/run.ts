// A whole run, after planning (prepare.ts): cases -> scheduler + sandbox -> verdicts, oracle,
// known failures -> triage -> reports.
import { release, machine } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { caseSpec, type TestCase } from './case.ts';
import { qemuVersion } from './host/binfmt.ts';
import { idleShareSampler } from './host/cpu-idle.ts';
import type { Isa } from './isa.ts';
import { jobKnownFailure, type Job, type PlanFilters, type PlannedCase } from './matrix/plan.ts';
import type { KnownFailure, Matrix } from './matrix/schema.ts';
import { applyRunWideVerdicts } from './oracle.ts';
import { harnessVersion, REPO_ROOT } from './paths.ts';
import { writeHtmlReport } from './report/html.ts';
import type { JunitOptions } from './report/junit.ts';
import { STDOUT_PATH } from './report/atomic.ts';
import { writeResultsJson } from './report/json.ts';
import { createProgress, type ProgressMode } from './report/progress.ts';
import { exitCodeFor, summarize, type Summary } from './report/summary.ts';
import type { Attempt, CaseResult, RunResults } from './results.ts';
import { runCase } from './run-case.ts';
import { describeLimitMechanisms } from './sandbox/cgroup.ts';
import { runDeadline, suiteDeadlines } from './run-deadlines.ts';
import { abortReason, autoJobs, autoScaleFor, DeadlineError, schedule } from './scheduler.ts';
import { expandSubResults } from './subresults.ts';
import type { ImageFacts, Toolchain } from './suites/suite.ts';
import type { TriageBoot } from './triage/index.ts';
import { planLookup } from './triage/lookup.ts';
import { judge } from './verdict.ts';
import { prepareRun } from './prepare.ts';
export { DEFAULT_MATRIX, IMAGE_CHECK_CASE, IMAGE_CHECK_SUITE, prepareRun, SUITES, type PreparedRun, type PrepareRunOptions } from './prepare.ts';

export interface RunOptions {
  matrixPath?: string;
  /** A matrix built in memory (harness check) instead of one read from matrixPath. */
  matrix?: Matrix;
  filters?: PlanFilters;
  /** Cases at once; default the matrix's `jobs`, else the number of cores. */
  jobs?: number;
  failFast?: boolean;
  /** Default reports/<run id>/junit.xml and results.json; the HTML report beside the JUnit. */
  junitPath?: string;
  jsonPath?: string;
  htmlPath?: string;
  progress?: ProgressMode;
  signal?: AbortSignal;
  cacheDir?: string;
  /** Build-image progress, for the CLI. */
  onBuildProgress?: (isa: Isa, stage: string) => void;
  junit?: JunitOptions;
  /** The matrix's notices (Matrix.notices), one line each. */
  onNotice?: (line: string) => void;
  /** Run the failures again under qemu-system with the ISA's real kernel (harness/triage). */
  triage?: boolean;
  /** Per ISA, the musl toolchain the musl suite compiles with instead of the built image's (a musl bisect step's). */
  toolchains?: Record<string, Toolchain>;
  onTriageLog?: (line: string) => void;
}

export interface RunOutcome {
  results: RunResults;
  summary: Summary;
  junitPath: string;
  jsonPath: string;
  htmlPath: string;
  exitCode: number;
  /** The qemu-system boots of --triage. */
  triageBoots?: TriageBoot[];
}

/** Cases handed to each job slot at once: the one running and the next (scheduler.ts, depth). */
const SLOT_DEPTH = 2;

const interrupted: Attempt = { exitCode: null, signal: 'SIGKILL', timedOut: false, durationMs: 0, stdout: '', stderr: '' };

function runId(now: Date): string {
  return now.toISOString().replace(/[:.]/g, '-').replace(/Z$/, 'Z');
}

function baseResult(planned: { job: Job; testCase: TestCase }, facts: ImageFacts): Omit<CaseResult, 'verdict' | 'attempts' | 'durationMs' | 'startedAt'> {
  return {
    suite: planned.job.suite.name,
    case: planned.testCase.name,
    isa: planned.job.isa.name,
    image: planned.job.image.name,
    imageDigest: facts.digest,
    flaky: false,
    ...(planned.testCase.attachOutput && { attachOutput: true }),
    ...(planned.testCase.crossIsa && { crossIsa: true }),
    ...(planned.testCase.source && { source: repoRelative(planned.testCase.source) }),
    spec: caseSpec(planned.testCase),
  };
}

/** A source inside the repository by its path from the repository's root (what CI links to). */
function repoRelative(source: NonNullable<TestCase['source']>): NonNullable<CaseResult['source']> {
  const path = relative(REPO_ROOT, source.file);
  return { ...source, file: path.startsWith('..') || isAbsolute(path) ? source.file : path };
}

function withKnownFailure(result: CaseResult, known: Pick<KnownFailure, 'reason' | 'link' | 'emulator'> | undefined): CaseResult {
  if (!known) return result;
  const knownFailure = { reason: known.reason, ...(known.link && { link: known.link }), ...(known.emulator && { emulator: true }) };
  if (result.verdict === 'failed') return { ...result, verdict: 'known-failure', knownFailure };
  return result.verdict === 'passed' ? { ...result, knownFailure } : result;
}

export async function runMatrix(options: RunOptions = {}): Promise<RunOutcome> {
  const started = new Date();
  const signal = options.signal;
  const { matrix, plan, isas, handlers, images, checks, cases: ordered, shard } = await prepareRun({ ...options, build: true });
  const concurrency = options.jobs ?? (matrix.jobs === 'auto' ? autoJobs() : matrix.jobs);
  // jobs: auto also adds slots while the cores stand idle (cases that sleep or wait on the kernel).
  const autoScale = options.jobs === undefined && matrix.jobs === 'auto' ? autoScaleFor(idleShareSampler()) : undefined;
  const results: CaseResult[] = [...checks];
  const byId = new Map(ordered.map((p, index) => [String(index), p]));
  const imageOf = (p: PlannedCase) => images.get(`${p.job.image.name}/${p.job.isa.name}`)!;

  const progress = await createProgress({
    isas: isas.map((isa) => isa.name),
    // A case with sub-results has no count known in advance: it adds none to the totals.
    totals: Object.fromEntries(isas.map((isa) => [isa.name, Object.fromEntries(matrix.suites.map((s) => [s.name, ordered.filter((p) => p.job.isa === isa && p.job.suite.name === s.name && !p.testCase.subResults).length]))])),
    mode: options.progress ?? 'plain',
  });

  const startedAt = new Map<string, string>();
  const plannedByResult = new Map(ordered.map((p) => [`${p.job.image.name}\0${p.job.isa.name}\0${p.test}`, p]));
  const jobsById = new Map(plan.jobs.map((job) => [job.id, job]));
  // Sub-results (subresults.ts) are no planned case of their own: their job's entries apply.
  const knownFailureOf = (result: CaseResult) => withKnownFailure(result,
    plannedByResult.get(`${result.image}\0${result.isa}\0${result.suite}/${result.case}`)?.knownFailure ?? jobKnownFailure(jobsById.get(`${result.image}/${result.isa}/${result.suite}`), result.case));
  const record = (raw: CaseResult) => {
    const result = knownFailureOf(raw);
    results.push(result);
    progress.caseDone(result);
  };
  const runnable = (p: PlannedCase) => !p.testCase.skip && !p.testCase.failure && !imageOf(p).blocked;
  for (const p of ordered) {
    const reason = imageOf(p).blocked ? `image check failed: ${imageOf(p).blocked}` : p.testCase.skip;
    if (reason) record({ ...baseResult(p, imageOf(p).facts), verdict: 'skipped', message: reason, attempts: [], startedAt: new Date().toISOString(), durationMs: 0 });
    else if (p.testCase.failure) record({ ...baseResult(p, imageOf(p).facts), verdict: 'failed', message: p.testCase.failure, attempts: [], startedAt: new Date().toISOString(), durationMs: 0 });
  }
  for (const skippedJob of plan.skipped) {
    record({
      suite: skippedJob.suite, case: '(whole suite)', isa: skippedJob.isa.name, image: skippedJob.image, imageDigest: '',
      verdict: 'skipped', message: skippedJob.reason, flaky: false, attempts: [], startedAt: new Date().toISOString(), durationMs: 0,
    });
  }

  const toRun = [...byId].filter(([, p]) => runnable(p));
  // Cases stopped halfway or never started (fail-fast, a suite or run timeout, Ctrl-C) are reported as not run, with why.
  const notRun = (id: string, reason: string) => {
    const p = byId.get(id)!;
    record({ ...baseResult(p, imageOf(p).facts), verdict: 'skipped', message: `not run: ${signal?.aborted ? 'the run was interrupted' : reason}`, attempts: [], startedAt: startedAt.get(id) ?? started.toISOString(), durationMs: 0 });
  };
  try {
    await schedule(
      toRun.map(([id, p]) => ({
        id,
        scope: p.job.id,
        attempt: async (abort: AbortSignal, slot: number, started: () => void) => {
          // Handed to its slot, a case may wait behind the slot's running one: it starts when the
          // helper starts it, and so does its suite's clock.
          let began = false;
          const onStart = () => {
            began = true;
            started();
            if (!startedAt.has(id)) startedAt.set(id, new Date().toISOString());
          };
          const target = { rootfs: imageOf(p).facts.rootfs, isa: p.job.isa };
          const attempt: Attempt | undefined = await runCase(p.testCase, target, p.timeoutMs, { signal: abort, limits: p.limits, slot, onStart }).catch((error: unknown) => {
            if (abort.aborted) return undefined;
            throw error;
          });
          if (!attempt) return { attempt: interrupted, judgement: { passed: false, message: abortReason(abort) }, byDeadline: abort.reason instanceof DeadlineError, began };
          return { attempt, judgement: judge(p.testCase, attempt, p.timeoutMs, p.job.isa), byDeadline: false, began };
        },
      })),
      {
        concurrency,
        // Each slot's next case waits in its helper while the current one runs (sandbox/server.ts).
        depth: SLOT_DEPTH,
        autoScale,
        retries: matrix.retries,
        failFast: options.failFast ?? matrix.failFast,
        signal,
        scopeDeadlines: suiteDeadlines(plan.jobs),
        deadline: runDeadline(matrix, started.getTime(), Date.now()),
        passed: (outcome) => outcome.judgement.passed,
        onNotRun: (job, reason) => notRun(job.id, reason),
        onSettled: (job, settledOutcomes) => {
          const p = byId.get(job.id)!;
          // An attempt stopped before its helper started it did not run (nor count).
          const outcomes = settledOutcomes.filter((o) => o.began);
          const last = outcomes[outcomes.length - 1];
          if (!last) return notRun(job.id, settledOutcomes[settledOutcomes.length - 1]!.judgement.message ?? 'stopped');
          // Cut off by Ctrl-C or fail-fast: not run. By a suite or run timeout: it failed, it used up the time.
          if (last.attempt === interrupted && !last.byDeadline) return notRun(job.id, `stopped while running: ${last.judgement.message}`);
          const finished: CaseResult = {
            ...baseResult(p, imageOf(p).facts),
            verdict: last.judgement.passed ? 'passed' : 'failed',
            ...(last.judgement.message !== undefined && { message: last.byDeadline ? `stopped while running: ${last.judgement.message}` : last.judgement.message }),
            flaky: last.judgement.passed && outcomes.length > 1,
            attempts: outcomes.map((o) => o.attempt),
            startedAt: startedAt.get(job.id)!,
            durationMs: outcomes.reduce((sum, o) => sum + o.attempt.durationMs, 0),
          };
          for (const result of expandSubResults(p.testCase, finished)) record(result);
        },
      },
    );
  } finally {
    progress.stop();
  }

  // The verdicts that need every ISA's results (the oracle, then known failures): a shard
  // has only some ISAs of a case, so `harness merge` applies them to the shards' results.
  const finalResults = shard ? results : applyRunWideVerdicts(results);

  const finished = new Date();
  const usedImages = new Set(finalResults.filter((r) => r.imageDigest).map((r) => `${r.image}/${r.isa}`));
  const ranResults: RunResults = {
    schemaVersion: 1,
    properties: {
      harnessVersion: harnessVersion(),
      kernel: release(),
      hostMachine: machine(),
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      matrix: matrix.file,
      matrixName: matrix.name,
      isas: Object.fromEntries(
        await Promise.all(
          handlers.map(async (h) => {
            const isa = isas.find((i) => i.name === h.name)!;
            return [h.name, { qemuVersion: await qemuVersion(isa), binfmtFlags: h.native ? 'native' : h.flags, interpreter: h.interpreter ?? 'native' }] as const;
          }),
        ),
      ),
      // The images its results ran on: a job whose cases the filters all left out (in a shard,
      // say) had its image prepared, but the run did not use it.
      images: Object.fromEntries([...images].filter(([key]) => usedImages.has(key)).map(([key, image]) => [key, { digest: image.facts.digest, isa: image.isa.name }])),
      limits: { ...(await describeLimitMechanisms()), defaults: { ...matrix.limits } },
      ...(shard && { shard }),
    },
    results: finalResults,
  };
  // Loaded for --triage only: it brings the VM layer and execa, a sixth of a short run's start-up.
  const triage = options.triage
    ? await (await import('./triage/index.ts')).triageResults(ranResults, planLookup(ordered, (p) => ({ rootfs: imageOf(p).facts.rootfs, digest: imageOf(p).facts.digest })), { cacheDir: options.cacheDir, signal, log: options.onTriageLog })
    : undefined;
  const runResults = triage?.results ?? ranResults;
  // Beside where the user runs it, not inside an installed package.
  const reportDir = resolve('reports', runId(started));
  const outputPath = (given: string | undefined, fallback: string) => (given === STDOUT_PATH ? given : resolve(given ?? fallback));
  const junitPath = outputPath(options.junitPath, join(reportDir, 'junit.xml'));
  const jsonPath = outputPath(options.jsonPath, join(reportDir, 'results.json'));
  const htmlPath = resolve(options.htmlPath ?? join(junitPath === STDOUT_PATH ? reportDir : dirname(junitPath), 'report.html'));
  // Loaded here, not at start: `list` shares this module and writes no JUnit.
  const { writeJunit } = await import('./report/junit.ts');
  await writeJunit(runResults, junitPath, options.junit);
  await writeResultsJson(runResults, jsonPath);
  await writeHtmlReport(runResults, htmlPath);
  return { results: runResults, summary: summarize(runResults), junitPath, jsonPath, htmlPath, exitCode: exitCodeFor(runResults), ...(triage && { triageBoots: triage.boots }) };
}
