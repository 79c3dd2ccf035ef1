// Finding an ISA's compiler: Debian's cross GCC, or clang and lld for an ISA Debian has no
// cross GCC for. Not an image build input (images/build.ts): the compiler's version line is
// in the image key instead.
import { accessSync, constants, readFileSync, realpathSync, statSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { HarnessError } from '../harness/errors.ts';
import type { Isa } from '../harness/isa.ts';
import { CLANG_MAJOR, compilerPackages, uapiHeadersPackage } from '../harness/host/packages.ts';
import { hostDistro } from '../harness/host/probe.ts';
import { cacheRoot } from '../harness/paths.ts';
import { writeFileAtomic } from '../harness/report/atomic.ts';

/** The executable `command` runs from PATH, as "realpath size mtime", or undefined when there is none. */
function commandIdentity(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    const path = join(dir, command);
    try {
      accessSync(path, constants.X_OK);
      const stats = statSync(path);
      if (stats.isFile()) return `${realpathSync(path)} ${stats.size} ${stats.mtimeMs}`;
    } catch {
      // Not in this PATH entry.
    }
  }
  return undefined;
}

// Version lines kept by the tool binary's path, size and mtime (ccache's default compiler
// check): `list` asks for every ISA's compiler, which is a dozen processes started otherwise.
const VERSIONS_FILE = () => join(cacheRoot(), 'compiler-versions.json');
let versions: Record<string, string> | undefined;

/** First line of `command --version` (LC_ALL=C), or undefined when it is not installed or fails. */
async function versionLine(command: string): Promise<string | undefined> {
  const identity = commandIdentity(command);
  if (!identity) return undefined;
  versions ??= (() => {
    try {
      return JSON.parse(readFileSync(VERSIONS_FILE(), 'utf8')) as Record<string, string>;
    } catch {
      return {};
    }
  })();
  const known = versions[identity];
  if (known !== undefined) return known;
  // Loaded on first use: execa's import costs more than `harness list` may take in all.
  const { execa } = await import('execa');
  const line = await execa(command, ['--version'], { env: { LC_ALL: 'C' } }).then((r) => r.stdout.split('\n')[0]?.trim() ?? '', () => undefined);
  if (!line) return undefined;
  versions[identity] = line;
  // Best effort, whole or not at all (another process may write it too: the last one wins).
  await writeFileAtomic(VERSIONS_FILE(), JSON.stringify(versions)).catch(() => undefined);
  return line;
}

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

