// Builds BusyBox statically against an ISA's musl sysroot, from the .config kept beside
// this file, and returns the stripped binary and its applet paths.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HarnessError } from '../harness/errors.ts';
import type { Isa } from '../harness/isa.ts';
import { run } from './run.ts';
import type { CrossCompiler } from './compiler.ts';
import type { Toolchain } from './toolchain.ts';

export const BUSYBOX_CONFIG = fileURLToPath(new URL('busybox.config', import.meta.url));

export interface BusyboxBuild {
  isa: Isa;
  compiler: CrossCompiler;
  sourceDir: string;
  toolchain: Toolchain;
  /** Extra compiler flags (prefix maps). */
  cflags: string[];
  jobs: number;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /**
   * Build out of tree in this dir (make O=dir) and keep it: a later build of a changed
   * source tree recompiles only what changed. Default: in the source tree.
   */
  buildDir?: string;
}

export interface BuiltBusybox {
  binary: Buffer;
  /** Absolute applet paths from busybox.links, e.g. "/usr/bin/tr". */
  appletPaths: string[];
}

/** Writes the file only when its content differs, so make sees an unchanged config as unchanged. */
async function writeIfChanged(path: string, content: Buffer): Promise<boolean> {
  const current = await readFile(path).catch(() => undefined);
  if (current?.equals(content)) return false;
  await writeFile(path, content);
  return true;
}

// libbb.h declares `struct globals *const ptr_to_globals`, which SET_PTR_TO_GLOBALS writes
// behind a barrier. gcc rereads it; clang may load it before that write, and 17 applets then
// write through NULL (awk, diff, less, top, vi, ...: SIGSEGV, on x86_64 natively as well).
// BusyBox guards its other such globals with BB_GLOBAL_CONST, which clang builds define empty.
const CONST_PTR_TO_GLOBALS = 'extern struct globals *const ptr_to_globals;';

/** Our own unpacked tree, for a clang build: ptr_to_globals gets BB_GLOBAL_CONST like the others. */
export async function guardPtrToGlobals(sourceDir: string): Promise<void> {
  const header = join(sourceDir, 'include', 'libbb.h');
  const text = await readFile(header, 'utf8');
  if (!text.includes(CONST_PTR_TO_GLOBALS)) throw new HarnessError(`${header}: no line '${CONST_PTR_TO_GLOBALS}' to guard for clang; check the pinned BusyBox version`);
  await writeFile(header, text.replace(CONST_PTR_TO_GLOBALS, 'extern struct globals *BB_GLOBAL_CONST ptr_to_globals;'));
}

export async function buildBusybox(build: BusyboxBuild): Promise<BuiltBusybox> {
  const { isa, sourceDir, toolchain, env, signal } = build;
  const outDir = build.buildDir ?? sourceDir;
  const configChanged = await writeIfChanged(join(outDir, '.config'), await readFile(BUSYBOX_CONFIG));
  const { compiler } = build;
  // Kbuild names its tools $(CROSS_COMPILE)<tool>; LLVM's carry a version suffix instead.
  const tools = isa.compiler.kind === 'clang'
    ? [`AR=${compiler.tool('ar')}`, `NM=${compiler.tool('nm')}`, `STRIP=${compiler.tool('strip')}`, `OBJCOPY=${compiler.tool('objcopy')}`,
      `OBJDUMP=${compiler.tool('objdump')}`, `LD=${compiler.tool('ld')}`]
    : [`CROSS_COMPILE=${isa.gccTriplet}-`];
  const makeVars = [
    ...(build.buildDir ? [`O=${build.buildDir}`] : []),
    `CC=${toolchain.cc}`,
    ...tools,
    'HOSTCC=gcc',
    // Empty for clang: no global it guards may be cached across its assignment (above).
    `EXTRA_CFLAGS=${[...toolchain.cflags, ...build.cflags, ...(isa.compiler.kind === 'clang' ? ['-DBB_GLOBAL_CONST='] : [])].join(' ')}`,
  ];
  // The full .config answers every question; oldconfig only regenerates the headers (and
  // make reruns it by itself when a changed source changes the Kconfig files).
  if (configChanged) await run(['make', ...makeVars, 'oldconfig'], { cwd: sourceDir, env, signal, input: '' });
  await run(['make', `-j${build.jobs}`, ...makeVars, 'busybox', 'busybox.links'], { cwd: sourceDir, env, signal });
  const links = await readFile(join(outDir, 'busybox.links'), 'utf8');
  return {
    binary: await readFile(join(outDir, 'busybox')),
    appletPaths: links.split('\n').map((line) => line.trim()).filter(Boolean),
  };
}
