// The compiler support library (libgcc.a, crt*.o) and kernel headers of an ISA whose cross
// compiler's own do not fit, taken from pinned Debian packages (arch all, unpacked, never
// installed):
// - armhf: Debian's armhf libgcc is ARMv7/Thumb-2 and dies of SIGILL on an ARMv6. Debian's
//   armel libgcc is ARMv5TE in ARM mode, and its __aeabi_* helpers use the base procedure
//   call standard on hard- and soft-float systems alike, so they serve armhf code. Its few
//   routines with floating-point arguments outside that set are replaced by ours, built
//   hard-float (runtime/arm-vfp-helpers.c). Its ARM attributes go: ld refuses to mix
//   soft- and hard-float objects by those tags, although these calls are compatible.
// - loongarch64: no GCC in Debian 12; clang links against trixie's cross libgcc and builds
//   with trixie's kernel headers.
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Isa } from '../harness/isa.ts';
import { run } from './run.ts';
import type { VerifiedSource } from './sources.ts';
import type { CrossCompiler } from './compiler.ts';
import { HarnessError } from '../harness/errors.ts';

export interface Runtime {
  /** The libgcc.a to link musl and everything else against. */
  libgcc: string;
  /** libgcc.a, crt*.o: copied into the sysroot, where the wrapper finds them first. */
  files: string[];
  /** Replaces /usr/<gccTriplet>/include as the source of the kernel's UAPI headers. */
  includeDir?: string;
}

const ARM_VFP_HELPERS = fileURLToPath(new URL('runtime/arm-vfp-helpers.c', import.meta.url));
/** Members of armel's libgcc.a whose floating-point arguments would be passed soft-float. */
const ARMEL_SOFT_FLOAT_MEMBERS = ['_powisf2.o', '_powidf2.o', '_mulsc3.o', '_muldc3.o', '_divsc3.o', '_divdc3.o'];
const CRT_FILES = ['crtbegin.o', 'crtbeginS.o', 'crtbeginT.o', 'crtend.o', 'crtendS.o'];

export interface RuntimeBuild {
  isa: Isa;
  compiler: CrossCompiler;
  sources: VerifiedSource[];
  /** A fresh directory for this ISA's runtime. */
  dir: string;
  cflags: string[];
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

/** The ISA's runtime from its pinned packages, or undefined when the cross compiler's own serves. */
export async function prepareRuntime(build: RuntimeBuild): Promise<Runtime | undefined> {
  const { isa, compiler, sources, dir, env, signal } = build;
  const libgcc = sources.find((s) => s.name === 'libgcc');
  if (!libgcc) return undefined;
  const unpacked = join(dir, 'unpacked');
  await mkdir(unpacked, { recursive: true });
  for (const source of sources.filter((s) => s.kind === 'deb')) await run(['dpkg-deb', '-x', source.path, unpacked], { signal });
  const gccLibDir = await onlySubdir(join(unpacked, 'usr', 'lib', 'gcc-cross'));
  const lib = join(dir, 'lib');
  await mkdir(lib, { recursive: true });
  const files = [...CRT_FILES, 'libgcc.a'].map((name) => join(lib, name));
  if (isa.armBaseline) {
    const objcopy = compiler.tool('objcopy');
    for (const name of CRT_FILES) await run([objcopy, '--remove-section=.ARM.attributes', join(gccLibDir, name), join(lib, name)], { signal });
    const archive = join(lib, 'libgcc.a');
    await run([objcopy, '--remove-section=.ARM.attributes', join(gccLibDir, 'libgcc.a'), archive], { signal });
    await run([compiler.tool('ar'), 'dD', archive, ...ARMEL_SOFT_FLOAT_MEMBERS], { signal });
    const helpers = join(dir, 'arm-vfp-helpers.o');
    await run([compiler.cc, ...isa.cflags, ...build.cflags, '-O2', '-ffreestanding', '-c', ARM_VFP_HELPERS, '-o', helpers], { env, signal });
    await run([compiler.tool('ar'), 'rsD', archive, helpers], { signal });
  } else {
    for (const name of [...CRT_FILES, 'libgcc.a']) await run(['cp', join(gccLibDir, name), join(lib, name)], { signal });
  }
  const headers = sources.some((s) => s.name === 'linux-headers') ? join(unpacked, 'usr', isa.gccTriplet, 'include') : undefined;
  return { libgcc: join(lib, 'libgcc.a'), files, ...(headers && { includeDir: headers }) };
}

/** usr/lib/gcc-cross/<triplet>/<major>: the one version dir a cross libgcc package holds. */
async function onlySubdir(gccCross: string): Promise<string> {
  const [triplet] = await readdir(gccCross);
  if (!triplet) throw new HarnessError(`${gccCross} is empty: the cross libgcc package is broken; fetch it again (delete it from the sources dir and run harness build-images)`);
  const [major] = await readdir(join(gccCross, triplet));
  if (!major) throw new HarnessError(`${join(gccCross, triplet)} is empty: the cross libgcc package is broken; fetch it again (delete it from the sources dir and run harness build-images)`);
  return join(gccCross, triplet, major);
}
