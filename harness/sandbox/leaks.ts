// What a sandbox run could leave on the host: mounts, helper processes, staging dirs.
// Snapshot before and after; the diff is pure so tests can check it on any data.
// Helper processes count when they carry this process tree's owner marker (server.ts), so
// other harness runs on the machine are not counted, and one of ours is even when orphaned;
// our own helpers that wait idle for the next case hold nothing and are not counted. Staging
// dirs carry the same marker in their names, then the pid of the process that made them, so a
// later run removes those of a process that died without its exit handler (SIGKILL).
import { readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive } from '../cache-temp.ts';
import { idleHelperPids, SANDBOX_OWNER_ENV, sandboxOwner } from './server.ts';

/** Prefix of this process tree's per-case staging directories under os.tmpdir() (others' runs have their own). */
export function stagingPrefix(): string {
  return `harness-case-${sandboxOwner()}-`;
}

/** Prefix of the staging directories this process makes: the tree's, then its own pid. */
export function ownStagingPrefix(): string {
  return `${stagingPrefix()}${process.pid}-`;
}

const STAGING_DIR = /^harness-case-[0-9]+-([1-9][0-9]*)-/;

/** Removes the staging dirs under os.tmpdir() whose making process is gone (any tree's). */
export async function removeDeadStagingDirs(): Promise<void> {
  for (const name of await readdir(tmpdir()).catch(() => [] as string[])) {
    const pid = Number(STAGING_DIR.exec(name)?.[1] ?? NaN);
    if (Number.isSafeInteger(pid) && pid !== process.pid && !isAlive(pid)) await rm(join(tmpdir(), name), { recursive: true, force: true });
  }
}

export interface HostSnapshot {
  /** Lines of /proc/mounts. */
  mounts: string[];
  /** pid -> executable path, for processes running a sandbox helper of this process tree (idle ones left out). */
  helperProcesses: Map<number, string>;
  /** Staging directories under os.tmpdir(). */
  stagingDirs: string[];
}

export interface Leaks {
  mounts: string[];
  processes: string[];
  stagingDirs: string[];
}

/** True when this executable path is (a build of) the sandbox helper. */
export function isHelperExecutable(exe: string): boolean {
  return /\/sandbox-run-[0-9a-f]+( \(deleted\))?$/.test(exe);
}

/** pid -> executable path of every process running a build of the helper, any tree's (whose exe link this process may read). */
export async function helperProcessesRunning(): Promise<Map<number, string>> {
  const running = new Map<number, string>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    // Processes come and go, and others' exe links are unreadable: skip those.
    const exe = await readlink(`/proc/${entry}/exe`).catch(() => '');
    if (isHelperExecutable(exe)) running.set(Number(entry), exe);
  }
  return running;
}

export async function snapshotHost(): Promise<HostSnapshot> {
  const mounts = (await readFile('/proc/mounts', 'utf8')).split('\n').filter(Boolean);
  const helperProcesses = new Map<number, string>();
  const marker = `${SANDBOX_OWNER_ENV}=${sandboxOwner()}`;
  const idle = idleHelperPids();
  for (const [pid, exe] of await helperProcessesRunning()) {
    if (idle.has(pid)) continue;
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
    if (environ.split('\0').includes(marker)) helperProcesses.set(pid, exe);
  }
  const stagingDirs = (await readdir(tmpdir())).filter((name) => name.startsWith(stagingPrefix()));
  return { mounts, helperProcesses, stagingDirs };
}

/** What is in `after` and was not in `before`. */
export function sandboxLeaks(before: HostSnapshot, after: HostSnapshot): Leaks {
  const beforeMounts = new Set(before.mounts);
  const beforeDirs = new Set(before.stagingDirs);
  return {
    mounts: after.mounts.filter((line) => !beforeMounts.has(line)),
    processes: [...after.helperProcesses].filter(([pid]) => !before.helperProcesses.has(pid)).map(([pid, exe]) => `${pid} ${exe}`),
    stagingDirs: after.stagingDirs.filter((name) => !beforeDirs.has(name)),
  };
}

export function hasLeaks(leaks: Leaks): boolean {
  return leaks.mounts.length + leaks.processes.length + leaks.stagingDirs.length > 0;
}
