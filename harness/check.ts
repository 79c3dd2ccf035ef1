// `harness check <ref>`: "does this image work on every ISA it has?" without a matrix file.
// The reference (a registry reference, an OCI layout, a tarball path or URL with {arch}, a
// rootfs directory) becomes an in-memory matrix of one image over the ISAs the image has,
// with the image, busybox and musl suites and the default matrix's timeouts, retries and
// known emulator failures; `harness run` runs it like any other.
import { stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { HarnessError } from './errors.ts';
import { elfMismatch, readElf } from './elf.ts';
import { UnlistedTarballError } from './fetch/checksums.ts';
import { HttpStatusError, isHttpUrl } from './fetch/download.ts';
import { createFetchProgress } from './fetch/progress.ts';
import { fetchTarball, pullRegistryImage, type FetchContext } from './fetch/remote.ts';
import { describePlatforms, isLocalRegistry, parseRegistryRef } from './fetch/registry.ts';
import { ISAS, platformString, type Isa } from './isa.ts';
import { loadMatrix } from './matrix/load.ts';
import { expandArch, hasArch } from './matrix/paths.ts';
import type { ImageRef, ImageSpec, Matrix, SuiteSpec } from './matrix/schema.ts';
import { cacheRoot } from './paths.ts';
import type { ProgressMode } from './report/progress.ts';
import { DEFAULT_ENTRY, prepareImage, type ImageSource } from './rootfs/index.ts';
import { resolveInRoot } from './rootfs/in-root.ts';
import { layoutPlatforms } from './rootfs/oci.ts';
import { isasServed, unknownPlatforms } from './rootfs/platform.ts';

export interface CheckOptions {
  /** --arch: only these ISAs (an ISA the image lacks is reported as skipped, with the reason). */
  arches?: Isa[];
  /** The tarball's sha512 (one ISA). */
  sha512?: string;
  /** A checksums file (path or URL) listing the tarballs; for a URL without either, `<url>.sha512`. */
  sha512sums?: string;
  /** The tag inside an OCI layout (default: the whole layout). */
  tag?: string;
  /** For a registry: verify TLS (default: yes, except on localhost). */
  tlsVerify?: boolean;
  /** The matrix whose timeouts, retries and known failures a check uses (default matrices/default.yaml). */
  baseMatrix: string;
  cacheDir?: string;
  signal?: AbortSignal;
  progress?: ProgressMode;
}

export interface CheckPlan {
  matrix: Matrix;
  /** ISAs of the harness that the image does not have, and why: not run, not reported. */
  absent: Array<{ isa: string; reason: string }>;
}

/** What the reference is for one ISA, and why that ISA is absent when it is (the plan skips it then). */
type Probe<R extends ImageRef = ImageRef> = { ref: R; absent?: string };
type Found = Map<Isa, Probe>;
/** The refs a path or URL per ISA becomes. */
type FileRef = Extract<ImageRef, { kind: 'url' | 'tarball' | 'directory' }>;

const CHECK_SUITES: SuiteSpec[] = (['image', 'busybox', 'musl'] as const).map((name) => ({ name, settings: {}, optional: false, unavailable: {} }));
const SHA512 = /^(?:sha512:)?([0-9a-fA-F]{128})$/;

export async function checkMatrix(ref: string, options: CheckOptions): Promise<CheckPlan> {
  const context: FetchContext = { cacheDir: options.cacheDir ?? cacheRoot(), signal: options.signal, progress: await createFetchProgress(options.progress ?? 'plain') };
  const candidates = options.arches?.length ? options.arches : [...ISAS];
  const found = await findIsas(ref, candidates, options, context);
  const present = [...found].filter(([, entry]) => entry.absent === undefined).map(([isa]) => isa);
  const absent = [...found].flatMap(([isa, entry]) => (entry.absent === undefined ? [] : [{ isa: isa.name, reason: entry.absent }]));
  if (present.length === 0) {
    const asked = `${options.arches?.length ? 'asked for' : 'the harness runs'} (${absent.map((a) => a.isa).join(', ')})`;
    throw new HarnessError(`${ref}: the image has none of the ISAs ${asked}; ${absent[0]!.isa}: ${absent[0]!.reason}`);
  }
  // ISAs named with --arch stay in the report (skipped, with the reason); the others are only listed.
  const isas = options.arches?.length ? candidates : present;
  const refs: Record<string, ImageRef> = {};
  const unavailable: Record<string, string> = {};
  for (const isa of isas) {
    const entry = found.get(isa)!;
    refs[isa.name] = entry.ref;
    if (entry.absent !== undefined) unavailable[isa.name] = entry.absent;
  }
  const kind = refs[present[0]!.name]!.kind;
  const image: ImageSpec = { name: imageName(ref, kind), kind, isas, refs, optional: false, unavailable };
  const base = await loadMatrix(options.baseMatrix);
  const matrix: Matrix = {
    ...base,
    name: 'check',
    description: `harness check ${ref}`,
    file: ref,
    isas,
    images: [image],
    suites: CHECK_SUITES,
    knownFailures: base.knownFailures.filter((entry) => entry.image === undefined),
  };
  return { matrix, absent: options.arches?.length ? [] : absent };
}

async function findIsas(ref: string, candidates: Isa[], options: CheckOptions, context: FetchContext): Promise<Found> {
  if (isHttpUrl(ref)) return perIsa(ref, candidates, options, context, (isa) => urlRef(ref, isa, options, context));
  const onDisk = await stat(ref).catch(() => undefined);
  if (onDisk?.isDirectory() && (await stat(join(ref, 'index.json')).catch(() => undefined))) {
    const layout = resolve(ref);
    return servedBy(await layoutPlatforms(layout, options.tag, ref), candidates, ref, { kind: 'oci', layout, ...(options.tag && { tag: options.tag }) });
  }
  if (onDisk || hasArch(ref)) return perIsa(ref, candidates, options, context, (isa) => pathRef(resolve(expandArch(ref, isa)), options));
  const registry = parseRegistryRef(ref);
  if (!registry) {
    throw new HarnessError(`${ref}: not a path that exists, an http(s) URL or a registry reference (host[:port]/repository:tag); check the reference`);
  }
  const remote = { kind: 'registry', reference: registry.reference, tlsVerify: options.tlsVerify ?? !isLocalRegistry(registry.host) } as const;
  const pulled = await pullRegistryImage(remote, context).catch((error: unknown) => {
    // `rootfs` with a typo reads as Docker Hub's library/rootfs: say that it is no path either.
    if (error instanceof HarnessError && !ref.includes('/')) throw new HarnessError(`${error.message} (and ${ref} is no path that exists)`);
    throw error;
  });
  return servedBy(pulled.platforms, candidates, registry.reference, remote);
}

/** An index's ISAs; a platform no ISA runs is an error, as it is for a run. */
function servedBy(platforms: Parameters<typeof isasServed>[0], candidates: Isa[], label: string, ref: ImageRef): Found {
  const unknown = unknownPlatforms(platforms);
  if (unknown.length) throw new HarnessError(`${label}: the index holds platform ${unknown.join(', ')}, which no ISA of the harness runs`);
  const served = isasServed(platforms, candidates);
  return new Map(candidates.map((isa) => [isa, served.includes(isa) ? { ref } : { ref, absent: `the image has no ${platformString(isa)}: its index holds ${describePlatforms(platforms)}` }]));
}

/**
 * A path or URL with {arch}: the ISAs whose file exists. Without {arch} it is one image of
 * one ISA: the one --arch names, else the one its /bin/busybox is built for.
 */
async function perIsa(ref: string, candidates: Isa[], options: CheckOptions, context: FetchContext, probe: (isa: Isa) => Promise<Probe<FileRef>>): Promise<Found> {
  if (!hasArch(ref)) {
    if (options.arches && options.arches.length > 1) throw new HarnessError(`${ref} is one image, for one ISA, but --arch names ${options.arches.length}; put {arch} in the path, or name one`);
    const isa = candidates.length === 1 ? candidates[0]! : await detectIsa(ref, context, await probe(ISAS[0]!));
    return new Map([[isa, await probe(isa)]]);
  }
  if (options.sha512) throw new HarnessError(`--sha512 gives one tarball's checksum, but ${ref} names one per ISA; give --sha512sums`);
  return new Map(await Promise.all(candidates.map(async (isa) => [isa, await probe(isa)] as const)));
}

async function urlRef(template: string, isa: Isa, options: CheckOptions, context: FetchContext): Promise<Probe<FileRef>> {
  const url = expandArch(template, isa);
  const sha512 = options.sha512 && checkedSha512(options.sha512);
  // Alpine publishes <tarball>.sha512 beside each tarball.
  const ref: FileRef = { kind: 'url', url, ...(sha512 ? { sha512 } : { sha512sums: options.sha512sums ?? `${url}.sha512` }) };
  try {
    await fetchTarball(ref, context);
    return { ref };
  } catch (error) {
    if ((error instanceof HttpStatusError && error.status === 404) || error instanceof UnlistedTarballError) return { ref, absent: error.message };
    throw error;
  }
}

async function pathRef(path: string, options: CheckOptions): Promise<Probe<FileRef>> {
  const found = await stat(path).catch(() => undefined);
  if (!found) return { ref: { kind: 'tarball', path }, absent: `${path} does not exist` };
  if (found.isDirectory()) return { ref: { kind: 'directory', path } };
  const sha512 = options.sha512 && checkedSha512(options.sha512);
  return { ref: { kind: 'tarball', path, ...(sha512 ? { sha512 } : options.sha512sums && { sha512sums: options.sha512sums }) } };
}

/** The one ISA whose ELF machine, class and byte order the image's /bin/busybox has. */
async function detectIsa(ref: string, context: FetchContext, probe: Probe<FileRef>): Promise<Isa> {
  if (probe.absent !== undefined) throw new HarnessError(`${ref}: ${probe.absent}`);
  const source: ImageSource = probe.ref.kind === 'url' ? await fetchTarball(probe.ref, context) : { ...probe.ref };
  // Extraction is the run's own first step (cached by digest); tarballs and directories need no ISA for it.
  const { rootfs } = await prepareImage(source, ISAS[0]!, { cacheDir: context.cacheDir, signal: context.signal });
  const binary = await resolveInRoot(rootfs, DEFAULT_ENTRY, { followFinal: true, createParents: false }).catch(() => undefined);
  const facts = binary && (await readElf(binary).catch(() => undefined));
  const matching = facts ? ISAS.filter((isa) => !elfMismatch(facts, isa)) : [];
  if (matching.length !== 1) {
    const why = !facts ? `has no ELF ${DEFAULT_ENTRY}` : matching.length ? `could be ${matching.map((isa) => isa.name).join(' or ')}` : 'is for no ISA the harness runs';
    throw new HarnessError(`${ref}: the image ${why}; name its ISA with --arch, or put {arch} in the path`);
  }
  return matching[0]!;
}

function checkedSha512(text: string): string {
  const hex = SHA512.exec(text.trim())?.[1];
  if (!hex) throw new HarnessError(`--sha512: '${text}' is not a sha512 (128 hex digits)`);
  return hex.toLowerCase();
}

/** A name for reports: the reference's last component, {arch} and archive suffixes left out. */
function imageName(ref: string, kind: ImageRef['kind']): string {
  const registry = kind === 'registry' ? parseRegistryRef(ref) : undefined;
  const base = registry
    ? `${basename(registry.repository)}${registry.tag ? `-${registry.tag}` : ''}`
    : basename(ref.replace(/\/+$/, '')).replace(/\.(tar(\.\w+)?|tgz)$/, '').replaceAll('{arch}', '');
  const name = base.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').replace(/[-_.]+$/, '');
  return name || 'image';
}
