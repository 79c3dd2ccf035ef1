// Compiles the musl suite's C programs statically with an ISA's musl toolchain, all of an
// ISA's at once within the host's cores, into a cache keyed by what went into each binary.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import PQueue from 'p-queue';
import { elfMismatch, readElf } from '../../elf.ts';
import { HarnessError } from '../../errors.ts';
import type { Isa } from '../../isa.ts';
import { cacheRoot } from '../../paths.ts';
import type { Toolchain } from '../suite.ts';

export const PROBES_DIR = fileURLToPath(new URL('./probes/', import.meta.url));
/** After the toolchain's own flags: static, optimised, and loud about suspicious C. */
export const PROBE_CFLAGS = ['-static', '-O2', '-Wall', '-Wextra'];

/**
 * Every flag after the toolchain's for probes in `probesDir`: the checkout's path is mapped
 * to 'probes' (__FILE__ in messages), so any checkout builds byte-identical binaries.
 */
export function probeFlags(probesDir: string = PROBES_DIR): string[] {
  const dir = probesDir.replace(/\/+$/, '');
  return [...PROBE_CFLAGS, `-ffile-prefix-map=${dir}=probes`, '-I', dir];
}

export interface CompileOptions {
  isa: Isa;
  toolchain: Toolchain;
  /** Defaults to <cacheRoot()>/probes/<isa>. */
  outDir?: string;
  /** Parallel compiler runs; defaults to the host's cores. */
  concurrency?: number;
  signal?: AbortSignal;
}

export interface CompileReport {
  /** Program name -> static binary on the host. */
  binaries: Map<string, string>;
  /** Programs compiled now; the others came from the cache. */
  compiled: string[];
  durationMs: number;
}

/** The cache key of one program: its source, the shared headers, the compiler, every flag and the libc it links. */
export function programKey(source: string, headers: string, toolchain: Toolchain): string {
  const hash = createHash('sha256');
  // probeFlags() without the checkout's path, which it maps away.
  const parts = [source, headers, toolchain.cc, ...toolchain.cflags, '--', ...PROBE_CFLAGS, '-ffile-prefix-map=<probes>=probes'];
  // Only a rebuilt-in-place sysroot has a digest: every other key stays as it was.
  if (toolchain.libcDigest) parts.push('libc', toolchain.libcDigest);
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 16);
}

export function defaultOutDir(isa: Isa): string {
  return join(cacheRoot(), 'probes', isa.name);
}

export async function compilePrograms(names: readonly string[], opts: CompileOptions): Promise<CompileReport> {
  // Date, not performance: the global loads perf_hooks, which `list` would start for this alone.
  const started = Date.now();
  const outDir = opts.outDir ?? defaultOutDir(opts.isa);
  const headers = await readHeaders();
  // Read and checked at once, not queued: a run finds every binary already built, 40 probes on each ISA.
  const binaries = new Map(names.map((name) => [name, join(outDir, `${name}-${programKey(readProbeSource(name), headers, opts.toolchain)}`)]));
  const compiled = names.filter((name) => !isFile(binaries.get(name)!));
  if (compiled.length > 0) {
    await mkdir(outDir, { recursive: true });
    const queue = new PQueue({ concurrency: Math.max(1, opts.concurrency ?? availableParallelism()) });
    await Promise.all(compiled.map((name) => queue.add(() => compileOne(join(PROBES_DIR, `${name}.c`), binaries.get(name)!, opts))));
  }
  return { binaries, compiled: compiled.sort(), durationMs: Date.now() - started };
}

/** Compiles to a temporary name and renames, so a concurrent run never sees half a binary. */
async function compileOne(sourcePath: string, binary: string, opts: CompileOptions): Promise<void> {
  const { isa, toolchain, signal } = opts;
  const partial = `${binary}.partial-${process.pid}`;
  try {
    // Loaded on first use: execa's import costs more than `harness list` may take in all.
    const { execa } = await import('execa');
    const result = await execa(toolchain.cc, [...toolchain.cflags, ...probeFlags(), '-o', partial, sourcePath], {
      reject: false,
      cancelSignal: signal,
    });
    if (result.exitCode !== 0) {
      const why = result.stderr.split('\n').find((line) => /error|not found|No such/i.test(line)) ?? result.stderr.split('\n')[0] ?? result.shortMessage;
      throw new HarnessError(`musl suite: ${toolchain.cc} failed on ${sourcePath} for ${isa.name}: ${why}; fix the probe or rebuild the ${isa.name} toolchain`);
    }
    const facts = await readElf(partial);
    const wrong = elfMismatch(facts, isa) ?? (facts.interpreter ? `asks for the loader ${facts.interpreter}` : undefined);
    if (wrong) throw new HarnessError(`musl suite: ${toolchain.cc} built ${sourcePath} for ${isa.name}, but the result ${wrong}: check the toolchain's wrapper and specs`);
    await rename(partial, binary);
  } finally {
    await rm(partial, { force: true });
  }
}

/** Every header in probes/ with its name, in a stable order: any of them may be included. */
async function readHeaders(): Promise<string> {
  const names = (await readdir(PROBES_DIR)).filter((name) => name.endsWith('.h')).sort();
  const texts = await Promise.all(names.map((name) => readFile(join(PROBES_DIR, name), 'utf8')));
  return names.map((name, i) => `${name}\0${texts[i]}`).join('\0');
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}

function readProbeSource(name: string): string {
  const sourcePath = join(PROBES_DIR, `${name}.c`);
  try {
    return readFileSync(sourcePath, 'utf8');
  } catch {
    throw new HarnessError(`musl suite: ${sourcePath} is missing: add it or drop '${name}' from harness/suites/musl/probes.ts`);
  }
}
