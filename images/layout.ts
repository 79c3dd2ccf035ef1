// The rootfs layout, modelled on Alpine's minirootfs: which directories exist with which
// modes, which fixed symlinks, and which template files from images/rootfs/ go where.
// Pure: turns built binaries plus templates into a sorted list of tar entries.
import type { Isa } from '../harness/isa.ts';
import { HarnessError } from '../harness/errors.ts';

export interface RootfsEntry {
  /** Path inside the rootfs, without a leading slash; directories without a trailing one. */
  path: string;
  type: 'directory' | 'file' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  content?: Buffer;
  linkname?: string;
}

/** Alpine's minirootfs directories and their modes; /dev stays empty as there. */
const DIRECTORIES: ReadonlyArray<[string, number]> = [
  ['bin', 0o755], ['dev', 0o755], ['etc', 0o755], ['etc/apk', 0o755], ['etc/crontabs', 0o755],
  ['etc/modprobe.d', 0o755], ['etc/modules-load.d', 0o755], ['etc/network', 0o755], ['etc/opt', 0o755],
  ['etc/periodic', 0o755], ['etc/profile.d', 0o755], ['etc/sysctl.d', 0o755],
  ['home', 0o755], ['lib', 0o755], ['lib/firmware', 0o755], ['lib/modules-load.d', 0o755], ['lib/sysctl.d', 0o755],
  ['media', 0o755], ['media/cdrom', 0o755], ['media/floppy', 0o755], ['media/usb', 0o755],
  ['mnt', 0o755], ['opt', 0o755], ['proc', 0o555], ['root', 0o700], ['run', 0o755], ['sbin', 0o755],
  ['srv', 0o755], ['sys', 0o755], ['tmp', 0o1777],
  ['usr', 0o755], ['usr/bin', 0o755], ['usr/lib', 0o755], ['usr/local', 0o755], ['usr/local/bin', 0o755],
  ['usr/local/lib', 0o755], ['usr/local/share', 0o755], ['usr/sbin', 0o755], ['usr/share', 0o755],
  ['usr/share/man', 0o755], ['usr/share/misc', 0o755],
  ['var', 0o755], ['var/cache', 0o755], ['var/cache/misc', 0o755], ['var/empty', 0o555], ['var/lib', 0o755],
  ['var/lib/misc', 0o755], ['var/local', 0o755], ['var/lock', 0o755], ['var/lock/subsys', 0o755],
  ['var/log', 0o755], ['var/mail', 0o755], ['var/opt', 0o755], ['var/spool', 0o755], ['var/spool/cron', 0o755],
  ['var/tmp', 0o1777],
];

const FIXED_SYMLINKS: ReadonlyArray<[string, string]> = [
  ['etc/mtab', '/proc/mounts'],
  ['var/run', '/run'],
  ['var/spool/mail', '/var/mail'],
  ['var/spool/cron/crontabs', '/etc/crontabs'],
];

/** Template files whose mode or group differ from 0644 root:root (as in Alpine: shadow is 0640 root:shadow). */
const TEMPLATE_PERMISSIONS: Readonly<Record<string, { mode: number; gid: number }>> = {
  'etc/shadow': { mode: 0o640, gid: 42 },
};

export function muslLoaderPath(isa: Isa): string {
  return `lib/ld-musl-${isa.muslArch}.so.1`;
}

export interface RootfsInputs {
  isa: Isa;
  busybox: Buffer;
  /** musl's libc.so: the dynamic loader and libc in one. */
  muslLoader: Buffer;
  /** Applet paths from BusyBox's busybox.links, e.g. "/usr/bin/tr". */
  appletPaths: string[];
  /** Template files by rootfs path, e.g. "etc/passwd". */
  templates: ReadonlyMap<string, Buffer>;
}

/** Every entry of the rootfs, sorted by path so the tar is the same on every build. */
export function rootfsEntries(inputs: RootfsInputs): RootfsEntry[] {
  const dir = (path: string, mode: number): RootfsEntry => ({ path, type: 'directory', mode, uid: 0, gid: 0 });
  const link = (path: string, linkname: string): RootfsEntry => ({ path, type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkname });
  const file = (path: string, content: Buffer, mode: number, gid = 0): RootfsEntry => ({ path, type: 'file', mode, uid: 0, gid, content });

  const loader = muslLoaderPath(inputs.isa);
  const byPath = new Map<string, RootfsEntry>();
  const add = (entry: RootfsEntry) => {
    if (byPath.has(entry.path)) throw new HarnessError(`rootfs: ${entry.path} added twice (a template in images/ or an applet path gives it again); remove one of them`);
    byPath.set(entry.path, entry);
  };
  for (const [path, mode] of DIRECTORIES) add(dir(path, mode));
  for (const [path, target] of FIXED_SYMLINKS) add(link(path, target));
  for (const [path, content] of inputs.templates) {
    const perms = TEMPLATE_PERMISSIONS[path] ?? { mode: 0o644, gid: 0 };
    add(file(path, content, perms.mode, perms.gid));
  }
  add(file('bin/busybox', inputs.busybox, 0o755));
  add(file(loader, inputs.muslLoader, 0o755));
  add(link(`lib/libc.musl-${inputs.isa.muslArch}.so.1`, `ld-musl-${inputs.isa.muslArch}.so.1`));
  for (const applet of inputs.appletPaths) {
    const path = applet.replace(/^\/+/, '');
    if (path !== 'bin/busybox') add(link(path, '/bin/busybox'));
  }
  for (const entry of byPath.values()) {
    const parent = entry.path.split('/').slice(0, -1).join('/');
    if (parent && byPath.get(parent)?.type !== 'directory') throw new HarnessError(`rootfs: ${entry.path} has no parent directory ${parent}; add ${parent} to the rootfs directories in images/layout.ts`);
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
