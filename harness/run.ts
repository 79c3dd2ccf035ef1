// A whole run: matrix -> plan -> host (binfmt) -> images (build, extract, ISA check,
// inspect) -> cases -> scheduler + sandbox -> verdicts, oracle, known failures -> reports.
import { release, machine } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { buildImages, findBuiltImage, type BuiltImage } from '../images/build.ts';
import { BUSYBOX_CONFIG } from '../images/busybox.ts';
import { defaultSourcesDir } from '../images/sources.ts';
import { caseSpec, type TestCase } from './case.ts';
import { HarnessError } from './errors.ts';
import { sha512FromSums } from './fetch/checksums.ts';
import { createFetchProgress } from './fetch/progress.ts';
import { fetchedSource, fetchForPlan, type FetchContext } from './fetch/remote.ts';
import { ensureHandlers, qemuVersion, type HandlerStatus } from './host/binfmt.ts';
import { ensureSandboxPrivileges } from './host/privileges.ts';
import type { Isa } from './isa.ts';
import { loadMatrix } from './matrix/load.ts';
import { readBusyboxVersion } from './rootfs/busybox-banner.ts';
import { expandCases, interleaveByIsa, jobKnownFailure, planJobs, type Job, type Plan, type PlanFilters, type PlannedCase } from './matrix/plan.ts';
import type { ImageRef, KnownFailure, Matrix, SuiteName } from './matrix/schema.ts';
import { applyRunWideVerdicts } from './oracle.ts';
import { cacheRoot, harnessVersion, REPO_ROOT } from './paths.ts';
import { writeHtmlReport } from './report/html.ts';
import type { JunitOptions } from './report/junit.ts';
import { STDOUT_PATH } from './report/atomic.ts';
import { writeResultsJson } from './report/json.ts';
import { createProgress, type ProgressMode } from './report/progress.ts';
import { exitCodeFor, summarize, type Summary } from './report/summary.ts';
import type { Attempt, CaseResult, RunResults, ShardProperties } from './results.ts';
import { ImageDoesNotBootError, imageApplets } from './rootfs/applets.ts';
import { checkImageIsa, ImageIsaMismatchError, prepareImage, type ImageSource } from './rootfs/index.ts';
import { runCase } from './run-case.ts';
import { describeLimitMechanisms } from './sandbox/cgroup.ts';
import { runDeadline, suiteDeadlines } from './run-deadlines.ts';
import { abortReason, autoJobs, DeadlineError, schedule } from './scheduler.ts';
import { selectShard } from './shard/select.ts';
import { expandSubResults } from './subresults.ts';
import { busyboxSuite } from './suites/busybox/index.ts';
import { busyboxUpstreamSuite } from './suites/busybox-upstream/index.ts';
import { imageSuite } from './suites/image/index.ts';
import { muslSuite } from './suites/musl/index.ts';
import { staticSuite } from './suites/static/index.ts';
import type { BusyboxBuildInputs, ImageFacts, Suite, Toolchain } from './suites/suite.ts';
import { triageResults, type TriageBoot } from './triage/index.ts';
import { planLookup } from './triage/lookup.ts';
import { judge } from './verdict.ts';

export const SUITES: Record<SuiteName, Suite> = {
  image: imageSuite, busybox: busyboxSuite, 'busybox-upstream': busyboxUpstreamSuite, musl: muslSuite, static: staticSuite,
};
export const DEFAULT_MATRIX = join(REPO_ROOT, 'matrices', 'default.yaml');

/** The suite under which the pre-test ISA check of each image is reported. */
export const IMAGE_CHECK_SUITE = 'image';
export const IMAGE_CHECK_CASE = 'ELF of the entry point matches the ISA';
/** The case count a suite that cannot estimate its own is taken to have, for balancing shards. */
const DEFAULT_ESTIMATED_CASES = 20;

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

async function imageSource(ref: ImageRef, isa: Isa, built: Record<string, BuiltImage>, fetching: FetchContext): Promise<ImageSource> {
  switch (ref.kind) {
    case 'built': {
      const image = built[isa.name];
      if (!image) throw new HarnessError(`built image for ${isa.name} is missing: run harness build-images --arch ${isa.name}`);
      return { kind: 'tarball', path: image.rootfsTarGz, sha512: image.sha512 };
    }
    case 'tarball':
      return { kind: 'tarball', path: ref.path, sha512: ref.sha512 ?? (ref.sha512sums ? await sha512FromSums(ref.sha512sums, ref.path, fetching) : undefined) };
    case 'directory':
      return { kind: 'directory', path: ref.path };
    case 'oci':
      return { kind: 'oci', path: ref.layout, tag: ref.tag };
    case 'docker-archive':
      return { kind: 'docker-archive', path: ref.path };
    case 'url':
    case 'registry':
      return fetchedSource(ref, fetching);
  }
}

/** The BusyBox source and .config a built image came from (the build keeps both pinned). */
function busyboxBuildInputs(image: BuiltImage): BusyboxBuildInputs | undefined {
  const source = image.manifest.sources.find((s) => s.name === 'busybox');
  return source && { version: source.version, tarball: { path: join(defaultSourcesDir(), source.file), sha256: source.sha256 }, config: BUSYBOX_CONFIG };
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
  /** Set when the filters chose one shard of the plan: the cases above are that shard's. */
  shard?: ShardProperties;
}

export interface PrepareRunOptions {
  matrixPath?: string;
  matrix?: Matrix;
  filters?: PlanFilters;
  cacheDir?: string;
  signal?: AbortSignal;
  /** Build missing images and compile probes (run); list only looks in the cache. */
  build: boolean;
  onBuildProgress?: (isa: Isa, stage: string) => void;
  /** How downloads and pulls show their progress (default plain). */
  progress?: ProgressMode;
  /** The matrix's notices (Matrix.notices), one line each. */
  onNotice?: (line: string) => void;
  toolchains?: RunOptions['toolchains'];
}

async function builtImages(isas: Isa[], options: PrepareRunOptions): Promise<Record<string, BuiltImage>> {
  if (!isas.length) return {};
  if (options.build) {
    return (await buildImages({ arches: isas, signal: options.signal, onProgress: options.onBuildProgress, cacheDir: options.cacheDir })).images;
  }
  const found = await Promise.all(isas.map(async (isa) => [isa.name, await findBuiltImage(isa, options.cacheDir)] as const));
  return Object.fromEntries(found.filter((entry): entry is readonly [string, BuiltImage] => entry[1] !== undefined));
}

async function prepareImageFor(job: Job, built: Record<string, BuiltImage>, options: PrepareRunOptions & { fetching: FetchContext; maxMembers: number }): Promise<{ image: PreparedImage; check: CaseResult }> {
  const source = await imageSource(job.ref, job.isa, built, options.fetching);
  const extracted = await prepareImage(source, job.isa, { cacheDir: options.cacheDir, signal: options.signal, maxMembers: options.maxMembers });
  const buildInputs = job.ref.kind === 'built' ? busyboxBuildInputs(built[job.isa.name]!) : undefined;
  const facts: ImageFacts = {
    ref: job.image.name,
    digest: extracted.digest,
    rootfs: extracted.rootfs,
    applets: [],
    defaultCmd: extracted.defaultCmd,
    ...(extracted.compressedBytes !== undefined && { compressedBytes: extracted.compressedBytes }),
    ...(buildInputs && { busyboxBuild: buildInputs }),
    ...(extracted.archive && { archive: extracted.archive }),
  };
  const checkStarted = Date.now();
  let blocked: string | undefined;
  try {
    await checkImageIsa(extracted.rootfs, job.isa, undefined, job.image.name);
    const [applets, busyboxVersion] = await Promise.all([
      imageApplets(extracted, job.isa, job.image.name, { cacheDir: options.cacheDir, signal: options.signal }),
      readBusyboxVersion(extracted.rootfs, job.isa, options.signal),
    ]);
    facts.applets = applets;
    if (busyboxVersion) facts.busyboxVersion = busyboxVersion;
  } catch (error) {
    if (!(error instanceof ImageIsaMismatchError || error instanceof ImageDoesNotBootError)) throw error;
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
  const matrix = options.matrix ?? (await loadMatrix(resolve(options.matrixPath ?? DEFAULT_MATRIX)));
  for (const notice of matrix.notices ?? []) options.onNotice?.(notice);
  const filters = options.filters ?? {};
  const planned = planJobs(matrix, filters);
  // A shard builds, fetches, extracts and compiles only for the jobs it has cases of.
  const shard = filters.shard && (await selectShard(planned.jobs, filters.shard, filters.timings, (job) => SUITES[job.suite.name].estimatedCases?.({ isa: job.isa, settings: job.settings }) ?? DEFAULT_ESTIMATED_CASES));
  const mine = shard ? shard.jobs : planned.jobs;
  // Remote images are fetched next: the ISAs a registry index lacks leave the plan as skipped
  // jobs. Every job of an image x ISA the shard needs is asked, so the one shard that owns that
  // image x ISA reports all of its skips, and no skip is reported twice across shards.
  const fetching: FetchContext = { cacheDir: options.cacheDir ?? cacheRoot(), signal: options.signal, progress: createFetchProgress(options.progress ?? 'plain') };
  const combo = (job: Job) => `${job.image.name}\0${job.isa.name}`;
  const mineCombos = new Set(mine.map(combo));
  const fetched = await fetchForPlan({ jobs: planned.jobs.filter((job) => mineCombos.has(combo(job))), skipped: [] }, fetching);
  const present = new Set(fetched.jobs);
  const jobs = mine.filter((job) => present.has(job));
  // The suites no ISA can run are reported by the first shard.
  const plan: Plan = {
    jobs,
    skipped: [...(!shard || shard.spec.index === 1 ? planned.skipped : []), ...fetched.skipped.filter((skip) => !shard || shard.ownsImage(skip.image, skip.isa.name))],
  };
  const isas = [...new Map(jobs.map((job) => [job.isa.name, job.isa])).values()];
  // A run registers missing handlers; list changes nothing on the host and uses what is there.
  const handlers = options.build ? await ensureHandlers(isas) : [];
  if (options.build) await ensureSandboxPrivileges();

  // Our images and toolchains, for every ISA whose jobs use the built image or compile probes.
  const needsBuild = isas.filter((isa) => jobs.some((job) => job.isa === isa && (job.ref.kind === 'built' || job.suite.name === 'musl')));
  const built = await builtImages(needsBuild, options);
  const unbuilt = needsBuild.filter((isa) => !built[isa.name]).map((isa) => isa.name);

  // Each image x ISA once, all at once: extract (cached by digest), check its ELF, list its applets.
  const runnable = jobs.filter((job) => job.ref.kind !== 'built' || built[job.isa.name]);
  const firstJobs = [...new Map(runnable.map((job) => [`${job.image.name}/${job.isa.name}`, job])).entries()];
  const preparedImages = await Promise.all(firstJobs.map(async ([key, job]) => [key, await prepareImageFor(job, built, { ...options, fetching, maxMembers: matrix.limits.archiveMembers })] as const));
  const images = new Map(preparedImages.map(([key, { image }]) => [key, image]));
  // One shard reports each image's ISA check: the first that needs the image.
  const checks = preparedImages.map(([, { check }]) => check).filter((check) => !shard || shard.ownsImage(check.image, check.isa));

  // Each job's cases (the musl suite compiles its probes here, cached), jobs side by side.
  const perJob = await Promise.all(
    runnable.map(async (job) => {
      const image = images.get(`${job.image.name}/${job.isa.name}`)!;
      const wanted = shard && ((caseName: string) => shard.runs(job, caseName));
      const suiteCases = await SUITES[job.suite.name].cases({ isa: job.isa, image: image.facts, toolchain: options.toolchains?.[job.isa.name] ?? built[job.isa.name]?.toolchain, settings: job.settings, ...(wanted && { wanted }) });
      return expandCases(job, wanted ? suiteCases.filter((c) => wanted(c.name)) : suiteCases, filters);
    }),
  );
  const cases = perJob.flat();
  return { matrix, plan, isas, handlers, images, checks, cases: interleaveByIsa(cases), unbuilt, ...(shard && { shard: shard.properties }) };
}

export async function runMatrix(options: RunOptions = {}): Promise<RunOutcome> {
  const started = new Date();
  const signal = options.signal;
  const { matrix, plan, isas, handlers, images, checks, cases: ordered, shard } = await prepareRun({ ...options, build: true });
  const concurrency = options.jobs ?? (matrix.jobs === 'auto' ? autoJobs() : matrix.jobs);
  const results: CaseResult[] = [...checks];
  const byId = new Map(ordered.map((p, index) => [String(index), p]));
  const imageOf = (p: PlannedCase) => images.get(`${p.job.image.name}/${p.job.isa.name}`)!;

  const progress = createProgress({
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
  const triage = options.triage
    ? await triageResults(ranResults, planLookup(ordered, (p) => ({ rootfs: imageOf(p).facts.rootfs, digest: imageOf(p).facts.digest })), { cacheDir: options.cacheDir, signal, log: options.onTriageLog })
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
