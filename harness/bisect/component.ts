// Rebuilds one component (BusyBox or musl) of an image from the tree being bisected, for one
// ISA, incrementally: the build dirs are kept in the cache between steps (and between
// bisects of the same tree), and the other component comes from the image build's cache.
// Returns the step's rootfs as a tarball, assembled exactly as the image build does.
import { createHash } from 'node:crypto';
import { access, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assembleRootfs, SOURCE_DATE_EPOCH, type BuiltImage } from '../../images/build.ts';
import { buildBusybox, guardPtrToGlobals } from '../../images/busybox.ts';
import { run } from '../../images/run.ts';
import { prepareRuntime } from '../../images/runtime.ts';
import { ensureSources, sourcesFor } from '../../images/sources.ts';
import { type CrossCompiler, findCrossCompiler } from '../../images/compiler.ts';
import { buildMusl, prefixMapFlags, toolchainAt } from '../../images/toolchain.ts';
import type { Toolchain } from '../suites/suite.ts';
import type { Isa } from '../isa.ts';
import { cacheRoot } from '../paths.ts';

export const COMPONENTS = ['busybox', 'musl'] as const;
export type Component = (typeof COMPONENTS)[number];

export interface ComponentBuilder {
  component: Component;
  /** Where the kept build dirs are. */
  workDir: string;
  /**
   * Builds the checked-out tree and writes the step's rootfs tarball to `tarPath`. For musl,
   * returns the step's toolchain too: the musl suite's static probes must link its libc.a.
   */
  build(tarPath: string, signal?: AbortSignal): Promise<{ toolchain?: Toolchain }>;
}

export interface BuilderOptions {
  component: Component;
  isa: Isa;
  /** The tree being bisected (checked out at the step's commit). */
  sourceDir: string;
  /** The image built from the pinned sources: its toolchain and, for musl, nothing else. */
  image: BuiltImage;
  jobs: number;
  cacheDir?: string;
  /** Where kept build dirs go; default <cache>/bisect. */
  buildRoot?: string;
}

const BUILD_ENV = { SOURCE_DATE_EPOCH: String(SOURCE_DATE_EPOCH), TZ: 'UTC' };

/** Kept build dirs are keyed by the tree, the component, the ISA and the image they start from. */
export function workDirFor(options: BuilderOptions): string {
  const key = createHash('sha256').update(JSON.stringify([options.sourceDir, options.component, options.isa.name, options.image.manifest.inputHash])).digest('hex').slice(0, 16);
  return join(options.buildRoot ?? join(options.cacheDir ?? cacheRoot(), 'bisect'), `${options.component}-${options.isa.name}-${key}`);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

/** What a static program takes from the sysroot: libc.a (and the other archives) and the start files. */
async function libcDigest(sysroot: string): Promise<string> {
  const lib = join(sysroot, 'lib');
  const names = (await readdir(lib)).filter((name) => name.endsWith('.a') || name.endsWith('.o')).sort();
  const hash = createHash('sha256');
  for (const name of names) hash.update(name).update('\0').update(await readFile(join(lib, name))).update('\0');
  return hash.digest('hex').slice(0, 16);
}

export function componentBuilder(options: BuilderOptions): ComponentBuilder {
  const { isa, sourceDir, image, jobs } = options;
  const workDir = workDirFor(options);
  const busyboxBuildDir = join(workDir, 'busybox-build');
  const scratch = join(workDir, 'scratch');
  let compiler: Promise<CrossCompiler> | undefined;
  const crossCompiler = () => (compiler ??= findCrossCompiler(isa));

  const writeRootfs = async (tarPath: string, sysroot: string, busyboxSource: string, signal?: AbortSignal) => {
    await mkdir(busyboxBuildDir, { recursive: true });
    await mkdir(scratch, { recursive: true });
    const busybox = await buildBusybox({
      isa, compiler: await crossCompiler(), sourceDir: busyboxSource, buildDir: busyboxBuildDir, toolchain: toolchainAt(isa, sysroot),
      cflags: prefixMapFlags(workDir), jobs, env: BUILD_ENV, signal,
    });
    const { tar } = await assembleRootfs(isa, await crossCompiler(), busybox, sysroot, scratch, signal);
    await writeFile(tarPath, tar);
  };

  if (options.component === 'busybox') {
    // The tree is BusyBox; musl is the image's sysroot, as built.
    return {
      component: 'busybox', workDir,
      build: async (tarPath, signal) => {
        await writeRootfs(tarPath, image.toolchain.sysroot, sourceDir, signal);
        return {};
      },
    };
  }

  // The tree is musl (buildMuslTree); BusyBox is the pinned source, unpacked once, whose
  // objects are kept and only relinked against each step's libc.a.
  const busyboxSourceRoot = join(workDir, 'busybox-src');
  return {
    component: 'musl', workDir,
    build: async (tarPath, signal) => {
      const sysroot = await buildMuslTree(isa, sourceDir, workDir, jobs, signal);
      const pinned = (await ensureSources(undefined, sourcesFor(isa))).find((source) => source.name === 'busybox')!;
      const busyboxSource = join(busyboxSourceRoot, `busybox-${pinned.version}`);
      // Written last: a copy unpacked or guarded only in part is unpacked again.
      const unpacked = join(busyboxSourceRoot, '.unpacked');
      if (!(await exists(unpacked))) {
        await rm(busyboxSourceRoot, { recursive: true, force: true });
        await mkdir(busyboxSourceRoot, { recursive: true });
        await run(['tar', 'xf', pinned.path, '-C', busyboxSourceRoot], { signal });
        // Our own copy, guarded as the image build guards it: clang's BusyBox crashes in 17 applets otherwise.
        if (isa.compiler.kind === 'clang') await guardPtrToGlobals(busyboxSource);
        await writeFile(unpacked, '');
      }
      // make does not see a new libc.a: drop the link outputs so BusyBox relinks.
      for (const output of ['busybox_unstripped', 'busybox']) await rm(join(busyboxBuildDir, output), { force: true });
      await writeRootfs(tarPath, sysroot, busyboxSource, signal);
      return { toolchain: { ...toolchainAt(isa, sysroot), libcDigest: await libcDigest(sysroot) } };
    },
  };
}

/**
 * Builds the musl tree out of tree in `workDir`/musl-build and installs it into
 * `workDir`/sysroot, with the ISA's own compiler runtime (armhf's ARMv6 libgcc) as the image
 * build gives it. A kept workDir is not configured again: only what changed is recompiled.
 * Returns the sysroot.
 */
export async function buildMuslTree(isa: Isa, sourceDir: string, workDir: string, jobs: number, signal?: AbortSignal): Promise<string> {
  const compiler = await findCrossCompiler(isa);
  const sources = await ensureSources(undefined, sourcesFor(isa));
  const cflags = prefixMapFlags(workDir);
  const runtime = await prepareRuntime({ isa, compiler, sources, dir: join(workDir, 'runtime'), cflags, env: BUILD_ENV, signal });
  const sysroot = join(workDir, 'sysroot');
  await buildMusl({ isa, compiler, runtime, sourceDir, buildDir: join(workDir, 'musl-build'), sysroot, cflags, jobs, env: BUILD_ENV, signal });
  return sysroot;
}
