// Turns an image reference into a verified, extracted rootfs: the read-only lower layer of
// every sandbox. Extracted images are cached by digest and never modified afterwards.
import { realpath, stat } from 'node:fs/promises';
import { HarnessError } from '../errors.ts';
import type { Isa } from '../isa.ts';
import { DEFAULT_LIMITS } from '../limits.ts';
import { cacheRoot } from '../paths.ts';
import { amendRecord, type CachedImage, cachedImage, makeTempDir, removeTree } from './cache.ts';
import { hashFile, sha256OfTree } from './digest.ts';
import { readDockerArchive } from './docker-archive.ts';
import { type ArchiveFindings, checkMemberCounts, countMembers, RootfsWriter, type SkippedMember } from './extract.ts';
import { readOciLayout, type LayeredImage } from './oci.ts';

export { checkImageIsa, DEFAULT_ENTRY, ImageIsaMismatchError } from './isa-check.ts';
export type { ArchiveFindings, SkippedMember } from './extract.ts';

export type ImageSource =
  /** A rootfs archive: .tar, .tar.gz, .tar.xz, .tar.bz2, .tar.zst (an Alpine minirootfs). */
  | { kind: 'tarball'; path: string; sha512?: string }
  /** Already a rootfs: used in place, never written to. */
  | { kind: 'directory'; path: string }
  /** An OCI image layout (index.json + blobs/), possibly multi-arch. */
  | { kind: 'oci'; path: string; tag?: string }
  /** A `docker save` archive (manifest.json + layers, or OCI layout inside). */
  | { kind: 'docker-archive'; path: string };

export interface ExtractedImage {
  /** The rootfs on the host. Read-only by contract: overlays go on top of it. */
  rootfs: string;
  /** sha256:<hex> of the tarball, the OCI manifest, the docker image config, or the directory's content. */
  digest: string;
  /** Bytes of the archive or of the image's compressed layers. */
  compressedBytes?: number;
  /** OCI/docker Entrypoint + Cmd; ['/bin/sh'] for tarballs and directories. */
  defaultCmd: string[];
  source: ImageSource;
  /** Members that were not created: device nodes, FIFOs, unknown types. */
  skipped: SkippedMember[];
  /** What the archive ships (devices, setuid files, world-writable dirs), from its headers; absent for directories. */
  archive?: ArchiveFindings;
  /** 'extracted' by this call, found in the 'cache', or a directory used 'in-place'. */
  origin: 'extracted' | 'cache' | 'in-place';
}

export interface PrepareOptions {
  /** Cache root; images land in <cacheDir>/rootfs/<sha256>/. Default: cacheRoot(). */
  cacheDir?: string;
  signal?: AbortSignal;
  /** Members an archive may hold (limits.archive_members); default DEFAULT_LIMITS.archiveMembers. */
  maxMembers?: number;
}

const SHA512 = /^(?:sha512:)?([0-9a-fA-F]{128})$/;

export async function prepareImage(source: ImageSource, isa: Isa, options: PrepareOptions = {}): Promise<ExtractedImage> {
  const cacheDir = options.cacheDir ?? cacheRoot();
  await assertExists(source);
  switch (source.kind) {
    case 'tarball':
      return prepareTarball(source, cacheDir, options);
    case 'directory': {
      const rootfs = await realpath(source.path);
      return { rootfs, digest: `sha256:${await sha256OfTree(rootfs)}`, defaultCmd: ['/bin/sh'], source, skipped: [], origin: 'in-place' };
    }
    case 'oci':
      return prepareLayered(await readOciLayout(source.path, isa, source.tag, source.path), source, cacheDir, options);
    case 'docker-archive': {
      // The outer archive is unpacked (safely) to read its manifest; its layers are applied from there.
      const staging = await makeTempDir(cacheDir, 'docker-archive');
      try {
        const unpacker = new RootfsWriter(staging, options.maxMembers);
        await unpacker.apply(source.path, { layer: false, label: source.path, signal: options.signal });
        return await prepareLayered(await readDockerArchive(staging, isa, source.path), source, cacheDir, options);
      } finally {
        await removeTree(staging);
      }
    }
  }
}

async function prepareTarball(source: Extract<ImageSource, { kind: 'tarball' }>, cacheDir: string, { signal, maxMembers }: PrepareOptions): Promise<ExtractedImage> {
  const hashes = await hashFile(source.path);
  if (source.sha512 !== undefined) {
    const expected = SHA512.exec(source.sha512.trim())?.[1]?.toLowerCase();
    if (!expected) throw new HarnessError(`sha512 for ${source.path} is not 128 hex digits: '${source.sha512}'`);
    if (expected !== hashes.sha512) throw new HarnessError(`${source.path}: sha512 mismatch: expected ${expected}, got ${hashes.sha512}; the file is corrupt or the checksum names another file`);
  }
  const image = await cachedImage(cacheDir, hashes.sha256, async (rootfs) => {
    const writer = new RootfsWriter(rootfs, maxMembers);
    await writer.apply(source.path, { layer: false, label: source.path, signal });
    await writer.finish();
    return { defaultCmd: ['/bin/sh'], compressedBytes: hashes.bytes, skipped: writer.skipped, archive: writer.findings, memberCounts: writer.memberCounts };
  });
  await checkMembersOnReuse(image, [{ file: source.path, label: source.path }], maxMembers, signal);
  return { ...image, source };
}

async function prepareLayered(layered: LayeredImage, source: ImageSource, cacheDir: string, { signal, maxMembers }: PrepareOptions): Promise<ExtractedImage> {
  const archives = layered.layers.map((layer) => ({ file: layer, label: `${source.path}: layer ${layer}` }));
  const image = await cachedImage(cacheDir, layered.sha256, async (rootfs) => {
    const writer = new RootfsWriter(rootfs, maxMembers);
    for (const { file, label } of archives) await writer.apply(file, { layer: true, label, signal });
    await writer.finish();
    return { defaultCmd: layered.defaultCmd, compressedBytes: layered.compressedBytes, skipped: writer.skipped, archive: writer.findings, memberCounts: writer.memberCounts };
  });
  await checkMembersOnReuse(image, archives, maxMembers, signal);
  return { ...image, source };
}

/**
 * The member cap holds for an entry extracted earlier under a higher one: the same error as
 * extracting it now, the entry kept for runs that allow it. Entries made before the counts
 * were recorded are counted from their archives' headers.
 */
async function checkMembersOnReuse(image: CachedImage, archives: Array<{ file: string; label: string }>, maxMembers = DEFAULT_LIMITS.archiveMembers, signal?: AbortSignal): Promise<void> {
  const counts = image.memberCounts ?? (await Promise.all(archives.map(({ file }) => countMembers(file, signal, maxMembers))));
  checkMemberCounts(counts, archives.map(({ label }) => label), maxMembers);
  // Under the cap, each count is exact: kept, so later runs read no archive headers.
  if (!image.memberCounts) await amendRecord(image, { memberCounts: counts });
}

async function assertExists(source: ImageSource): Promise<void> {
  const wantsDirectory = source.kind === 'directory' || source.kind === 'oci';
  const stats = await stat(source.path).catch(() => undefined);
  if (!stats) throw new HarnessError(`${source.kind} image ${source.path} does not exist; check the path in the matrix`);
  if (wantsDirectory !== stats.isDirectory()) throw new HarnessError(`${source.kind} image ${source.path} must be a ${wantsDirectory ? 'directory' : 'file'}`);
}
