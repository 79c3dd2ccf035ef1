// Finding an ISA's compiler: Debian's cross GCC, or clang and lld for an ISA Debian has no
// cross GCC for. Not an image build input (images/build.ts): the compiler's version line is
// in the image key instead.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { HarnessError } from '../harness/errors.ts';
import type { Isa } from '../harness/isa.ts';
import { CLANG_MAJOR, compilerPackages, uapiHeadersPackage } from '../harness/host/packages.ts';
import { hostDistro, versionLine } from '../harness/host/probe.ts';

export interface CrossCompiler {
  /** The compiler command: `${gccTriplet}-gcc`, or clang-<N> (with `--target`). */
  cc: string;
  /** First line of `cc --version`, e.g. "aarch64-linux-gnu-gcc (Debian 12.2.0-14) 12.2.0". */
  version: string;
  /** The binutils of the ISA: `${prefix}strip`, `${prefix}ar`, ... (`llvm-` tools carry a -<N> suffix). */
  tool: (name: 'strip' | 'ar' | 'ranlib' | 'nm' | 'objcopy' | 'objdump' | 'ld') => string;
}

export const UAPI_HEADER_DIRS = ['linux', 'asm', 'asm-generic', 'mtd'];

export function uapiIncludeDir(isa: Isa): string {
  return `/usr/${isa.gccTriplet}/include`;
}

async function missingPackage(isa: Isa, what: string): Promise<HarnessError> {
  const host = await hostDistro();
  const packages = compilerPackages(isa, host ?? { debianArch: '' }).join(' ');
  return new HarnessError(`${isa.name}: ${what} not found; run \`harness setup\` or \`apt-get install ${packages}\``);
}

/** Checks that the ISA's compiler (and, for GCC, the kernel headers) is installed; fails before any work. */
export async function findCrossCompiler(isa: Isa): Promise<CrossCompiler> {
  if (isa.compiler.kind === 'clang') {
    const cc = `clang-${CLANG_MAJOR}`;
    const version = await versionLine(cc);
    if (!version) throw await missingPackage(isa, `compiler ${cc}`);
    for (const tool of [`ld.lld-${CLANG_MAJOR}`, `llvm-ar-${CLANG_MAJOR}`]) {
      if (!(await versionLine(tool))) throw await missingPackage(isa, `linker tool ${tool}`);
    }
    return { cc, version, tool: (name) => (name === 'ld' ? `ld.lld-${CLANG_MAJOR}` : `llvm-${name}-${CLANG_MAJOR}`) };
  }
  const gcc = `${isa.gccTriplet}-gcc`;
  const version = await versionLine(gcc);
  if (!version) throw await missingPackage(isa, `cross compiler ${gcc}`);
  for (const dir of UAPI_HEADER_DIRS) {
    const path = join(uapiIncludeDir(isa), dir);
    if (!(await access(path).then(() => true, () => false))) {
      throw new HarnessError(`${isa.name}: Linux headers ${path} not found; run \`harness setup\` or \`apt-get install ${uapiHeadersPackage(isa)}\``);
    }
  }
  return { cc: gcc, version, tool: (name) => `${isa.gccTriplet}-${name}` };
}

