// The per-ISA musl toolchain: Debian's cross GCC plus musl built into a sysroot that stays
// in the cache, with a musl-gcc wrapper for compiling static test programs later.
import { access, cp, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HarnessError } from '../harness/errors.ts';
import type { Isa } from '../harness/isa.ts';
import { compilerPackage, uapiHeadersPackage } from '../harness/host/packages.ts';
import { hostDistro } from '../harness/host/probe.ts';
import { run } from './run.ts';

export interface Toolchain {
  sysroot: string;
  /** The musl-gcc wrapper: `${cc} ${cflags} -static -o prog prog.c` gives a static musl binary. */
  cc: string;
  cflags: string[];
}

export interface CrossCompiler {
  gcc: string;
  /** First line of `gcc --version`, e.g. "aarch64-linux-gnu-gcc (Debian 12.2.0-14) 12.2.0". */
  version: string;
}

const UAPI_HEADER_DIRS = ['linux', 'asm', 'asm-generic', 'mtd'];

function uapiIncludeDir(isa: Isa): string {
  return `/usr/${isa.gccTriplet}/include`;
}

/** Checks that the ISA's cross compiler and kernel headers are installed; fails before any work. */
export async function findCrossCompiler(isa: Isa): Promise<CrossCompiler> {
  const gcc = `${isa.gccTriplet}-gcc`;
  const version = await run([gcc, '--version']).then((out) => out.split('\n')[0]?.trim() ?? '', () => undefined);
  if (!version) {
    const host = await hostDistro();
    const pkg = host ? compilerPackage(isa, host) : isa.gccPackage;
    throw new HarnessError(`${isa.name}: cross compiler ${gcc} not found; run \`harness setup\` or \`apt-get install ${pkg}\``);
  }
  for (const dir of UAPI_HEADER_DIRS) {
    const path = join(uapiIncludeDir(isa), dir);
    if (!(await access(path).then(() => true, () => false))) {
      throw new HarnessError(`${isa.name}: Linux headers ${path} not found; run \`harness setup\` or \`apt-get install ${uapiHeadersPackage(isa)}\``);
    }
  }
  return { gcc, version };
}

/** Flags that keep the build dir out of every object, so builds in different temp dirs match. */
export function prefixMapFlags(buildDir: string): string[] {
  return [`-ffile-prefix-map=${buildDir}=/usr/src`];
}

export interface MuslBuild {
  isa: Isa;
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

/** Builds musl out of tree and installs it (static and shared) with the kernel headers into the sysroot. */
export async function buildMusl(build: MuslBuild): Promise<Toolchain> {
  const { isa, sourceDir, buildDir, sysroot, env, signal } = build;
  await mkdir(buildDir, { recursive: true });
  const cflags = [...isa.cflags, ...build.cflags].join(' ');
  await run([join(sourceDir, 'configure'), `--target=${isa.gccTriplet}`, `--prefix=${sysroot}`, `--syslibdir=${sysroot}/lib`, '--enable-wrapper=gcc',
    `CROSS_COMPILE=${isa.gccTriplet}-`, `CC=${isa.gccTriplet}-gcc`, `CFLAGS=${cflags}`], { cwd: buildDir, env, signal });
  await run(['make', `-j${build.jobs}`], { cwd: buildDir, env, signal });
  await run(['make', 'install'], { cwd: buildDir, env, signal });
  for (const dir of UAPI_HEADER_DIRS) {
    await cp(join(uapiIncludeDir(isa), dir), join(sysroot, 'include', dir), { recursive: true, dereference: true });
  }
  return toolchainAt(isa, sysroot);
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
  const specs = join(sysroot, 'lib', 'musl-gcc.specs');
  const text = (await readFile(specs, 'utf8')).replaceAll(`${sysroot}/lib/${loader}`, `/lib/${loader}`);
  if (!text.includes(`/lib/${loader}`)) throw new HarnessError(`${isa.name}: ${specs} names no dynamic linker ${loader}; delete the sysroot and rebuild the image`);
  await writeFile(specs, text.replaceAll(sysroot, finalSysroot));
  const wrapper = join(sysroot, 'bin', 'musl-gcc');
  await writeFile(wrapper, (await readFile(wrapper, 'utf8')).replaceAll(sysroot, finalSysroot));
  const loaderLink = join(sysroot, 'lib', loader);
  await rm(loaderLink, { force: true });
  await symlink('libc.so', loaderLink);
}
