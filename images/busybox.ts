// Builds BusyBox statically against an ISA's musl sysroot, from the .config kept beside
// this file, and returns the stripped binary and its applet paths.
import { copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Isa } from '../harness/isa.ts';
import { run } from './run.ts';
import type { CrossCompiler, Toolchain } from './toolchain.ts';

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
}

export interface BuiltBusybox {
  binary: Buffer;
  /** Absolute applet paths from busybox.links, e.g. "/usr/bin/tr". */
  appletPaths: string[];
}

export async function buildBusybox(build: BusyboxBuild): Promise<BuiltBusybox> {
  const { isa, sourceDir, toolchain, env, signal } = build;
  await copyFile(BUSYBOX_CONFIG, join(sourceDir, '.config'));
  const { compiler } = build;
  // Kbuild names its tools $(CROSS_COMPILE)<tool>; LLVM's carry a version suffix instead.
  const tools = isa.compiler.kind === 'clang'
    ? [`AR=${compiler.tool('ar')}`, `NM=${compiler.tool('nm')}`, `STRIP=${compiler.tool('strip')}`, `OBJCOPY=${compiler.tool('objcopy')}`,
      `OBJDUMP=${compiler.tool('objdump')}`, `LD=${compiler.tool('ld')}`]
    : [`CROSS_COMPILE=${isa.gccTriplet}-`];
  const makeVars = [
    `CC=${toolchain.cc}`,
    ...tools,
    'HOSTCC=gcc',
    `EXTRA_CFLAGS=${[...toolchain.cflags, ...build.cflags].join(' ')}`,
  ];
  // The full .config answers every question; oldconfig only regenerates the headers.
  await run(['make', ...makeVars, 'oldconfig'], { cwd: sourceDir, env, signal, input: '' });
  await run(['make', `-j${build.jobs}`, ...makeVars, 'busybox', 'busybox.links'], { cwd: sourceDir, env, signal });
  const links = await readFile(join(sourceDir, 'busybox.links'), 'utf8');
  return {
    binary: await readFile(join(sourceDir, 'busybox')),
    appletPaths: links.split('\n').map((line) => line.trim()).filter(Boolean),
  };
}
