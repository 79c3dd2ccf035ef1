// Planning a run: matrix -> plan -> images (found or built, fetched, extracted, ISA-checked,
// inspected) -> cases. What `list` shows and `run` runs; kept apart from the runner (run.ts)
// so that `list` loads none of the sandbox, scheduler, report or triage modules.
import { join, resolve } from 'node:path';
import { buildImages, findBuiltImage, type BuiltImage } from '../images/build.ts';
import { BUSYBOX_CONFIG } from '../images/busybox.ts';
import { defaultSourcesDir } from '../images/sources.ts';
import { HarnessError } from './errors.ts';
import { sha512FromSums } from './fetch/checksums.ts';
import { createFetchProgress } from './fetch/progress.ts';
import { fetchedSource, fetchForPlan, type FetchContext } from './fetch/remote.ts';
import type { HandlerStatus } from './host/binfmt.ts';
import type { Isa } from './isa.ts';
import { loadMatrix } from './matrix/load.ts';
import { expandCases, interleaveByIsa, planJobs, type Job, type Plan, type PlanFilters, type PlannedCase } from './matrix/plan.ts';
import type { ImageRef, Matrix, SuiteName } from './matrix/schema.ts';
import { cacheRoot, REPO_ROOT } from './paths.ts';
import type { ProgressMode } from './report/progress.ts';
import type { CaseResult, ShardProperties } from './results.ts';
import { ImageDoesNotBootError, imageBusybox } from './rootfs/applets.ts';
import { checkImageIsa, ImageIsaMismatchError, prepareImage, type ImageSource } from './rootfs/index.ts';
import { selectShard } from './shard/select.ts';
import { busyboxSuite } from './suites/busybox/index.ts';
import { busyboxUpstreamSuite } from './suites/busybox-upstream/index.ts';
import { imageSuite } from './suites/image/index.ts';
import { muslSuite } from './suites/musl/index.ts';
import { staticSuite } from './suites/static/index.ts';
import type { BusyboxBuildInputs, ImageFacts, Suite, Toolchain } from './suites/suite.ts';

export const SUITES: Record<SuiteName, Suite> = {
  image: imageSuite, busybox: busyboxSuite, 'busybox-upstream': busyboxUpstreamSuite, musl: muslSuite, static: staticSuite,
};
export const DEFAULT_MATRIX = join(REPO_ROOT, 'matrices', 'default.yaml');

/** The suite under which the pre-test ISA check of each image is reported. */
export const IMAGE_CHECK_SUITE = 'image';
export const IMAGE_CHECK_CASE = 'ELF of the entry point matches the ISA';
/** The case count a suite that cannot estimate its own is taken to have, for balancing shards. */
const DEFAULT_ESTIMATED_CASES = 20;

/** One image on one ISA, ready to run cases in. */
export interface PreparedImage {
  name: string;
  isa: Isa;
  facts: ImageFacts;
  /** Why nothing runs on it (the ISA check failed): its cases are skipped with this. */
  blocked?: string;
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
  toolchains?: Record<string, Toolchain>;
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
    const busybox = await imageBusybox(extracted, job.isa, job.image.name, { cacheDir: options.cacheDir, signal: options.signal });
    facts.applets = busybox.applets;
    facts.appletLinkProblems = busybox.linkProblems;
    if (busybox.version) facts.busyboxVersion = busybox.version;
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
  const fetching: FetchContext = { cacheDir: options.cacheDir ?? cacheRoot(), signal: options.signal, progress: await createFetchProgress(options.progress ?? 'plain') };
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
  // Loaded only to run: list need not pay for the host modules (doctor, VM kernels).
  const handlers: HandlerStatus[] = [];
  if (options.build) {
    const [{ ensureHandlers }, { ensureSandboxPrivileges }] = await Promise.all([import('./host/binfmt.ts'), import('./host/privileges.ts')]);
    handlers.push(...(await ensureHandlers(isas)));
    await ensureSandboxPrivileges();
  }

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
