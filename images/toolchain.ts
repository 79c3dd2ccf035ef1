// The per-ISA musl toolchain: Debian's cross GCC (or clang and lld, for an ISA Debian has no
// cross GCC for) plus musl built into a sysroot that stays in the cache, with a musl-gcc
// wrapper for compiling static test programs later. (Finding the compiler: compiler.ts.)
import { access, chmod, cp, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HarnessError } from '../harness/errors.ts';
import type { Isa } from '../harness/isa.ts';
import { type CrossCompiler, UAPI_HEADER_DIRS, uapiIncludeDir } from './compiler.ts';
import type { Runtime } from './runtime.ts';
import { run } from './run.ts';

export interface Toolchain {
  sysroot: string;
  /** The musl-gcc wrapper: `${cc} ${cflags} -static -o prog prog.c` gives a static musl binary. */
  cc: string;
  cflags: string[];
}

/** Flags that keep the build dir out of every object, so builds in different temp dirs match. */
export function prefixMapFlags(buildDir: string): string[] {
  return [`-ffile-prefix-map=${buildDir}=/usr/src`];
}

export interface MuslBuild {
  isa: Isa;
  compiler: CrossCompiler;
  /** Support library and headers from pinned Debian packages, where the compiler's own do not fit the ISA. */
  runtime?: Runtime;
  /** The unpacked musl source tree, fresh for this ISA. */
  sourceDir: string;
  buildDir: string;
  sysroot: string;
  /** Extra compiler flags (prefix maps). */
  cflags: string[];
  jobs: number;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

/** Where the runtime's libgcc.a and crt*.o go in the sysroot: found first by the wrapper (gcc -B, clang's sysroot). */
function runtimeLibDir(isa: Isa, sysroot: string): string {
  return isa.compiler.kind === 'clang' ? join(sysroot, 'lib') : join(sysroot, 'lib', 'gcc');
}

/**
 * Builds musl out of tree and installs it (static and shared) with the kernel headers into
 * the sysroot. A build dir kept from an earlier build (a bisect's) is not configured again,
 * and unchanged headers keep their times, so only what changed is rebuilt, here and in
 * BusyBox builds against the sysroot.
 */
export async function buildMusl(build: MuslBuild): Promise<Toolchain> {
  const { isa, compiler, runtime, sourceDir, buildDir, sysroot, env, signal } = build;
  await mkdir(buildDir, { recursive: true });
  if (isa.armBaseline?.thumb === 'Thumb-1') await declareThumb1(sourceDir);
  const cflags = [...isa.cflags, ...build.cflags].join(' ');
  const libcc = runtime ? [`LIBCC=${runtime.libgcc}`] : [];
  const compilerArgs = isa.compiler.kind === 'clang'
    ? ['--disable-wrapper', `CC=${compiler.cc} --target=${isa.compiler.target}`, `AR=${compiler.tool('ar')}`, `RANLIB=${compiler.tool('ranlib')}`, 'LDFLAGS=-fuse-ld=lld']
    : ['--enable-wrapper=gcc', `CROSS_COMPILE=${isa.gccTriplet}-`, `CC=${compiler.cc}`];
  if (!(await access(join(buildDir, 'config.mak')).then(() => true, () => false))) {
    await run([join(sourceDir, 'configure'), `--target=${isa.gccTriplet}`, `--prefix=${sysroot}`, `--syslibdir=${sysroot}/lib`,
      ...compilerArgs, `CFLAGS=${cflags}`, ...libcc], { cwd: buildDir, env, signal });
  }
  await run(['make', `-j${build.jobs}`], { cwd: buildDir, env, signal });
  await run(['make', 'install'], { cwd: buildDir, env, signal });
  const headers = runtime?.includeDir ?? uapiIncludeDir(isa);
  for (const dir of UAPI_HEADER_DIRS) {
    await cp(join(headers, dir), join(sysroot, 'include', dir), { recursive: true, dereference: true, preserveTimestamps: true });
  }
  if (runtime) {
    const libDir = runtimeLibDir(isa, sysroot);
    await mkdir(libDir, { recursive: true });
    for (const file of runtime.files) await cp(file, join(libDir, file.split('/').pop()!));
  }
  if (isa.compiler.kind === 'clang') await writeClangWrapper(isa, compiler, sysroot);
  else if (runtime) await preferRuntime(sysroot);
  return toolchainAt(isa, sysroot);
}

/**
 * musl's ARM atomics pick their v6 or v7 code at run time from the kernel's hwcaps; their
 * `.arch armv7-a` sections make the assembler mark the object Thumb-2, and that mark would
 * reach every static binary. It declares `.object_arch armv4t` already; this says Thumb-1 too.
 */
async function declareThumb1(sourceDir: string): Promise<void> {
  const atomics = join(sourceDir, 'src', 'thread', 'arm', 'atomics.s');
  const text = await readFile(atomics, 'utf8');
  if (!text.includes('.object_arch armv4t')) throw new HarnessError(`${atomics} declares no .object_arch armv4t: musl's ARM atomics changed; a new pinned musl needs declareThumb1 in images/toolchain.ts updated`);
  await writeFile(atomics, `${text}.eabi_attribute 9, 1 @ Tag_THUMB_ISA_use: Thumb-1\n`);
}

/** Makes the gcc wrapper find the runtime's libgcc.a and crt*.o before the cross GCC's own. */
async function preferRuntime(sysroot: string): Promise<void> {
  const wrapper = join(sysroot, 'bin', 'musl-gcc');
  const text = await readFile(wrapper, 'utf8');
  const specsArg = ' -specs ';
  if (!text.includes(specsArg)) throw new HarnessError(`${wrapper} passes no -specs: musl's wrapper changed; a new pinned musl needs preferRuntime in images/toolchain.ts updated`);
  await writeFile(wrapper, text.replace(specsArg, ` -B "${join(sysroot, 'lib', 'gcc')}/"${specsArg}`));
}

/**
 * musl's gcc wrapper for a clang-built ISA: clang with the sysroot (musl's headers and libs,
 * the runtime's libgcc.a and crt*.o in its lib), lld, and no unwinder (C only).
 */
async function writeClangWrapper(isa: Isa, compiler: CrossCompiler, sysroot: string): Promise<void> {
  if (isa.compiler.kind !== 'clang') return;
  const wrapper = join(sysroot, 'bin', 'musl-gcc');
  await mkdir(join(sysroot, 'bin'), { recursive: true });
  await writeFile(wrapper, [
    '#!/bin/sh',
    `exec ${compiler.cc} --target=${isa.compiler.target} --sysroot="${sysroot}" -fuse-ld=lld --rtlib=libgcc --unwindlib=none "$@"`,
    '',
  ].join('\n'));
  await chmod(wrapper, 0o755);
}

export function toolchainAt(isa: Isa, sysroot: string): Toolchain {
  return { sysroot, cc: join(sysroot, 'bin', 'musl-gcc'), cflags: [...isa.cflags] };
}

/**
 * Points the wrapper and specs at the sysroot's final place in the cache, the specs'
 * dynamic linker at the image's /lib loader instead of the sysroot's, and musl's absolute
 * loader symlink at libc.so beside it.
 */
export async function relocateToolchain(isa: Isa, sysroot: string, finalSysroot: string): Promise<void> {
  const loader = `ld-musl-${isa.muslArch}.so.1`;
  // clang's wrapper has no specs: its static programs need no dynamic linker path.
  if (isa.compiler.kind === 'gcc') {
    const specs = join(sysroot, 'lib', 'musl-gcc.specs');
    const text = (await readFile(specs, 'utf8')).replaceAll(`${sysroot}/lib/${loader}`, `/lib/${loader}`);
    if (!text.includes(`/lib/${loader}`)) throw new HarnessError(`${isa.name}: ${specs} names no dynamic linker ${loader}; delete the sysroot and rebuild the image`);
    await writeFile(specs, text.replaceAll(sysroot, finalSysroot));
  }
  const wrapper = join(sysroot, 'bin', 'musl-gcc');
  await writeFile(wrapper, (await readFile(wrapper, 'utf8')).replaceAll(sysroot, finalSysroot));
  const loaderLink = join(sysroot, 'lib', loader);
  await rm(loaderLink, { force: true });
  await symlink('libc.so', loaderLink);
}
