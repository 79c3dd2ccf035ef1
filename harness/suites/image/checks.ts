// Image checks that the guest cannot make itself: the sandbox gives every case its own
// /dev, the size of the archive is known only on the host, and the applet links are plain
// files of the extracted rootfs. The suite reads them (it never spawns) and emits a case
// that prints the findings, so the verdict and its evidence land in the report like any other.
import { lstat, readdir, readlink } from 'node:fs/promises';
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

/** Follows guest symlinks inside the rootfs: the guest path it ends at, or undefined if dangling or looping. */
export async function resolveInRootfs(rootfs: string, guestPath: string): Promise<string | undefined> {
  let current = posix.normalize(guestPath);
  for (let hop = 0; hop < MAX_LINK_HOPS; hop++) {
    const stats = await lstat(posix.join(rootfs, current)).catch(() => undefined);
    if (!stats) return undefined;
    if (!stats.isSymbolicLink()) return current;
    const target = await readlink(posix.join(rootfs, current));
    current = posix.isAbsolute(target) ? posix.normalize(target) : posix.join(posix.dirname(current), target);
  }
  return undefined;
}

/** Links in APPLET_LINK_DIRS that lead to BusyBox under a name it does not know, or lead nowhere. */
export async function appletLinkProblems(rootfs: string, applets: readonly string[]): Promise<string[]> {
  const known = new Set(applets);
  const busybox = await resolveInRootfs(rootfs, BUSYBOX_PATH);
  const problems: string[] = [];
  for (const dir of APPLET_LINK_DIRS) {
    const names = await readdir(posix.join(rootfs, dir)).catch(() => [] as string[]);
    for (const name of names.sort()) {
      const guestPath = posix.join(dir, name);
      if (!(await lstat(posix.join(rootfs, guestPath))).isSymbolicLink()) continue;
      const target = await resolveInRootfs(rootfs, guestPath);
      if (target === undefined) problems.push(`${guestPath}: dangling link`);
      else if (target === busybox && !known.has(name)) problems.push(`${guestPath}: links to BusyBox but '${name}' is not an applet`);
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
