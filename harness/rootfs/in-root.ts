// Paths inside a rootfs, resolved the way the image itself would see them: symlinks are
// followed with the rootfs as '/', so an absolute or '..'-heavy target can never reach the
// host. Extraction and the ISA check both go through here.
import { lstat, mkdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/** Linux's own limit on symlinks followed while resolving one path. */
const MAX_SYMLINK_HOPS = 40;

export class InRootPathError extends Error {}

/**
 * Splits an archive member name into components, dropping leading '/', '.' and empty parts
 * (GNU tar's convention for absolute names). Returns undefined when a component is '..':
 * a member that climbs is refused, never clamped.
 */
export function memberComponents(name: string): string[] | undefined {
  const parts = name.split('/').filter((part) => part !== '' && part !== '.');
  return parts.includes('..') ? undefined : parts;
}

export interface ResolveOptions {
  /** Follow a symlink in the last component too (reading a file), or not (replacing it). */
  followFinal: boolean;
  /** Create missing parent directories (mode 0755), as tar does for members without one. */
  createParents: boolean;
}

/**
 * The host path of `path` inside `root`, with every symlink on the way resolved inside
 * `root` ('..' stops at the root, absolute targets restart from it). Every parent of the
 * result is a real directory inside `root` when it returns; the last component may be
 * missing.
 */
export async function resolveInRoot(root: string, path: string, options: ResolveOptions): Promise<string> {
  const pending = path.split('/');
  const resolved: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const isLast = pending.every((rest) => rest === '' || rest === '.');
    const host = join(root, ...resolved, part);
    const stats = await lstat(host).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (!stats) {
      if (!isLast && options.createParents) await mkdir(host, { mode: 0o755 });
      resolved.push(part);
      continue;
    }
    if (stats.isSymbolicLink() && (!isLast || options.followFinal)) {
      if (++hops > MAX_SYMLINK_HOPS) throw new InRootPathError(`too many levels of symbolic links resolving /${path}`);
      const target = await readlink(host);
      if (target.startsWith('/')) resolved.length = 0;
      pending.unshift(...target.split('/'));
      continue;
    }
    if (!isLast && !stats.isDirectory()) throw new InRootPathError(`/${[...resolved, part].join('/')} is not a directory (resolving /${path})`);
    resolved.push(part);
  }
  return join(root, ...resolved);
}

/** True when every component of `components` below `root` exists and is a real directory (no symlink). */
export async function isPlainDirectory(root: string, components: string[]): Promise<boolean> {
  for (let depth = 1; depth <= components.length; depth++) {
    const stats = await lstat(join(root, ...components.slice(0, depth))).catch(() => undefined);
    if (!stats?.isDirectory()) return false;
  }
  return true;
}
