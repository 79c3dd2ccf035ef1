// The kernel side of per-case limits: a set of cgroups per sandbox helper (one per job slot),
// made by the harness under the cgroup it already sits in (never elsewhere), limited for each
// case the helper runs, read after it, and removed at exit.
// Memory: cgroup v2 where the host delegated its memory controller to us, else a v1 memory
// cgroup, else RLIMIT_AS on the emulator (qemu-user ignores a guest's own RLIMIT_AS, but the
// host process's limit binds). Processes: pids.max (v2 or v1), else none.
// The harness never moves, edits or removes a cgroup it did not create: it only makes
// <own>/harness-<pid>/case-<n> and removes those again (its own at exit, or after a death that
// ran no exit handler; at start, a dead run's, named so and holding no task).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { isAlive } from '../cache-temp.ts';
import { addressSpaceLimit, type Isa } from '../isa.ts';
import type { LimitHit, Limits } from '../limits.ts';
import type { HelperIdentity } from './server.ts';
import { sandboxHost } from './helper.ts';

export type CgroupVersion = 'cgroup2' | 'cgroup1';

/** Where the process's own cgroups are, per hierarchy (host paths), from /proc/self/cgroup and mountinfo. */
export interface OwnCgroups {
  v2?: string;
  memory?: string;
  pids?: string;
}

/** How each limit is enforced on this host, for the run's properties. */
export interface LimitMechanisms {
  memory: { kind: CgroupVersion; dir: string } | { kind: 'rlimit' };
  pids: { kind: CgroupVersion; dir: string } | { kind: 'none' };
}

export const CGROUP_PREFIX = 'harness-';

/** Parses /proc/self/cgroup and /proc/self/mountinfo into our cgroup directories (pure). */
export function ownCgroupDirs(procCgroup: string, mountinfo: string): OwnCgroups {
  const membership = new Map<string, string>();
  for (const line of procCgroup.split('\n').filter(Boolean)) {
    const [, controllers = '', path = ''] = line.split(/:(.*?):/);
    membership.set(controllers === '' ? '' : controllers, path);
  }
  const own: OwnCgroups = {};
  for (const line of mountinfo.split('\n').filter(Boolean)) {
    const [left = '', right = ''] = line.split(' - ');
    const fields = left.split(' ');
    const [fstype, , superOptions = ''] = right.split(' ');
    const root = unescapeMount(fields[3] ?? '');
    const mountPoint = unescapeMount(fields[4] ?? '');
    const inMount = (path: string | undefined) => {
      if (path === undefined) return undefined;
      const rel = posix.relative(root, path);
      return rel.startsWith('..') ? undefined : posix.join(mountPoint, rel);
    };
    if (fstype === 'cgroup2') own.v2 ??= inMount(membership.get(''));
    if (fstype !== 'cgroup') continue;
    const options = superOptions.split(',');
    for (const controller of ['memory', 'pids'] as const) {
      if (!options.includes(controller)) continue;
      const entry = [...membership].find(([names]) => names.split(',').includes(controller));
      own[controller] ??= inMount(entry?.[1]);
    }
  }
  return own;
}

function unescapeMount(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

let mechanisms: Promise<LimitMechanisms> | undefined;
const madeParents = new Set<string>();

/** The mechanisms of this host, decided once per process (and the harness-<pid> parents made). */
export function limitMechanisms(): Promise<LimitMechanisms> {
  mechanisms ??= detect();
  return mechanisms;
}

async function detect(): Promise<LimitMechanisms> {
  const [procCgroup, mountinfo] = await Promise.all([readFile('/proc/self/cgroup', 'utf8'), readFile('/proc/self/mountinfo', 'utf8')]).catch(() => ['', '']);
  const own = ownCgroupDirs(procCgroup, mountinfo);
  // The remover first: a process ended between making a parent and starting it would leave that parent.
  const candidates = [...new Set([own.v2, own.memory, own.pids].flatMap((dir) => (dir ? [parentIn(dir)] : [])))];
  if (candidates.length) await startRemover(candidates);
  const delegated = own.v2 ? (await readFile(join(own.v2, 'cgroup.subtree_control'), 'utf8').catch(() => '')).split(/\s+/) : [];
  const pick = async (controller: 'memory' | 'pids', limitFile: string) => {
    if (own.v2 && delegated.includes(controller)) {
      const dir = await makeParent(own.v2, controller);
      if (dir) return { kind: 'cgroup2' as const, dir };
    }
    const v1 = own[controller];
    if (v1) {
      // A root cgroup has no limit files of its own; the one we make below it must.
      const dir = await makeParent(v1);
      if (dir && existsSync(join(dir, limitFile))) return { kind: 'cgroup1' as const, dir };
    }
    return undefined;
  };
  return {
    memory: (await pick('memory', 'memory.limit_in_bytes')) ?? { kind: 'rlimit' },
    pids: (await pick('pids', 'pids.max')) ?? { kind: 'none' },
  };
}

/**
 * A SIGKILL, or a SIGTERM that nobody handles (a test runner ending its worker), runs no exit
 * handler, and the next run's sweep (removeDeadRuns) reaches only the cgroup it sits in,
 * which may be another: a CI job's, a systemd unit's, each command's own. So a helper in a
 * session of its own (out of reach of a process group's kill) holds the other end of a pipe
 * and removes the parents once this process is gone, however it ended (sandbox-run.c). It is
 * given every parent this process may make, before any is made; those never made it skips.
 */
async function startRemover(dirs: string[]): Promise<void> {
  // No helper, no case: nothing will be in the parents but the exit handler's to remove.
  const host = await sandboxHost().catch(() => undefined);
  if (!host) return;
  const remover = spawn(host.helper, ['--remove-cgroups', ...dirs], { stdio: ['pipe', 'ignore', 'ignore'], detached: true, env: {} });
  remover.on('error', () => undefined);
  remover.unref();
  (remover.stdin as typeof remover.stdin & { unref(): void }).unref();
}

/** This process's parent cgroup in `own`: <own>/harness-<pid>. */
const parentIn = (own: string) => join(own, `${CGROUP_PREFIX}${process.pid}`);

/** <own>/harness-<pid>, made once (after removing empty ones of dead runs); undefined when we may not. */
async function makeParent(own: string, v2Controller?: string): Promise<string | undefined> {
  const dir = parentIn(own);
  try {
    await removeDeadRuns(own);
    await mkdir(dir, { recursive: true });
    // Ours: enabling a controller for our own children is allowed (it has no processes).
    if (v2Controller) await writeFile(join(dir, 'cgroup.subtree_control'), `+${v2Controller}`);
  } catch {
    await rmdir(dir).catch(() => undefined);
    return undefined;
  }
  if (madeParents.size === 0) process.once('exit', removeParentsSync);
  madeParents.add(dir);
  return dir;
}

/** The names the harness gives its cgroups: harness-<pid> under its own cgroup, case-<n> below that. */
const RUN_CGROUP = new RegExp(`^${CGROUP_PREFIX}([1-9][0-9]*)$`);
const CASE_CGROUP = /^case-[0-9]+$/;

/**
 * Removes the harness-<pid> cgroups directly under `own` that a run left when it died
 * before its exit handler (SIGKILL): only where that pid is gone, every child is a case-<n>
 * of ours, and no task is left in any of them. Anything else there is not ours to touch.
 */
async function removeDeadRuns(own: string): Promise<void> {
  for (const name of await readdir(own).catch(() => [] as string[])) {
    const pid = Number(RUN_CGROUP.exec(name)?.[1] ?? NaN);
    if (!Number.isSafeInteger(pid) || pid === process.pid || isAlive(pid)) continue;
    const dir = join(own, name);
    const children = (await readdir(dir, { withFileTypes: true }).catch(() => [])).filter((entry) => entry.isDirectory());
    if (children.some((child) => !CASE_CGROUP.test(child.name))) continue;
    const cgroups = [...children.map((child) => join(dir, child.name)), dir];
    if (!(await Promise.all(cgroups.map(hasNoTasks))).every(Boolean)) continue;
    for (const cgroup of cgroups) await rmdir(cgroup).catch(() => undefined);
  }
}

/** True when the cgroup's cgroup.procs lists no process (an unreadable one counts as busy). */
async function hasNoTasks(cgroup: string): Promise<boolean> {
  const procs = await readFile(join(cgroup, 'cgroup.procs'), 'utf8').catch(() => undefined);
  return procs !== undefined && procs.trim() === '';
}

/** How long the exit handler waits for the cases' killed processes to leave their cgroups. */
const EXIT_CLEANUP_MS = 3000;

/**
 * At exit (a second Ctrl-C, a crash), cases may still run: their processes, all in cgroups we
 * made, are killed, and each cgroup is removed once the kernel has emptied it.
 */
function removeParentsSync(): void {
  const deadline = Date.now() + EXIT_CLEANUP_MS;
  for (const dir of madeParents) {
    const cases = (() => {
      try {
        return readdirSync(dir, { withFileTypes: true }).filter((child) => child.isDirectory()).map((child) => join(dir, child.name));
      } catch {
        return [];
      }
    })();
    for (const cgroup of [...cases, dir]) removeWhenEmptySync(cgroup, deadline);
  }
}

function removeWhenEmptySync(cgroup: string, deadline: number): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      return rmdirSync(cgroup);
    } catch (error) {
      // Still busy past the deadline: the next run removes it (removeDeadRuns).
      if ((error as NodeJS.ErrnoException).code !== 'EBUSY' || Date.now() > deadline) return;
    }
    const pids = (() => {
      try {
        return readFileSync(join(cgroup, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
      } catch {
        return [];
      }
    })();
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    Atomics.wait(pause, 0, 0, 10);
  }
}

/**
 * The cgroups of one case: pass `dirs` and `reportFiles` to the helper; after the case,
 * `hits()` then `release()` with the texts of reportFiles that the helper sent back.
 */
export interface CaseLimits {
  dirs: string[];
  /** RLIMIT_AS for the guest when memory has no cgroup. */
  rlimitAs?: number;
  /**
   * The files the helper reads back between the case's end and its next case's start
   * (--report-file): the event counters, then cgroup.procs. The harness cannot read them
   * itself, as the slot's next case may already run in the same cgroups by then.
   */
  reportFiles: string[];
  /**
   * The limits the case ran into: what the counters in the reported texts added to their
   * values after the helper's case before (`before`; none without texts: it never ran).
   */
  hits(texts: readonly string[], before: readonly string[]): LimitHit[];
  /** Keeps the cgroups for the helper's next case; removes them when the helper is gone. */
  release(texts: readonly string[]): Promise<void>;
}

// Per case, the cgroup files are touched synchronously: each is one quick syscall on cgroupfs,
// and a hop through libuv's thread pool per file cost more than the case's own set-up.
function writeIfPresent(path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch {
    // Absent where the kernel lacks that accounting (swap): nothing to limit there.
  }
}

/** A cumulative event counter: the number after `key` in a flat-keyed file, or its only number when key is ''. */
interface Counter {
  file: string;
  key: string;
}

/**
 * One set of case cgroups (case-<n> under each hierarchy's harness-<pid>), reused case after
 * case: a memory cgroup's mkdir and rmdir each blocked the event loop for about half a
 * millisecond (bench/micro.ts), more than the rest of a case's Node-side work. Each set
 * belongs to one sandbox helper, which sits in it, so its cases' init is born inside it and no
 * process moves per case (sandbox-run.c, join_cgroups). Between cases it holds that helper
 * alone (the helper answers once init is reaped, and init goes last in its pid namespace);
 * limits are rewritten when they differ, and hits are counted against the event counters'
 * values after the case before (as the helper read both), so each case sees only its own.
 */
interface CgroupSet {
  dirs: string[];
  memory?: { dir: string; kind: CgroupVersion; bytes?: number; ooms: Counter };
  pids?: { dir: string; max?: number; events: Counter };
}

/** Dirs of sets whose helper waits for its next case: in use, not leaked. */
const idleDirs = new Set<string>();
/** Each helper's own set, from its first case on. */
const setOf = new WeakMap<HelperIdentity, CgroupSet>();
/** The helper sits in its set: one task more than the case's own limit. */
const HELPER_TASKS = 1;
let setCounter = 0;

async function newSet(found: LimitMechanisms): Promise<CgroupSet> {
  const name = `case-${++setCounter}`;
  const set: CgroupSet = { dirs: [] };
  /** v2 keeps memory and pids in one cgroup; v1 has a hierarchy per controller. */
  const caseDir = (parent: string) => {
    const dir = join(parent, name);
    if (!set.dirs.includes(dir)) {
      mkdirSync(dir);
      set.dirs.push(dir);
    }
    return dir;
  };
  try {
    if (found.memory.kind !== 'rlimit') {
      const dir = caseDir(found.memory.dir);
      set.memory = { dir, kind: found.memory.kind, ooms: oomCounter(dir, found.memory.kind) };
    }
    if (found.pids.kind !== 'none') {
      const dir = caseDir(found.pids.dir);
      set.pids = { dir, events: { file: join(dir, 'pids.events'), key: 'max' } };
    }
  } catch (error) {
    await removeSet(set);
    throw error;
  }
  return set;
}

/** Where OOM kills are counted. Kernels before 4.13 have no oom_kill line in v1: then hitting the limit at all is the best sign. */
function oomCounter(dir: string, kind: CgroupVersion): Counter {
  if (kind === 'cgroup2') return { file: join(dir, 'memory.events'), key: 'oom_kill' };
  const control = join(dir, 'memory.oom_control');
  return readFileSync(control, 'latin1').includes('oom_kill ') ? { file: control, key: 'oom_kill' } : { file: join(dir, 'memory.failcnt'), key: '' };
}

/** Sets the memory limit; with v1 swap accounting, memsw (which may not go below the limit) moves first when raising. */
function limitMemory(memory: NonNullable<CgroupSet['memory']>, bytes: number): void {
  if (memory.bytes === bytes) return;
  const { dir } = memory;
  if (memory.kind === 'cgroup2') {
    writeFileSync(join(dir, 'memory.max'), String(bytes));
    writeIfPresent(join(dir, 'memory.swap.max'), '0');
  } else {
    // Without swap accounting the file is absent; with it, swap must not extend the limit.
    const raising = memory.bytes === undefined || bytes > memory.bytes;
    if (raising) writeIfPresent(join(dir, 'memory.memsw.limit_in_bytes'), String(bytes));
    writeFileSync(join(dir, 'memory.limit_in_bytes'), String(bytes));
    if (!raising) writeIfPresent(join(dir, 'memory.memsw.limit_in_bytes'), String(bytes));
  }
  memory.bytes = bytes;
}

/** True when `helper`'s cgroups already have these limits (or it has none yet): its next case needs no write to them. */
export function limitsInPlace(limits: Limits, helper: HelperIdentity): boolean {
  const set = setOf.get(helper);
  return !set || ((!set.memory || set.memory.bytes === limits.memoryBytes) && (!set.pids || set.pids.max === limits.pids + HELPER_TASKS));
}

/**
 * The cgroups of `helper`'s next case: its own set, made at its first. Its limits are written
 * here, so no other case of the helper may run meanwhile unless they are in place already.
 */
export async function caseLimits(limits: Limits, isa: Isa, hostMachine: string, helper: HelperIdentity): Promise<CaseLimits> {
  const found = await limitMechanisms();
  const set = setOf.get(helper) ?? (await newSet(found));
  setOf.set(helper, set);
  for (const dir of set.dirs) idleDirs.delete(dir);
  const pidsMax = limits.pids + HELPER_TASKS;
  try {
    if (set.memory) limitMemory(set.memory, limits.memoryBytes);
    if (set.pids && set.pids.max !== pidsMax) {
      writeFileSync(join(set.pids.dir, 'pids.max'), String(pidsMax));
      set.pids.max = pidsMax;
    }
  } catch (error) {
    setOf.delete(helper);
    await removeSet(set);
    throw error;
  }
  const counters = [...(set.memory ? [set.memory.ooms] : []), ...(set.pids ? [set.pids.events] : [])];
  const procs = set.dirs[0] && join(set.dirs[0], 'cgroup.procs');
  const reportFiles = [...counters.map((counter) => counter.file), ...(procs ? [procs] : [])];
  return {
    dirs: [...set.dirs],
    ...(found.memory.kind === 'rlimit' && { rlimitAs: addressSpaceLimit(isa, limits.memoryBytes, hostMachine) }),
    reportFiles,
    hits: (texts, before) => {
      if (texts.length < reportFiles.length) return [];
      const added = counters.map((counter, i) => counterValue(texts[i]!, counter.key) - counterValue(before[i] ?? '', counter.key));
      const hits: LimitHit[] = [];
      if (set.memory && added[0]! > 0) hits.push({ limit: 'memory', value: limits.memoryBytes });
      if (set.pids && added[set.memory ? 1 : 0]! > 0) hits.push({ limit: 'pids', value: limits.pids });
      return hits;
    },
    release: async (texts) => {
      // A helper that was killed leaves its set (whose processes may still be on their way out),
      // which is then removed once empty, never reused. (Every process of the case is in each
      // hierarchy's cgroup at once: one of them tells.)
      if (!helper.alive) {
        setOf.delete(helper);
        return removeSet(set);
      }
      const procsText = texts[reportFiles.length - 1];
      if (procs && procsText !== undefined && procsText !== '' && procsText !== `${helper.pid}\n`) {
        // Cannot happen while the helper lives (init was reaped): kept out of use, removed at exit.
        setOf.delete(helper);
        return;
      }
      for (const dir of set.dirs) idleDirs.add(dir);
    },
  };
}

async function removeSet(set: CgroupSet): Promise<void> {
  for (const dir of set.dirs.splice(0).reverse()) await removeCaseDir(dir);
}

/** rmdir, retried briefly: the last exiting tasks of the case may still be leaving it. */
async function removeCaseDir(dir: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** The number after `key` in a flat-keyed file's text ("max 3"), or the text's only number when key is ''. */
function counterValue(text: string, key: string): number {
  if (key === '') return Number(text.trim()) || 0;
  const line = text.split('\n').find((l) => l.startsWith(`${key} `));
  return line ? Number(line.slice(key.length + 1)) || 0 : 0;
}

/** Our own cgroup dirs still present (harness-<pid> and below), for leak checks; empty ones waiting for the next case are not. */
export async function ownCgroupLeaks(): Promise<string[]> {
  const found = await limitMechanisms();
  const leaks: string[] = [];
  for (const mechanism of [found.memory, found.pids]) {
    if (!('dir' in mechanism)) continue;
    for (const child of await readdir(mechanism.dir, { withFileTypes: true }).catch(() => [])) {
      if (child.isDirectory() && !idleDirs.has(join(mechanism.dir, child.name))) leaks.push(join(mechanism.dir, child.name));
    }
  }
  return [...new Set(leaks)];
}

/** How each limit is enforced here, in words for the run's properties. */
export async function describeLimitMechanisms(rootless = process.getuid?.() !== 0): Promise<{ memory: string; pids: string; tmp: string; output: string }> {
  const found = rootless ? { memory: { kind: 'rlimit' as const }, pids: { kind: 'none' as const } } : await limitMechanisms();
  return {
    memory: 'dir' in found.memory ? `${found.memory.kind} memory cgroup under ${found.memory.dir}` : 'RLIMIT_AS on the emulator (no memory cgroup available; a hit is not detected by name)',
    pids: 'dir' in found.pids ? `${found.pids.kind} pids cgroup under ${found.pids.dir}` : 'not enforced (no pids cgroup available)',
    tmp: 'size of the per-case tmpfs that holds every write',
    output: 'bytes kept per stream; the rest is drained and dropped',
  };
}
