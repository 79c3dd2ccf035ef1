// Builds the harness's Alpine-style images (musl + static BusyBox, from pinned sources) for
// any set of ISAs, in parallel, into a cache keyed by every input; then one multi-platform
// OCI layout over them. An unchanged rebuild only recomputes the keys.
import { availableParallelism } from 'node:os';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import PQueue from 'p-queue';
import { CacheWriteError, cacheWriteError, writeErrnoIn } from '../harness/cache-temp.ts';
import { HarnessError } from '../harness/errors.ts';
import { type Isa, ISAS, platformString } from '../harness/isa.ts';
import { cacheRoot } from '../harness/paths.ts';
import { buildBusybox, type BuiltBusybox, guardPtrToGlobals } from './busybox.ts';
import { exists, hashTree, publishAtomically, shortHash } from './cache.ts';
import { rootfsEntries } from './layout.ts';
import { writeOciLayout } from './oci.ts';
import { run } from './run.ts';
import { prepareRuntime } from './runtime.ts';
import { ensureSources, sourcesFor, type PinnedSource, type VerifiedSource } from './sources.ts';
import { sha256Hex, sha512Hex, writeTarball, type Tarball } from './tarball.ts';
import { type CrossCompiler, findCrossCompiler } from './compiler.ts';
import { type Toolchain, buildMusl, prefixMapFlags, relocateToolchain, toolchainAt } from './toolchain.ts';
import { verifyBusybox } from './verify.ts';

/** Every mtime in the images and the OCI `created` time: 2022-06-01T00:00:00Z. */
export const SOURCE_DATE_EPOCH = 1654041600;

const IMAGES_DIR = dirname(fileURLToPath(import.meta.url));
/** Files under images/ that shape an image (code, BusyBox config, templates); docs do not. */
// Docs are not inputs, nor is the JavaScript `npm run build` compiles from the .ts sources hashed beside it.
// The image key hashes what shapes the image's bytes, not how sources are fetched (their sha256s
// are in the key), verified or cached, or how the compiler is found (its version is in the key):
// editing those must not rebuild every ISA.
const NOT_BUILD_INPUTS = new Set(['sources.ts', 'source-urls.list', 'verify.ts', 'cache.ts', 'compiler.ts']);
const isBuildInput = (relativePath: string) => !relativePath.endsWith('.md') && !relativePath.endsWith('.js') && !NOT_BUILD_INPUTS.has(relativePath);
/** Hashed once per process: `list` and a run look up every ISA's image with the same inputs. */
let buildInputs: Promise<Record<string, string>> | undefined;
const buildInputHashes = () => (buildInputs ??= hashTree(IMAGES_DIR, isBuildInput));
const TEMPLATES_DIR = join(IMAGES_DIR, 'rootfs');
const MANIFEST_FILE = 'manifest.json';
const ROOTFS_FILE = 'rootfs.tar.gz';

export interface ImageManifest {
  formatVersion: 1;
  /** Hash of every input: the cache key. */
  inputHash: string;
  isa: { name: string; platform: string; gccTriplet: string; muslArch: string; qemuTarget: string };
  versions: { busybox: string; musl: string };
  sources: Array<{ name: string; version: string; file: string; sha256: string }>;
  /** The cross compiler's `--version` line. */
  /** First line of the compiler's --version. */
  toolchain: { compiler: string };
  sourceDateEpoch: number;
  /** Bytes. */
  sizes: { busybox: number; rootfsTar: number; rootfsTarGz: number };
  rootfs: { sha512: string; tarSha256: string; gzSha256: string };
  applets: number;
}

export interface BuiltImage {
  isa: string;
  /** The image's cache dir: rootfs.tar.gz, rootfs.tar.gz.sha512, manifest.json, sysroot/. */
  dir: string;
  rootfsTarGz: string;
  sha512: string;
  manifest: ImageManifest;
  toolchain: Toolchain;
  /** True when this call found it in the cache instead of building it. */
  cached: boolean;
}

export interface BuildResult {
  images: Record<string, BuiltImage>;
  /** Directory of the OCI image layout over all built ISAs; each manifest is tagged with its ISA name. */
  ociLayout: string;
}

export interface BuildImagesOptions {
  arches: Isa[];
  /** Where the pinned source tarballs are (or get fetched to); default <cacheRoot()>/sources. */
  sourcesDir?: string;
  /** Default cacheRoot(). Images go to <cacheDir>/images/<isa>-<key>, layouts to <cacheDir>/oci/<key>. */
  cacheDir?: string;
  /** Cores to use in all; default all of this machine's. */
  jobs?: number;
  onProgress?: (isa: Isa, stage: string) => void;
  signal?: AbortSignal;
}

interface ImagePlan {
  isa: Isa;
  compiler: CrossCompiler;
  inputHash: string;
  dir: string;
}

async function planImage(isa: Isa, compiler: CrossCompiler, cacheDir: string, imagesTree: Record<string, string>): Promise<ImagePlan> {
  const inputHash = shortHash({
    sources: sourcesFor(isa).map((s) => [s.file, s.sha256]),
    imagesTree,
    isa,
    compiler: compiler.version,
    sourceDateEpoch: SOURCE_DATE_EPOCH,
  });
  return { isa, compiler, inputHash, dir: join(cacheDir, 'images', `${isa.name}-${inputHash}`) };
}

function builtImage(plan: ImagePlan, manifest: ImageManifest, cached: boolean): BuiltImage {
  return {
    isa: plan.isa.name,
    dir: plan.dir,
    rootfsTarGz: join(plan.dir, ROOTFS_FILE),
    sha512: manifest.rootfs.sha512,
    manifest,
    toolchain: toolchainAt(plan.isa, join(plan.dir, 'sysroot')),
    cached,
  };
}

async function loadCached(plan: ImagePlan): Promise<BuiltImage | undefined> {
  const path = join(plan.dir, MANIFEST_FILE);
  if (!(await exists(path))) return undefined;
  return builtImage(plan, JSON.parse(await readFile(path, 'utf8')) as ImageManifest, true);
}

/** The image built for the current inputs, if the cache has it; never builds. */
export async function findBuiltImage(isa: Isa, cacheDir: string = cacheRoot()): Promise<BuiltImage | undefined> {
  const compiler = await findCrossCompiler(isa).catch((error) => {
    if (error instanceof HarnessError) return undefined;
    throw error;
  });
  if (!compiler) return undefined;
  return loadCached(await planImage(isa, compiler, cacheDir, await buildInputHashes()));
}

/** The musl toolchain of the image built for the current inputs, if the cache has it. */
export async function toolchainFor(isa: Isa, cacheDir: string = cacheRoot()): Promise<Toolchain | undefined> {
  return (await findBuiltImage(isa, cacheDir))?.toolchain;
}

async function readTemplates(): Promise<Map<string, Buffer>> {
  const entries = await readdir(TEMPLATES_DIR, { recursive: true, withFileTypes: true });
  const templates = new Map<string, Buffer>();
  for (const entry of entries.filter((e) => e.isFile())) {
    const path = join(entry.parentPath, entry.name);
    templates.set(relative(TEMPLATES_DIR, path), await readFile(path));
  }
  return templates;
}

/**
 * The rootfs as a reproducible tarball: a BusyBox build, musl's loader stripped from the
 * sysroot, the templates. The image build and the source bisect's steps both use this.
 */
export async function assembleRootfs(isa: Isa, compiler: CrossCompiler, busybox: BuiltBusybox, sysroot: string, scratchDir: string, signal?: AbortSignal): Promise<Tarball> {
  const loader = join(scratchDir, 'ld-musl.so');
  try {
    await run([compiler.tool('strip'), '--strip-all', '-o', loader, join(sysroot, 'lib', 'libc.so')], { signal });
    const entries = rootfsEntries({
      isa, busybox: busybox.binary, muslLoader: await readFile(loader), appletPaths: busybox.appletPaths, templates: await readTemplates(),
    });
    return await writeTarball(entries, SOURCE_DATE_EPOCH);
  } finally {
    await rm(loader, { force: true });
  }
}

interface BuildContext {
  sources: VerifiedSource[];
  makeJobs: number;
  onProgress: (isa: Isa, stage: string) => void;
  signal?: AbortSignal;
}

function source(sources: VerifiedSource[], isa: Isa, name: VerifiedSource['name']): VerifiedSource {
  const wanted = sourcesFor(isa).find((s) => s.name === name);
  const found = sources.find((s) => s.file === wanted?.file);
  if (!found) throw new HarnessError(`${isa.name}: no pinned source named ${name}; add one to SOURCES in images/sources.ts`);
  return found;
}

/** Builds one image into a temp dir beside plan.dir and renames it into place. */
async function buildImage(plan: ImagePlan, context: BuildContext): Promise<BuiltImage> {
  const { isa } = plan;
  const { signal } = context;
  const progress = (stage: string) => context.onProgress(isa, stage);
  const musl = source(context.sources, isa, 'musl');
  const busybox = source(context.sources, isa, 'busybox');
  const ownSources = context.sources.filter((s) => sourcesFor(isa).some((pinned) => pinned.file === s.file));
  let manifest: ImageManifest | undefined;
  await publishAtomically(plan.dir, async (tmp) => {
    const env = { SOURCE_DATE_EPOCH: String(SOURCE_DATE_EPOCH), TZ: 'UTC' };
    const prefixMaps = prefixMapFlags(tmp);
    progress('unpacking sources');
    const srcDir = join(tmp, 'src');
    await mkdir(srcDir);
    for (const { path } of [musl, busybox]) await run(['tar', 'xf', path, '-C', srcDir], { signal });
    const runtime = await prepareRuntime({ isa, compiler: plan.compiler, sources: ownSources, dir: join(srcDir, 'runtime'), cflags: prefixMaps, env, signal });
    progress(`building musl ${musl.version}`);
    const sysroot = join(tmp, 'sysroot');
    const toolchain = await buildMusl({
      isa, compiler: plan.compiler, runtime, sourceDir: join(srcDir, `musl-${musl.version}`), buildDir: join(srcDir, 'musl-build'), sysroot,
      cflags: prefixMaps, jobs: context.makeJobs, env, signal,
    });
    progress(`building busybox ${busybox.version}`);
    const busyboxDir = join(srcDir, `busybox-${busybox.version}`);
    if (isa.compiler.kind === 'clang') await guardPtrToGlobals(busyboxDir);
    const built = await buildBusybox({ isa, compiler: plan.compiler, sourceDir: busyboxDir, toolchain, cflags: prefixMaps, jobs: context.makeJobs, env, signal });
    progress('checking busybox');
    await verifyBusybox(isa, join(busyboxDir, 'busybox'), tmp, signal);
    progress('writing rootfs');
    const { tar, gz } = await assembleRootfs(isa, plan.compiler, built, sysroot, tmp, signal);
    const sha512 = sha512Hex(gz);
    await writeFile(join(tmp, ROOTFS_FILE), gz);
    await writeFile(join(tmp, `${ROOTFS_FILE}.sha512`), `${sha512}  ${ROOTFS_FILE}\n`);
    manifest = {
      formatVersion: 1,
      inputHash: plan.inputHash,
      isa: { name: isa.name, platform: platformString(isa), gccTriplet: isa.gccTriplet, muslArch: isa.muslArch, qemuTarget: isa.qemuTarget },
      versions: { busybox: busybox.version, musl: musl.version },
      sources: ownSources.map(({ name, version, file, sha256 }) => ({ name, version, file, sha256 })),
      toolchain: { compiler: plan.compiler.version },
      sourceDateEpoch: SOURCE_DATE_EPOCH,
      sizes: { busybox: built.binary.length, rootfsTar: tar.length, rootfsTarGz: gz.length },
      rootfs: { sha512, tarSha256: sha256Hex(tar), gzSha256: sha256Hex(gz) },
      applets: built.appletPaths.length,
    };
    await writeFile(join(tmp, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    await relocateToolchain(isa, sysroot, join(plan.dir, 'sysroot'));
    await rm(srcDir, { recursive: true });
  });
  // A concurrent process may have published first: read back what is in place.
  const published = await loadCached(plan);
  if (!published || !manifest) throw new Error(`${isa.name}: ${plan.dir} has no ${MANIFEST_FILE} after the build`);
  return { ...published, cached: false };
}

/** The OCI layout over these images, from the cache or written now; keyed by them and by the code that writes it. */
async function ensureOciLayout(cacheDir: string, images: BuiltImage[], imagesTree: Record<string, string>): Promise<string> {
  const key = shortHash({ images: images.map((image) => [image.isa, image.manifest.rootfs.gzSha256]), imagesTree });
  const dir = join(cacheDir, 'oci', key);
  if (await exists(join(dir, 'index.json'))) return dir;
  await publishAtomically(dir, (tmp) => writeOciLayout(tmp, images.map((image) => ({
    isa: ISAS.find((isa) => isa.name === image.isa) ?? fail(`unknown ISA ${image.isa}`),
    rootfsTarGz: image.rootfsTarGz,
    gzSha256: image.manifest.rootfs.gzSha256,
    gzSize: image.manifest.sizes.rootfsTarGz,
    tarSha256: image.manifest.rootfs.tarSha256,
  })), SOURCE_DATE_EPOCH));
  return dir;
}

/** The failures' full text (command output tails), in the cache's logs/: the one-line error points here. */
async function writeBuildLog(cacheDir: string, failures: readonly string[]): Promise<string> {
  const file = join(cacheDir, 'logs', `build-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}.log`);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${failures.join('\n\n')}\n`);
  return file;
}

function fail(message: string): never {
  throw new Error(message);
}

export async function buildImages(options: BuildImagesOptions): Promise<BuildResult> {
  const cacheDir = options.cacheDir ?? cacheRoot();
  const onProgress = options.onProgress ?? (() => {});
  if (!options.arches.length) throw new HarnessError('no ISA to build; name at least one with --arch');
  // Every host check before any work, so a missing compiler costs nothing.
  const compilers = new Map<Isa, CrossCompiler>();
  for (const isa of options.arches) compilers.set(isa, await findCrossCompiler(isa));
  const imagesTree = await buildInputHashes();
  const plans = await Promise.all(options.arches.map((isa) => planImage(isa, compilers.get(isa)!, cacheDir, imagesTree)));

  const images = new Map<Isa, BuiltImage>();
  const toBuild: ImagePlan[] = [];
  for (const plan of plans) {
    const cached = await loadCached(plan);
    if (cached) {
      images.set(plan.isa, cached);
      onProgress(plan.isa, 'cached');
    } else toBuild.push(plan);
  }

  if (toBuild.length) {
    const wanted = new Set<PinnedSource>(toBuild.flatMap((plan) => sourcesFor(plan.isa)));
    const sources = await ensureSources(options.sourcesDir, [...wanted]);
    const jobs = Math.max(1, options.jobs ?? availableParallelism());
    const concurrency = Math.min(jobs, toBuild.length);
    const context: BuildContext = { sources, makeJobs: Math.max(1, Math.floor(jobs / concurrency)), onProgress, signal: options.signal };
    const queue = new PQueue({ concurrency });
    const failures: string[] = [];
    const unexpected: unknown[] = [];
    // A full or read-only cache: one line naming it, and no build log (it could not be written there either).
    const diskFailures: CacheWriteError[] = [];
    for (const plan of toBuild) onProgress(plan.isa, 'queued');
    await Promise.all(toBuild.map((plan) => queue.add(async () => {
      try {
        images.set(plan.isa, await buildImage(plan, context));
        onProgress(plan.isa, 'done');
      } catch (error) {
        onProgress(plan.isa, 'failed');
        const disk = error instanceof CacheWriteError ? error
          : cacheWriteError(`image build for ${plan.isa.name}`, dirname(plan.dir), { code: (error as NodeJS.ErrnoException).code ?? writeErrnoIn((error as Error).message) });
        if (disk) return void diskFailures.push(disk);
        failures.push(`${plan.isa.name}: ${(error as Error).message.replace(new RegExp(`^${plan.isa.name}: `), '')}`);
        if (!(error instanceof HarnessError)) unexpected.push(error);
      }
    })));
    options.signal?.throwIfAborted();
    if (diskFailures[0]) throw diskFailures[0];
    // A bug stays a bug (the CLI writes its trace); a failed step is the user's to fix: one line, the rest in a log.
    if (unexpected.length) throw unexpected[0];
    if (failures.length) throw new HarnessError(`image build failed for ${failures.map((f) => f.split(':')[0]).join(', ')}: ${failures[0]!.split('\n')[0]} (full output: ${await writeBuildLog(cacheDir, failures)})`);
  }

  const ordered = options.arches.map((isa) => images.get(isa)!);
  return {
    images: Object.fromEntries(ordered.map((image) => [image.isa, image])),
    ociLayout: await ensureOciLayout(cacheDir, ordered, imagesTree),
  };
}
