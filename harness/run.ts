// A whole run: matrix -> plan -> host (binfmt) -> images (build, extract, ISA check,
// inspect) -> cases -> scheduler + sandbox -> verdicts, oracle, known failures -> reports.
import { availableParallelism, release, machine } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import { buildImages, findBuiltImage, type BuiltImage } from '../images/build.ts';
import type { TestCase } from './case.ts';
import { HarnessError } from './errors.ts';
import { ensureHandlers, qemuVersion, type HandlerStatus } from './host/binfmt.ts';
import type { Isa } from './isa.ts';
import { loadMatrix } from './matrix/load.ts';
import { expandCases, interleaveByIsa, planJobs, type Job, type Plan, type PlanFilters, type PlannedCase } from './matrix/plan.ts';
import type { ImageRef, Matrix, SuiteName } from './matrix/schema.ts';
import { applyCrossIsaOracle } from './oracle.ts';
import { harnessVersion, REPO_ROOT } from './paths.ts';
import { STDOUT_PATH } from './report/atomic.ts';
import { writeJunit } from './report/junit.ts';
import { writeResultsJson } from './report/json.ts';
import { createProgress, type ProgressMode } from './report/progress.ts';
import { exitCodeFor, summarize, type Summary } from './report/summary.ts';
import type { Attempt, CaseResult, RunProperties, RunResults } from './results.ts';
import { checkImageIsa, ImageIsaMismatchError, prepareImage, type ImageSource } from './rootfs/index.ts';
import { runCase } from './run-case.ts';
import { runInSandbox } from './sandbox/index.ts';
import { describeLimitMechanisms } from './sandbox/cgroup.ts';
import { runDeadline, suiteDeadlines } from './run-deadlines.ts';
import { abortReason, DeadlineError, schedule } from './scheduler.ts';
import { busyboxSuite } from './suites/busybox/index.ts';
import { imageSuite } from './suites/image/index.ts';
import { muslSuite } from './suites/musl/index.ts';
import { staticSuite } from './suites/static/index.ts';
import type { ImageFacts, Suite } from './suites/suite.ts';
import { judge } from './verdict.ts';

export const SUITES: Record<SuiteName, Suite> = { image: imageSuite, busybox: busyboxSuite, musl: muslSuite, static: staticSuite };
export const DEFAULT_MATRIX = join(REPO_ROOT, 'matrices', 'default.yaml');

/** The suite under which the pre-test ISA check of each image is reported. */
const IMAGE_CHECK_SUITE = 'image';
const IMAGE_CHECK_CASE = 'ELF of the entry point matches the ISA';

export interface RunOptions {
  matrixPath?: string;
  filters?: PlanFilters;
  /** Cases at once; default the matrix's `jobs`, else the number of cores. */
  jobs?: number;
  failFast?: boolean;
  /** Default reports/<run id>/junit.xml and results.json. */
  junitPath?: string;
  jsonPath?: string;
  progress?: ProgressMode;
  signal?: AbortSignal;
  cacheDir?: string;
  /** Build-image progress, for the CLI. */
  onBuildProgress?: (isa: Isa, stage: string) => void;
}

export interface RunOutcome {
  results: RunResults;
  summary: Summary;
  junitPath: string;
  jsonPath: string;
  exitCode: number;
}

/** One image on one ISA, ready to run cases in. */
interface PreparedImage {
  name: string;
  isa: Isa;
  facts: ImageFacts;
  /** Why nothing runs on it (the ISA check failed): its cases are skipped with this. */
  blocked?: string;
}

const interrupted: Attempt = { exitCode: null, signal: 'SIGKILL', timedOut: false, durationMs: 0, stdout: '', stderr: '' };

function runId(now: Date): string {
  return now.toISOString().replace(/[:.]/g, '-').replace(/Z$/, 'Z');
}

async function sha512FromSums(sumsFile: string, tarball: string): Promise<string | undefined> {
  const wanted = basename(tarball);
  for (const line of (await readFile(sumsFile, 'utf8')).split('\n')) {
    const [hash, name] = line.trim().split(/\s+\*?/);
    if (name === wanted) return hash;
  }
  throw new HarnessError(`${sumsFile}: no sha512 line for ${wanted}`);
}

async function imageSource(ref: ImageRef, isa: Isa, built: Record<string, BuiltImage>): Promise<ImageSource> {
  switch (ref.kind) {
    case 'built': {
      const image = built[isa.name];
      if (!image) throw new HarnessError(`built image for ${isa.name} is missing: run harness build-images --arch ${isa.name}`);
      return { kind: 'tarball', path: image.rootfsTarGz, sha512: image.sha512 };
    }
    case 'tarball':
      return { kind: 'tarball', path: ref.path, sha512: ref.sha512 ?? (ref.sha512sums ? await sha512FromSums(ref.sha512sums, ref.path) : undefined) };
    case 'directory':
      return { kind: 'directory', path: ref.path };
    case 'oci':
      return { kind: 'oci', path: ref.layout, tag: ref.tag };
    case 'docker-archive':
      return { kind: 'docker-archive', path: ref.path };
  }
}

/** What `busybox --list` prints inside the image; empty when there is no BusyBox. */
async function listApplets(rootfs: string, isa: Isa, signal?: AbortSignal): Promise<string[]> {
  const listed = await runInSandbox({ rootfs, isa, argv: ['/bin/busybox', '--list'], timeoutMs: 30_000 * isa.timeoutMultiplier, signal });
  if (listed.exitCode !== 0) return [];
  return listed.stdout.split('\n').map((line) => line.trim()).filter(Boolean);
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
  };
}

function withKnownFailure(result: CaseResult, planned: PlannedCase | undefined): CaseResult {
  const known = planned?.knownFailure;
  if (!known) return result;
  const knownFailure = { reason: known.reason, ...(known.link && { link: known.link }) };
  if (result.verdict === 'failed') return { ...result, verdict: 'known-failure', knownFailure };
  return result.verdict === 'passed' ? { ...result, knownFailure } : result;
}

/** A matrix loaded and expanded, its images ready, its cases planned: what `list` shows and `run` runs. */
export interface PreparedRun {
  matrix: Matrix;
  plan: Plan;
  isas: Isa[];
  /** Which binfmt handler runs each ISA (empty for list, which registers none). */
  handlers: HandlerStatus[];
  images: Map<string, PreparedImage>;
  /** The ISA check of each image, as results (suite image). */
  checks: CaseResult[];
  /** Every selected case, interleaved across ISAs. */
  cases: PlannedCase[];
  /** Images the plan names that are not built yet (list only: run builds them). */
  unbuilt: string[];
}

export interface PrepareRunOptions {
  matrixPath?: string;
  filters?: PlanFilters;
  cacheDir?: string;
  signal?: AbortSignal;
  /** Build missing images and compile probes (run); list only looks in the cache. */
  build: boolean;
  onBuildProgress?: (isa: Isa, stage: string) => void;
}

async function builtImages(isas: Isa[], options: PrepareRunOptions): Promise<Record<string, BuiltImage>> {
  if (!isas.length) return {};
  if (options.build) {
    return (await buildImages({ arches: isas, signal: options.signal, onProgress: options.onBuildProgress, cacheDir: options.cacheDir })).images;
  }
  const found = await Promise.all(isas.map(async (isa) => [isa.name, await findBuiltImage(isa, options.cacheDir)] as const));
  return Object.fromEntries(found.filter((entry): entry is readonly [string, BuiltImage] => entry[1] !== undefined));
}

async function prepareImageFor(job: Job, built: Record<string, BuiltImage>, options: PrepareRunOptions): Promise<{ image: PreparedImage; check: CaseResult }> {
  const source = await imageSource(job.ref, job.isa, built);
  const extracted = await prepareImage(source, job.isa, { cacheDir: options.cacheDir, signal: options.signal });
  const facts: ImageFacts = {
    ref: job.image.name,
    digest: extracted.digest,
    rootfs: extracted.rootfs,
    applets: [],
    defaultCmd: extracted.defaultCmd,
    ...(extracted.compressedBytes !== undefined && { compressedBytes: extracted.compressedBytes }),
    ...(extracted.archive && { archive: extracted.archive }),
  };
  const checkStarted = Date.now();
  let blocked: string | undefined;
  try {
    await checkImageIsa(extracted.rootfs, job.isa, undefined, job.image.name);
    facts.applets = await listApplets(extracted.rootfs, job.isa, options.signal);
  } catch (error) {
    if (!(error instanceof ImageIsaMismatchError)) throw error;
    blocked = error.message;
  }
  const check: CaseResult = {
    suite: IMAGE_CHECK_SUITE, case: IMAGE_CHECK_CASE, isa: job.isa.name, image: job.image.name, imageDigest: facts.digest,
    verdict: blocked ? 'failed' : 'passed', ...(blocked && { message: blocked }), flaky: false, attempts: [],
    startedAt: new Date(checkStarted).toISOString(), durationMs: Date.now() - checkStarted,
  };
  return { image: { name: job.image.name, isa: job.isa, facts, ...(blocked && { blocked }) }, check };
}

export async function prepareRun(options: PrepareRunOptions): Promise<PreparedRun> {
  const matrix = await loadMatrix(resolve(options.matrixPath ?? DEFAULT_MATRIX));
  const filters = options.filters ?? {};
  const plan = planJobs(matrix, filters);
  const isas = [...new Map(plan.jobs.map((job) => [job.isa.name, job.isa])).values()];
  // A run registers missing handlers; list changes nothing on the host and uses what is there.
  const handlers = options.build ? await ensureHandlers(isas) : [];

  // Our images and toolchains, for every ISA whose jobs use the built image or compile probes.
  const needsBuild = isas.filter((isa) => plan.jobs.some((job) => job.isa === isa && (job.ref.kind === 'built' || job.suite.name === 'musl')));
  const built = await builtImages(needsBuild, options);
  const unbuilt = needsBuild.filter((isa) => !built[isa.name]).map((isa) => isa.name);

  // Each image x ISA once, all at once: extract (cached by digest), check its ELF, list its applets.
  const runnable = plan.jobs.filter((job) => job.ref.kind !== 'built' || built[job.isa.name]);
  const firstJobs = [...new Map(runnable.map((job) => [`${job.image.name}/${job.isa.name}`, job])).entries()];
  const preparedImages = await Promise.all(firstJobs.map(async ([key, job]) => [key, await prepareImageFor(job, built, options)] as const));
  const images = new Map(preparedImages.map(([key, { image }]) => [key, image]));
  const checks = preparedImages.map(([, { check }]) => check);

  // Each job's cases (the musl suite compiles its probes here, cached), jobs side by side.
  const perJob = await Promise.all(
    runnable.map(async (job) => {
      const image = images.get(`${job.image.name}/${job.isa.name}`)!;
      const suiteCases = await SUITES[job.suite.name].cases({ isa: job.isa, image: image.facts, toolchain: built[job.isa.name]?.toolchain, settings: job.settings });
      return expandCases(job, suiteCases, filters);
    }),
  );
  const cases = perJob.flat();
  return { matrix, plan, isas, handlers, images, checks, cases: interleaveByIsa(cases), unbuilt };
}

export async function runMatrix(options: RunOptions = {}): Promise<RunOutcome> {
  const started = new Date();
  const signal = options.signal;
  const { matrix, plan, isas, handlers, images, checks, cases: ordered } = await prepareRun({ ...options, build: true });
  const concurrency = options.jobs ?? (matrix.jobs === 'auto' ? availableParallelism() : matrix.jobs);
  const results: CaseResult[] = [...checks];
  const byId = new Map(ordered.map((p, index) => [String(index), p]));
  const imageOf = (p: PlannedCase) => images.get(`${p.job.image.name}/${p.job.isa.name}`)!;
  const imageProps: RunProperties['images'] = Object.fromEntries(
    [...images].map(([key, image]) => [key, { digest: image.facts.digest, isa: image.isa.name }]),
  );

  const progress = createProgress({
    isas: isas.map((isa) => isa.name),
    totals: Object.fromEntries(isas.map((isa) => [isa.name, Object.fromEntries(matrix.suites.map((s) => [s.name, ordered.filter((p) => p.job.isa === isa && p.job.suite.name === s.name).length]))])),
    mode: options.progress ?? 'plain',
  });

  const startedAt = new Map<string, string>();
  const plannedByResult = new Map(ordered.map((p) => [`${p.job.image.name}\0${p.job.isa.name}\0${p.test}`, p]));
  const knownFailureOf = (result: CaseResult) => withKnownFailure(result, plannedByResult.get(`${result.image}\0${result.isa}\0${result.suite}/${result.case}`));
  const record = (raw: CaseResult) => {
    const result = knownFailureOf(raw);
    results.push(result);
    progress.caseDone(result);
  };
  for (const p of ordered) {
    const reason = imageOf(p).blocked ? `image check failed: ${imageOf(p).blocked}` : p.testCase.skip;
    if (reason) record({ ...baseResult(p, imageOf(p).facts), verdict: 'skipped', message: reason, attempts: [], startedAt: new Date().toISOString(), durationMs: 0 });
  }
  for (const skippedJob of plan.skipped) {
    record({
      suite: skippedJob.suite, case: '(whole suite)', isa: skippedJob.isa.name, image: skippedJob.image, imageDigest: '',
      verdict: 'skipped', message: skippedJob.reason, flaky: false, attempts: [], startedAt: new Date().toISOString(), durationMs: 0,
    });
  }

  const toRun = [...byId].filter(([, p]) => !p.testCase.skip && !imageOf(p).blocked);
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
        attempt: async (abort: AbortSignal) => {
          if (!startedAt.has(id)) startedAt.set(id, new Date().toISOString());
          const target = { rootfs: imageOf(p).facts.rootfs, isa: p.job.isa };
          const attempt: Attempt | undefined = await runCase(p.testCase, target, p.timeoutMs, abort, p.limits).catch((error: unknown) => {
            if (abort.aborted) return undefined;
            throw error;
          });
          if (!attempt) return { attempt: interrupted, judgement: { passed: false, message: abortReason(abort) }, byDeadline: abort.reason instanceof DeadlineError };
          return { attempt, judgement: judge(p.testCase, attempt, p.timeoutMs, p.job.isa), byDeadline: false };
        },
      })),
      {
        concurrency,
        retries: matrix.retries,
        failFast: options.failFast ?? matrix.failFast,
        signal,
        scopeDeadlines: suiteDeadlines(plan.jobs),
        deadline: runDeadline(matrix, started.getTime(), Date.now()),
        passed: (outcome) => outcome.judgement.passed,
        onNotRun: (job, reason) => notRun(job.id, reason),
        onSettled: (job, outcomes) => {
          const p = byId.get(job.id)!;
          const last = outcomes[outcomes.length - 1]!;
          // Cut off by Ctrl-C or fail-fast: not run. By a suite or run timeout: it failed, it used up the time.
          if (last.attempt === interrupted && !last.byDeadline) return notRun(job.id, `stopped while running: ${last.judgement.message}`);
          record({
            ...baseResult(p, imageOf(p).facts),
            verdict: last.judgement.passed ? 'passed' : 'failed',
            ...(last.judgement.message !== undefined && { message: last.byDeadline ? `stopped while running: ${last.judgement.message}` : last.judgement.message }),
            flaky: last.judgement.passed && outcomes.length > 1,
            attempts: outcomes.map((o) => o.attempt),
            startedAt: startedAt.get(job.id)!,
            durationMs: outcomes.reduce((sum, o) => sum + o.attempt.durationMs, 0),
          });
        },
      },
    );
  } finally {
    progress.stop();
  }

  // The verdict that needs every ISA's results: the oracle (known failures apply to it too).
  const crossIsaKeys = new Set(ordered.filter((p) => p.testCase.crossIsa).map((p) => p.test));
  const finalResults = applyCrossIsaOracle(results, crossIsaKeys).map(knownFailureOf);

  const finished = new Date();
  const runResults: RunResults = {
    schemaVersion: 1,
    properties: {
      harnessVersion: harnessVersion(),
      kernel: release(),
      hostMachine: machine(),
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      matrix: matrix.file,
      isas: Object.fromEntries(
        await Promise.all(
          handlers.map(async (h) => {
            const isa = isas.find((i) => i.name === h.name)!;
            return [h.name, { qemuVersion: await qemuVersion(isa), binfmtFlags: h.native ? 'native' : h.flags, interpreter: h.interpreter ?? 'native' }] as const;
          }),
        ),
      ),
      images: imageProps,
      limits: { ...(await describeLimitMechanisms()), defaults: { ...matrix.limits } },
    },
    results: finalResults,
  };
  const reportDir = join(REPO_ROOT, 'reports', runId(started));
  const outputPath = (given: string | undefined, fallback: string) => (given === STDOUT_PATH ? given : resolve(given ?? fallback));
  const junitPath = outputPath(options.junitPath, join(reportDir, 'junit.xml'));
  const jsonPath = outputPath(options.jsonPath, join(reportDir, 'results.json'));
  await writeJunit(runResults, junitPath);
  await writeResultsJson(runResults, jsonPath);
  return { results: runResults, summary: summarize(runResults), junitPath, jsonPath, exitCode: exitCodeFor(runResults) };
}
