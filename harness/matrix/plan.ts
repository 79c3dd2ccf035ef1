// Expands a matrix into jobs (image x ISA x suite) and a job's cases into planned cases,
// applying the run's filters. Pure: no processes, no files.
import type { TestCase } from '../case.ts';
import { HarnessError } from '../errors.ts';
import { findIsa, UnknownIsaError, type Isa } from '../isa.ts';
import type { ShardSpec } from '../shard/ci-env.ts';
import { mergeLimits, type Limits } from '../limits.ts';
import { unknownMessage } from './fields.ts';
import { expandArch } from './paths.ts';
import { SUITE_NAMES, SUITE_SETTINGS, type ImageRef, type ImageSpec, type KnownFailure, type Matrix, type SuiteName, type SuiteSpec } from './schema.ts';

/** What the command line narrows a run to; every name is checked against the matrix. */
export interface PlanFilters {
  /** ISA names or aliases (--arch); comma-separated values are split. */
  arches?: string[];
  /** Suite names (--suite). */
  suites?: string[];
  /** Image names from the matrix (--image). */
  images?: string[];
  /** Case-insensitive substring, or /regex/flags, matched against `<suite>/<case>` and the ISA name (--grep). */
  grep?: string;
  /** Run only this shard of the selected cases (--shard K/N, or a CI system's variables). */
  shard?: ShardSpec;
  /** Earlier results (a results.json, or a directory of them) whose case durations balance the shards (--timings). */
  timings?: string;
}

export interface Job {
  /** `<image>/<isa>/<suite>`, unique within a plan. */
  id: string;
  image: ImageSpec;
  /** Where this ISA's image comes from. */
  ref: ImageRef;
  isa: Isa;
  suite: SuiteSpec;
  /** The suite's settings for this ISA, `{arch}` replaced: pass as SuiteContext.settings. */
  settings: Record<string, unknown>;
  /** The matrix's case timeout scaled by the ISA's timeoutMultiplier (a case's own timeoutSeconds overrides the base). */
  caseTimeoutMs: number;
  /** The matrix's suite timeout scaled by the ISA's timeoutMultiplier. */
  suiteTimeoutMs: number;
  /** The matrix's limits with the suite's own over them (a case's own go over these). */
  limits: Limits;
  retries: number;
  /** The matrix's known failures that apply to this image and ISA (any suite). */
  knownFailures: KnownFailure[];
}

/** A job the matrix names but that cannot run: an optional image's or suite's files are absent, or the image lacks the ISA. */
export interface SkippedJob {
  id: string;
  image: string;
  isa: Isa;
  suite: SuiteName;
  reason: string;
}

export interface Plan {
  /** Interleaved across ISAs, so a slow emulator does not hold up the others. */
  jobs: Job[];
  skipped: SkippedJob[];
}

export interface PlannedCase {
  job: Job;
  testCase: TestCase;
  /** `<suite>/<case>`. */
  test: string;
  /** Per attempt, on this ISA. */
  timeoutMs: number;
  /** The job's limits with the case's own over them. */
  limits: Limits;
  knownFailure?: KnownFailure;
}

export function planJobs(matrix: Matrix, filters: PlanFilters = {}): Plan {
  const isas = pick('--arch', filters.arches, matrix.isas, (isa) => isa.name, (name) => findIsa(name)?.name, (name) => new UnknownIsaError(name).message);
  const suites = pick('--suite', filters.suites, matrix.suites, (suite) => suite.name,
    (name) => SUITE_NAMES.find((known) => known === name), (name) => unknownMessage('suite', name, SUITE_NAMES));
  const imageNames = matrix.images.map((image) => image.name);
  const images = pick('--image', filters.images, matrix.images, (image) => image.name,
    (name) => (imageNames.includes(name) ? name : undefined), (name) => unknownMessage('image', name, imageNames));
  if (filters.grep !== undefined) compileGrep(filters.grep);

  const skipped: SkippedJob[] = [];
  const jobsPerIsa = isas.map((isa) =>
    images.flatMap((image) => {
      const ref = image.refs[isa.name];
      if (!ref) return [];
      return suites.flatMap((suite): Job[] => {
        const id = `${image.name}/${isa.name}/${suite.name}`;
        const reason = unavailableReason(image, suite, isa);
        if (reason) {
          skipped.push({ id, image: image.name, isa, suite: suite.name, reason });
          return [];
        }
        return [{
          id,
          image,
          ref,
          isa,
          suite,
          settings: settingsFor(suite, isa),
          caseTimeoutMs: matrix.timeouts.caseMs * isa.timeoutMultiplier,
          suiteTimeoutMs: matrix.timeouts.suiteMs * isa.timeoutMultiplier,
          limits: mergeLimits(matrix.limits, suite.limits),
          retries: matrix.retries,
          knownFailures: matrix.knownFailures.filter((entry) => appliesTo(entry, isa, image.name)),
        }];
      });
    }),
  );
  return { jobs: interleave(jobsPerIsa), skipped };
}

/** The cases of one job that the filters select, with their timeouts and known failures. */
export function expandCases(job: Job, cases: readonly TestCase[], filters: Pick<PlanFilters, 'grep'> = {}): PlannedCase[] {
  const grep = filters.grep === undefined ? undefined : compileGrep(filters.grep);
  return cases.flatMap((testCase): PlannedCase[] => {
    const test = `${job.suite.name}/${testCase.name}`;
    if (grep && !grep.test(test) && !grep.test(job.isa.name)) return [];
    // The matrix's entry wins over one the suite ships with the case.
    const knownFailure = findKnownFailure(job.knownFailures, test) ?? (testCase.knownFailure && { test, ...testCase.knownFailure });
    const timeoutMs = testCase.timeoutSeconds === undefined ? job.caseTimeoutMs : testCase.timeoutSeconds * 1000 * job.isa.timeoutMultiplier;
    // Most cases set no limits of their own: they share the job's (read-only) object.
    const limits = testCase.limits ? mergeLimits(job.limits, testCase.limits) : job.limits;
    return [{ job, testCase, test, timeoutMs, limits, ...(knownFailure && { knownFailure }) }];
  });
}

/** Round-robin over the lists: the first of each, then the second of each, and so on. */
export function interleave<T>(lists: ReadonlyArray<readonly T[]>): T[] {
  const longest = Math.max(0, ...lists.map((list) => list.length));
  const out: T[] = [];
  for (let i = 0; i < longest; i++) {
    for (const list of lists) if (i < list.length) out.push(list[i]!);
  }
  return out;
}

/** Planned cases of many jobs, reordered round-robin across ISAs (each ISA's own order kept). */
export function interleaveByIsa(cases: readonly PlannedCase[]): PlannedCase[] {
  const perIsa = new Map<string, PlannedCase[]>();
  for (const planned of cases) {
    const list = perIsa.get(planned.job.isa.name) ?? [];
    list.push(planned);
    perIsa.set(planned.job.isa.name, list);
  }
  return interleave([...perIsa.values()]);
}

/** The known-failure entry for a case of a suite on an ISA (and image, when given), if any. */
export function matchKnownFailure(matrix: Matrix, suite: string, caseName: string, isa: Isa, image?: string): KnownFailure | undefined {
  return findKnownFailure(matrix.knownFailures.filter((entry) => appliesTo(entry, isa, image)), `${suite}/${caseName}`);
}

/** The job's known-failure entry for one of its cases (e.g. a sub-result), if any. */
export function jobKnownFailure(job: Job | undefined, caseName: string): KnownFailure | undefined {
  return job && findKnownFailure(job.knownFailures, `${job.suite.name}/${caseName}`);
}

function findKnownFailure(entries: readonly KnownFailure[], test: string): KnownFailure | undefined {
  return entries.find((entry) => globToRegExp(entry.test).test(test));
}

/** An entry without arch or image applies everywhere; one with an image needs that image. */
function appliesTo(entry: KnownFailure, isa: Isa, image: string | undefined): boolean {
  return (!entry.isas || entry.isas.includes(isa)) && (entry.image === undefined || entry.image === image);
}

/** Compiled once each: every planned case is matched against every known-failure entry. */
const globs = new Map<string, RegExp>();

/** `*` matches any run of characters (slashes too), `?` one; the rest literally. */
export function globToRegExp(glob: string): RegExp {
  let compiled = globs.get(glob);
  if (!compiled) {
    const body = glob.replace(/[.+^${}()|[\]\\*?]/g, (c) => (c === '*' ? '.*' : c === '?' ? '.' : `\\${c}`));
    compiled = new RegExp(`^${body}$`);
    globs.set(glob, compiled);
  }
  return compiled;
}

function compileGrep(grep: string): RegExp {
  const literal = /^\/(.*)\/([a-z]*)$/s.exec(grep);
  if (!literal) return new RegExp(grep.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');
  try {
    return new RegExp(literal[1]!, literal[2]!.replace(/[gy]/g, ''));
  } catch (error) {
    throw new HarnessError(`--grep: ${grep} is not a valid regular expression (${(error as Error).message}); write a substring or /regex/flags`);
  }
}

function unavailableReason(image: ImageSpec, suite: SuiteSpec, isa: Isa): string | undefined {
  const imageReason = image.unavailable[isa.name];
  if (imageReason) return `${image.optional ? 'optional ' : ''}image '${image.name}' is absent for ${isa.name}: ${imageReason}`;
  const suiteReason = suite.unavailable[isa.name];
  return suiteReason && `optional suite '${suite.name}' has nothing for ${isa.name}: ${suiteReason}`;
}

function settingsFor(suite: SuiteSpec, isa: Isa): Record<string, unknown> {
  const settings = { ...suite.settings };
  for (const spec of SUITE_SETTINGS[suite.name]) {
    const value = settings[spec.as];
    if ((spec.kind === 'path' || spec.kind === 'file') && typeof value === 'string') settings[spec.as] = expandArch(value, isa);
  }
  return settings;
}

/**
 * The matrix's entries narrowed to the filter's names (all of them without a filter). A
 * name the harness does not know (`canonical` gives undefined), or one the matrix does not
 * cover, is a HarnessError.
 */
function pick<T>(
  flag: string,
  wanted: readonly string[] | undefined,
  all: readonly T[],
  nameOf: (item: T) => string,
  canonical: (name: string) => string | undefined,
  unknown: (name: string) => string,
): T[] {
  const names = wanted?.flatMap((value) => value.split(',')).map((value) => value.trim()).filter(Boolean);
  if (!names?.length) return [...all];
  const chosen = new Set<T>();
  for (const name of names) {
    const known = canonical(name);
    if (known === undefined) throw new HarnessError(`${flag}: ${unknown(name)}`);
    const item = all.find((candidate) => nameOf(candidate) === known);
    if (item === undefined) throw new HarnessError(`${flag}: '${name}' is not in this matrix; it covers ${all.map(nameOf).join(', ')}`);
    chosen.add(item);
  }
  // Keep the matrix's order, not the command line's.
  return all.filter((item) => chosen.has(item));
}
