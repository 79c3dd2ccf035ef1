// One bisect step: one case of one image on one ISA, run as a normal run (a matrix written
// into the step's report dir, so `harness run <dir>/matrix.yaml` repeats it) and judged
// from its results only.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { HarnessError } from '../errors.ts';
import type { Isa } from '../isa.ts';
import { SUITE_NAMES, type SuiteName } from '../matrix/schema.ts';
import type { ImageSource } from '../rootfs/index.ts';
import type { Toolchain } from '../suites/suite.ts';
import { prepareRun, runMatrix } from '../run.ts';
import { judgeRun, type Judgement } from './judge.ts';

/** `<suite>/<case>`, split and checked: the suite must exist and be one a bisect can set up. */
export function parseCaseId(id: string): { suite: SuiteName; name: string } {
  const slash = id.indexOf('/');
  const suite = SUITE_NAMES.find((name) => name === id.slice(0, slash));
  if (slash < 0 || !suite || !id.slice(slash + 1)) {
    throw new HarnessError(`--case '${id}': write <suite>/<case>, e.g. 'busybox/rev and tac' (suites: ${SUITE_NAMES.join(', ')}; \`harness list\` prints every case)`);
  }
  if (suite === 'static') throw new HarnessError(`--case '${id}': the static suite runs your own binaries from a matrix; bisect it with \`git bisect run harness run <matrix> --bisect\``);
  return { suite, name: id.slice(slash + 1) };
}

/** The --grep that selects exactly one `<suite>/<case>`. */
export function exactGrep(id: string): string {
  return `/^${id.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$/`;
}

function matrixImage(name: string, source: ImageSource): Record<string, unknown> {
  switch (source.kind) {
    case 'tarball':
      return { name, tarball: source.path, ...(source.sha512 && { sha512: source.sha512 }) };
    case 'directory':
      return { name, directory: source.path };
    case 'oci':
      return { name, oci: source.path, ...(source.tag && { tag: source.tag }) };
    case 'docker-archive':
      return { name, 'docker-archive': source.path };
  }
}

export interface StepOptions {
  image: ImageSource;
  /** The image's name in the step's reports (letters, digits, '.', '_', '-'). */
  imageName: string;
  isa: Isa;
  caseId: string;
  /** Where the step's matrix.yaml, results.json and junit.xml go. */
  dir: string;
  cacheDir?: string;
  signal?: AbortSignal;
  /** The musl the musl suite's probes link: a musl bisect step's, not the built image's. */
  toolchain?: Toolchain;
}

export interface StepRun extends Judgement {
  durationMs: number;
  resultsPath?: string;
}

/** The matrix of one step: the image, the ISA, the case's suite. Returns its path. */
async function writeStepMatrix(options: StepOptions): Promise<string> {
  const { suite } = parseCaseId(options.caseId);
  await mkdir(options.dir, { recursive: true });
  const matrixPath = join(options.dir, 'matrix.yaml');
  const matrix = { name: 'bisect-step', arches: [options.isa.name], images: [matrixImage(options.imageName, options.image)], suites: { [suite]: {} }, retries: 0 };
  // A rerun from this file compiles musl/ probes with the built image's musl, not the step's.
  const probes = options.toolchain ? `# (the step linked musl/ probes with ${options.toolchain.cc}, not the built image's musl)\n` : '';
  await writeFile(matrixPath, `# harness run ${matrixPath} --grep '${exactGrep(options.caseId)}'\n${probes}${stringify(matrix)}`);
  return matrixPath;
}

/** Whether the case exists for this image and ISA (as `harness list` would show it); runs no case. */
export async function caseExists(options: Omit<StepOptions, 'dir'>): Promise<boolean> {
  const dir = await mkdtemp(join(tmpdir(), 'harness-bisect-'));
  try {
    const matrixPath = await writeStepMatrix({ ...options, dir });
    const prepared = await prepareRun({ matrixPath, filters: { grep: exactGrep(options.caseId) }, build: false, cacheDir: options.cacheDir, signal: options.signal });
    return prepared.cases.length > 0;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs the step; a run that throws (an image that cannot be fetched or extracted) cannot be judged. */
export async function runStep(options: StepOptions): Promise<StepRun> {
  const started = performance.now();
  const matrixPath = await writeStepMatrix(options);
  const resultsPath = join(options.dir, 'results.json');
  try {
    const outcome = await runMatrix({
      matrixPath, filters: { grep: exactGrep(options.caseId) }, progress: 'quiet', signal: options.signal, cacheDir: options.cacheDir,
      jsonPath: resultsPath, junitPath: join(options.dir, 'junit.xml'), ...(options.toolchain && { toolchains: { [options.isa.name]: options.toolchain } }),
    });
    return { ...judgeRun(outcome.results, options.caseId), durationMs: performance.now() - started, resultsPath };
  } catch (error) {
    options.signal?.throwIfAborted();
    const message = (error as Error).message.split('\n')[0] ?? String(error);
    return { verdict: 'skip', reason: `cannot run: ${message}`, cases: [], durationMs: performance.now() - started };
  }
}
