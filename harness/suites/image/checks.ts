// Image checks that the guest cannot make itself: the sandbox gives every case its own
// /dev, the size of the archive is known only on the host, and the applet links are plain
// files of the extracted rootfs. The suite reads them (it never spawns) and emits a case
// that prints the findings, so the verdict and its evidence land in the report like any other.
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { posix } from 'node:path';

/** Directories whose symlinks into BusyBox must each name an applet. */
export const APPLET_LINK_DIRS = ['/bin', '/sbin', '/usr/bin', '/usr/sbin'];
export const BUSYBOX_PATH = '/bin/busybox';
const MAX_LINK_HOPS = 40;

/** Entries of the image's own /dev (the sandbox mounts its minimal /dev over it). */
export async function devEntries(rootfs: string): Promise<string[]> {
  try {
    return (await readdir(posix.join(rootfs, 'dev'))).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

// Sync: an image's applet links are thousands of tiny lookups, where a thread-pool hop for
// each costs more than the lookup (list plans 30 images).

/** Follows guest symlinks inside the rootfs: the guest path it ends at, or undefined if dangling or looping. */
export function resolveInRootfs(rootfs: string, guestPath: string): string | undefined {
  let current = posix.normalize(guestPath);
  for (let hop = 0; hop < MAX_LINK_HOPS; hop++) {
    const host = posix.join(rootfs, current);
    let isLink: boolean;
    try {
      isLink = lstatSync(host).isSymbolicLink();
    } catch {
      return undefined;
    }
    if (!isLink) return current;
    current = linkTarget(current, readlinkSync(host));
  }
  return undefined;
}

/** Where a guest symlink at `guestPath` reading `target` points, as a guest path. */
function linkTarget(guestPath: string, target: string): string {
  return posix.isAbsolute(target) ? posix.normalize(target) : posix.join(posix.dirname(guestPath), target);
}

/** Links in APPLET_LINK_DIRS that lead to BusyBox under a name it does not know, or lead nowhere. */
export function appletLinkProblems(rootfs: string, applets: readonly string[]): string[] {
  const known = new Set(applets);
  const busybox = resolveInRootfs(rootfs, BUSYBOX_PATH);
  // Most links share a target (/bin/busybox): each target is resolved once.
  const resolved = new Map<string, string | undefined>();
  const problems: string[] = [];
  for (const dir of APPLET_LINK_DIRS) {
    let entries: Array<{ name: string; isSymbolicLink(): boolean }>;
    try {
      entries = readdirSync(posix.join(rootfs, dir), { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries.filter((e) => e.isSymbolicLink()).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const guestPath = posix.join(dir, entry.name);
      const next = linkTarget(guestPath, readlinkSync(posix.join(rootfs, guestPath)));
      if (!resolved.has(next)) resolved.set(next, resolveInRootfs(rootfs, next));
      const target = resolved.get(next);
      if (target === undefined) problems.push(`${guestPath}: dangling link`);
      else if (target === busybox && !known.has(entry.name)) problems.push(`${guestPath}: links to BusyBox but '${entry.name}' is not an applet`);
    }
  }
  return problems;
}

export function formatBytes(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(2)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

/** An over-budget finding, or undefined when the archive fits. */
export function sizeBudgetProblem(compressedBytes: number, budgetBytes: number): string | undefined {
  if (compressedBytes <= budgetBytes) return undefined;
  return `compressed rootfs is ${formatBytes(compressedBytes)} (${compressedBytes} bytes), over its budget of ${formatBytes(budgetBytes)} (${budgetBytes} bytes)`;
}
