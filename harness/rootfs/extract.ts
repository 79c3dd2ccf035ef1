// Writes tar archives into a rootfs safely: every member lands inside the root (symlinks
// on the way are resolved with the root as '/'), members that climb out with '..' are
// refused, device nodes and FIFOs are recorded and skipped, existing symlinks are replaced,
// never written through. Layers get OCI whiteout semantics.
import { createWriteStream, type WriteStream } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, readdir, rm, stat, symlink, unlink, utimes } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';
import type { Extract, Header } from 'tar-stream';
import { cacheWriteError } from '../cache-temp.ts';
import { HarnessError } from '../errors.ts';
import { DEFAULT_LIMITS } from '../limits.ts';
import { openTarBytes } from './decompress.ts';
import { InRootPathError, isPlainDirectory, memberComponents, resolveInRoot } from './in-root.ts';

/** What the archive itself ships that an image should not, judged from its tar headers (guest paths). */
export interface ArchiveFindings {
  /** Character and block device nodes (never created on extraction, so the tree cannot show them). */
  devices: string[];
  /** Files with the setuid or setgid bit. */
  setuid: string[];
  /** World-writable directories without the sticky bit. */
  worldWritableDirs: string[];
}

export interface SkippedMember {
  name: string;
  reason: string;
}

export interface ApplyOptions {
  /** OCI/Docker layer: '.wh.<name>' deletes <name>, '.wh..wh..opq' empties its directory. */
  layer: boolean;
  /** How errors name the archive (its path, and the layer's digest). */
  label: string;
  signal?: AbortSignal;
}

interface Ownership {
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
}

type TarMember = Extract extends AsyncIterable<infer Member> ? Member : never;

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_WHITEOUT = '.wh..wh..opq';
const NOT_CREATED: Partial<Record<Header['type'], string>> = {
  'character-device': 'character device',
  'block-device': 'block device',
  fifo: 'FIFO',
};

/** Errors of placing a member that come from the member's own name, type or target. */
const PLACEMENT_ERRORS = new Set(['ENAMETOOLONG', 'ENOENT', 'ENOTDIR', 'EISDIR', 'ELOOP', 'EEXIST', 'EINVAL', 'EMLINK']);

/** Numeric ownership is kept only when we may set it; otherwise files stay ours. */
const KEEP_OWNERS = process.getuid?.() === 0;

/**
 * Members of one archive, from its headers, counting no further than one past `stopAfter`.
 * A broken archive counts what could be read; extracting it says what is wrong.
 */
export async function countMembers(file: string, signal?: AbortSignal, stopAfter = Infinity): Promise<number> {
  const { bytes, extract, feeding } = await openTar(file, signal);
  let count = 0;
  try {
    for await (const entry of extract) {
      entry.resume();
      if (++count > stopAfter) break;
    }
  } catch (error) {
    if (error instanceof HarnessError || signal?.aborted) throw error;
  } finally {
    bytes.destroy();
    extract.destroy();
    await feeding.catch(() => undefined);
  }
  return count;
}

/**
 * The member cap applied to archives extracted earlier (under another cap), from their counts:
 * the error a fresh extraction gives now, at the archive where it would stop.
 */
export function checkMemberCounts(counts: readonly number[], labels: readonly string[], maxMembers: number): void {
  let total = 0;
  counts.forEach((count, i) => {
    total += count;
    if (total > maxMembers) throw tooManyMembers(labels[i] ?? '', maxMembers);
  });
}

function tooManyMembers(label: string, maxMembers: number): HarnessError {
  return new HarnessError(`${label}: more than ${maxMembers} members; refusing a hostile archive (raise limits.archive_members in the matrix if the image is real)`);
}

/**
 * Builds one rootfs from one archive or a chain of layers. Directory modes and times are
 * applied by finish(), after the last member: a read-only directory must stay writable
 * while later members land in it.
 */
export class RootfsWriter {
  readonly skipped: SkippedMember[] = [];
  readonly findings: ArchiveFindings = { devices: [], setuid: [], worldWritableDirs: [] };
  private readonly directories = new Map<string, Ownership>();
  /** Host paths (and their ancestors) written by the layer being applied: opaque whiteouts keep them. */
  private writtenThisLayer = new Set<string>();
  /** Members of each archive applied, in order (the cache entry keeps them: checkMemberCounts). */
  readonly memberCounts: number[] = [];
  /** Members of every archive applied so far. */
  private members = 0;
  /** Set when an archive failed: a member still on its way writes nothing more. */
  private stopped = false;
  /** The file member being written, if any: destroyed when the archive fails, so its write ends. */
  private writer: WriteStream | undefined;

  constructor(readonly root: string, private readonly maxMembers: number = DEFAULT_LIMITS.archiveMembers) {}

  async apply(file: string, options: ApplyOptions): Promise<void> {
    this.writtenThisLayer = new Set();
    this.stopped = false;
    if ((await stat(file)).size === 0) throw new HarnessError(`${options.label}: the archive is empty (0 bytes): the download or copy failed; fetch it again`);
    await this.countMembers(file, options);
    const { bytes, extract, feeding } = await openTar(file, options.signal);
    // An archive cut short inside a member's data fails the feed but never ends that member's
    // stream, so writing the member would wait forever (found by test/properties): a failed
    // feed ends the member too.
    const feedFailed = feeding.then(() => new Promise<never>(() => undefined));
    feedFailed.catch(() => undefined);
    let members = 0;
    let current: TarMember | undefined;
    let applying: Promise<void> | undefined;
    try {
      for await (const entry of extract) {
        options.signal?.throwIfAborted();
        members++;
        current = entry;
        applying = this.applyMember(entry, options);
        applying.catch(() => undefined); // when the feed failed first, its own end is the destroyed member's
        await Promise.race([applying, feedFailed]);
      }
      await feeding;
      await bytes.done;
    } catch (error) {
      this.stopped = true;
      this.writer?.destroy();
      current?.destroy();
      bytes.destroy();
      extract.destroy();
      // Only once the member on its way has ended may the caller remove the tree: a file it
      // created after the removal began failed that with ENOTEMPTY, or outlived it.
      await Promise.all([feeding.catch(() => undefined), applying?.catch(() => undefined)]);
      const writeError = cacheWriteError(`${options.label}: cannot extract`, this.root, error);
      if (writeError) throw writeError; // the disk, not the archive (the reader then fails with the same code)
      // Refused here (a hostile member) or stopped: the decompressor, cut short on purpose, has nothing to add.
      if (error instanceof HarnessError || options.signal?.aborted) throw error;
      await bytes.done; // a decompressor's failure explains the tar error it caused
      throw extractionError(options.label, this.root, error as NodeJS.ErrnoException);
    }
    if (members === 0 && !options.layer) throw new HarnessError(`${options.label}: the archive holds no files; it is not a rootfs`);
  }

  /**
   * Refuses an archive of more members than the cap before writing any: a pass over its
   * headers costs a decompression, where extracting a million files costs minutes and a
   * million inodes.
   */
  private async countMembers(file: string, options: ApplyOptions): Promise<void> {
    const count = await countMembers(file, options.signal, this.maxMembers - this.members);
    this.memberCounts.push(count);
    this.members += count;
    if (this.members > this.maxMembers) throw tooManyMembers(options.label, this.maxMembers);
  }

  /** Applies the deferred directory modes, owners and times, deepest first. */
  async finish(): Promise<void> {
    const deepestFirst = [...this.directories].sort(([a], [b]) => b.length - a.length);
    for (const [host, ownership] of deepestFirst) {
      // A later member may have replaced the directory or a parent with a symlink.
      const components = relative(this.root, host).split('/').filter(Boolean);
      if (await isPlainDirectory(this.root, components)) await setOwnership(host, ownership);
    }
  }

  private async applyMember(entry: TarMember, options: ApplyOptions): Promise<void> {
    const { header } = entry;
    const hostile = (why: string) => new HarnessError(`${options.label}: member '${shortened(header.name)}' ${why}; refusing a hostile or broken archive`);
    const parts = memberComponents(header.name);
    if (!parts) throw hostile("climbs out of the rootfs with '..'");
    const base = parts.at(-1);
    try {
      if (options.layer && base === OPAQUE_WHITEOUT) return await this.opaque(parts.slice(0, -1));
      if (options.layer && base?.startsWith(WHITEOUT_PREFIX)) {
        const hidden = base.slice(WHITEOUT_PREFIX.length);
        if (hidden === '' || hidden === '.' || hidden === '..') throw hostile('whites out its own parent');
        return await this.whiteout([...parts.slice(0, -1), hidden]);
      }
      const type = header.type ?? 'file';
      this.judge(`/${parts.join('/')}`, type, header.mode ?? 0);
      const notCreated = NOT_CREATED[type];
      if (notCreated) return void this.skipped.push({ name: header.name, reason: `${notCreated} not created` });
      const ownership = ownershipOf(header);
      if (parts.length === 0) {
        if (type === 'directory') this.directories.set(this.root, ownership);
        return;
      }
      const dest = await resolveInRoot(this.root, parts.join('/'), { followFinal: false, createParents: true });
      this.markWritten(dest);
      switch (type) {
        case 'file':
        case 'contiguous-file':
          await clear(dest, false);
          if (this.stopped) return;
          this.writer = createWriteStream(dest, { flags: 'wx', mode: 0o600 });
          await pipeline(entry, this.writer);
          return await setOwnership(dest, ownership);
        case 'directory':
          if (!(await clear(dest, true))) await mkdir(dest, { mode: 0o755 });
          return void this.directories.set(dest, ownership);
        case 'symlink':
          if (!header.linkname) throw hostile('is a symlink with an empty target');
          await clear(dest, false);
          await symlink(header.linkname ?? '', dest);
          if (KEEP_OWNERS) await lchown(dest, ownership.uid, ownership.gid);
          return await lutimes(dest, ownership.mtime, ownership.mtime);
        case 'link': {
          const targetParts = memberComponents(header.linkname ?? '');
          if (!targetParts) throw hostile(`is a hard link to '${header.linkname}', which climbs out with '..'`);
          const target = await resolveInRoot(this.root, targetParts.join('/'), { followFinal: false, createParents: false });
          const targetStats = await lstat(target).catch(() => undefined);
          if (!targetStats || targetStats.isDirectory()) throw hostile(`is a hard link to '${header.linkname}', which is no earlier file of the archive`);
          if (target === dest) return;
          await clear(dest, false);
          return await link(target, dest);
        }
        default:
          return void this.skipped.push({ name: header.name, reason: `unsupported tar member type '${type}'` });
      }
    } catch (error) {
      if (error instanceof InRootPathError) throw hostile(`cannot be placed: ${error.message}`);
      const code = (error as NodeJS.ErrnoException).code;
      // The member itself, not the disk or a truncated stream: a name too long for the host, a symlink with an empty target.
      if (code && PLACEMENT_ERRORS.has(code)) throw hostile(`cannot be placed (${code})`);
      throw error;
    } finally {
      entry.resume(); // drain what was not written (whiteouts, links, skipped members)
    }
  }

  private judge(guestPath: string, type: Header['type'], mode: number): void {
    if (type === 'character-device' || type === 'block-device') this.findings.devices.push(guestPath);
    else if ((type === 'file' || type === 'contiguous-file') && mode & 0o6000) this.findings.setuid.push(guestPath);
    else if (type === 'directory' && mode & 0o002 && !(mode & 0o1000)) this.findings.worldWritableDirs.push(guestPath);
  }

  private markWritten(host: string): void {
    for (let path = host; path.length > this.root.length; path = join(path, '..')) this.writtenThisLayer.add(path);
  }

  private async whiteout(parts: string[]): Promise<void> {
    const dest = await resolveInRoot(this.root, parts.join('/'), { followFinal: false, createParents: false });
    await rm(dest, { recursive: true, force: true });
  }

  /** Empties a directory of what lower layers put there; this layer's own members stay. */
  private async opaque(parts: string[]): Promise<void> {
    const dir = await resolveInRoot(this.root, parts.join('/'), { followFinal: true, createParents: true });
    this.markWritten(dir);
    const children = await readdir(dir).catch(() => [] as string[]);
    for (const child of children) {
      const host = join(dir, child);
      if (!this.writtenThisLayer.has(host)) await rm(host, { recursive: true, force: true });
    }
  }
}

/** The archive's members as a stream of tar entries. */
async function openTar(file: string, signal?: AbortSignal) {
  const bytes = await openTarBytes(file, signal);
  const extract = tarStream.extract();
  const feeding = pipeline(bytes.stream, extract);
  // A truncated archive fails `feeding` (and the decompressor) while a member is still being
  // written: handled here so it never counts as unhandled, and awaited by the caller for its message.
  feeding.catch(() => undefined);
  bytes.done.catch(() => undefined);
  return { bytes, extract, feeding };
}

/** A failure while extracting, in words: the disk, the cache's permissions, or the archive itself. */
export function extractionError(label: string, root: string, error: NodeJS.ErrnoException): HarnessError {
  return cacheWriteError(`${label}: cannot extract`, root, error)
    ?? new HarnessError(`${label}: cannot extract: the archive is truncated or corrupt (${error.message}); fetch it again`);
}

/** A member name as a message shows it: names of up to 4,096 bytes are legal, and unreadable in full. */
function shortened(name: string): string {
  return name.length <= 120 ? name : `${name.slice(0, 60)}...${name.slice(-40)} (${name.length} bytes)`;
}

function ownershipOf(header: Header): Ownership {
  return { mode: (header.mode ?? 0o644) & 0o7777, uid: header.uid ?? 0, gid: header.gid ?? 0, mtime: header.mtime ?? new Date(0) };
}

/** chown before chmod: chown clears setuid/setgid bits. */
async function setOwnership(host: string, { mode, uid, gid, mtime }: Ownership): Promise<void> {
  if (KEEP_OWNERS) await lchown(host, uid, gid);
  await chmod(host, mode);
  await utimes(host, mtime, mtime);
}

/** Makes room for a member at `host`; returns true when a directory is already there and wanted. */
async function clear(host: string, keepDirectory: boolean): Promise<boolean> {
  const existing = await lstat(host).catch(() => undefined);
  if (!existing) return false;
  if (existing.isDirectory()) {
    if (keepDirectory) return true;
    await rm(host, { recursive: true, force: true });
  } else {
    await unlink(host);
  }
  return false;
}
