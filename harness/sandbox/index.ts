// Runs one case inside an image: a fresh copy-on-write view of the extracted rootfs in
// private mount, PID, UTS, IPC and network namespaces, as the ISA's machines would run it.
// The kernel work is in sandbox-run.c, run by a long-lived helper per job slot (server.ts):
// no process start per case. This module stages the case's files, makes its cgroups, hands
// the case to a helper, enforces the timeout and collects output.
//
// Per-case overhead with one helper exec per case (before server.ts), /bin/true, measured on this 2-core host while other builds ran (load
// 14-17, so every figure is noisy), runs interleaved:
//   shell loop:  x86_64  chroot 6.5-8.5 ms, helper 6.2-8.7 ms (on par);
//                aarch64 chroot 29-48 ms, helper 6.3-11 ms (a bare chroot has no /proc,
//                which qemu-user reads at start; the sandbox mounts one).
//   from node (execa, median of 30): x86_64 chroot 18-35 ms, runInSandbox 35-44 ms;
//                aarch64 chroot 56-70 ms, runInSandbox 65-88 ms; runInSandbox costs the
//                same as a bare execa of the helper, so the TypeScript side adds nothing.
// The same mounts done by a host shell script with mount(8), ip(8), hostname and chroot
// inside `unshare` cost 107-173 ms per case (about fifteen execs): hence the C helper.
//
// QEMU_CPU: with F-flag binfmt handlers the kernel starts qemu with the guest's own
// environment, so the ISA's CPU model has to be in the guest env; qemu passes its
// environment on unchanged, so `env` in the guest lists QEMU_CPU (and every child
// process, emulated or not, inherits it, which keeps grandchildren on the same CPU).
// It changes nothing else a guest program can observe.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { constants as osConstants, machine, tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { caseFileBytes, type CaseFile } from '../case.ts';
import { HarnessError } from '../errors.ts';
import { addressSpaceLimit, guestLaunch, type Isa } from '../isa.ts';
import { DEFAULT_LIMITS, type LimitHit, type Limits } from '../limits.ts';
import { type CaseLimits, caseLimits, limitsInPlace } from './cgroup.ts';
import { type SandboxHost, sandboxHost } from './helper.ts';
import { ownStagingPrefix } from './leaks.ts';
import { capChunks } from './output.ts';
import { type CaseAnswer, type TakenHelper, takeHelper } from './server.ts';

export { OUTPUT_CAP_BYTES } from './output.ts';
export { type HostSnapshot, type Leaks, hasLeaks, sandboxLeaks, snapshotHost } from './leaks.ts';

export interface SandboxRunOptions {
  /** Extracted image rootfs on the host: the read-only lower layer. */
  rootfs: string;
  isa: Isa;
  /** Run inside the guest, e.g. ['/bin/sh', '-c', 'echo hi']. */
  argv: string[];
  /** Fed to the guest's stdin; /dev/null when absent. */
  stdin?: string;
  /** The guest's stderr is its stdout (2>&1): one stream, in the order written. */
  stderrToStdout?: boolean;
  /** Working directory inside the guest (default /). */
  cwd?: string;
  /** Written into the guest view before the run. */
  files?: CaseFile[];
  /** Host directories laid out like a guest root, overlaid read-only between files and the image. */
  layers?: string[];
  /** Guest path -> host file to copy in (e.g. a compiled test binary). */
  hostFiles?: Record<string, string>;
  /** Added to (and overriding) DEFAULT_GUEST_ENV. */
  env?: Record<string, string>;
  /** Kills the whole process tree on expiry. */
  timeoutMs: number;
  /** Guest root holds only files and hostFiles (+ /proc, /dev, /tmp): the static-binary promise. */
  emptyRoot?: boolean;
  /** Ctrl-C: kill and clean up, then reject with the signal's reason. */
  signal?: AbortSignal;
  /** Copy the rootfs into the per-case tmpfs instead of overlaying it (slow; for filesystems overlayfs refuses). */
  copyRootfs?: boolean;
  /** Run the guest as PID 1 of its namespace, as a container engine runs an image's command (no reaper above it). */
  guestIsPid1?: boolean;
  /** Memory, tasks, writable space and output of the case; DEFAULT_LIMITS when absent. */
  limits?: Limits;
  /**
   * The job slot (scheduler.ts) whose helper runs the case, after the slot's case before it,
   * which may still run: this one then waits in the helper's pipe. Without a slot, the case
   * has a helper to itself.
   */
  slot?: number;
  /** Called when the helper starts the case (at once without a slot); never for a case stopped before it started. */
  onStart?: () => void;
}

export interface SandboxRunResult {
  exitCode: number | null;
  /** Name of the signal that ended the guest (SIGKILL after a timeout). */
  signal: string | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** Limits the case ran into (memory, pids, tmp, output). */
  limitHits: LimitHit[];
}

export const DEFAULT_GUEST_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  TERM: 'dumb',
};

export const GUEST_HOSTNAME = 'harness';

/** Staging dirs of running cases: removed if the harness exits in the middle (a second Ctrl-C, a crash). */
const liveStagingDirs = new Set<string>();
let exitHookInstalled = false;
function trackStaging(dir: string): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const staged of liveStagingDirs) rmSync(staged, { recursive: true, force: true });
    });
  }
  liveStagingDirs.add(dir);
}
/** uname(2) once: every case asked it two or three times. */
const HOST_MACHINE = machine();
/** getuid(2) once, as uname. */
const ROOTLESS = process.getuid?.() !== 0;

/** After a kill request the helper SIGKILLs the namespace at once; this is only its own grace. */
const HELPER_KILL_GRACE_MS = 2000;

/** The guest environment: defaults, the case's variables, and the emulator's CPU model. */
export function guestEnv(isa: Isa, env: Record<string, string> = {}, hostMachine: string = HOST_MACHINE): Record<string, string> {
  return { ...DEFAULT_GUEST_ENV, ...guestLaunch(isa, hostMachine).env, ...env };
}

/** The helper's arguments (pure). Pushed, not spread: it runs once a case, on Node's one thread. */
export function helperArgs(opts: {
  mountPoint: string; lowers: string[]; isa: Isa; rootless: boolean; copyRootfs?: boolean; guestIsPid1?: boolean; stderrToStdout?: boolean; cwd?: string; argv: string[];
  cgroups?: string[]; reportFiles?: readonly string[]; tmpfsBytes?: number; rlimitAs?: number; hostFiles?: Record<string, string>; timeoutMs?: number;
}): string[] {
  const args: string[] = [];
  if (opts.rootless) args.push('--userns');
  if (guestLaunch(opts.isa, HOST_MACHINE).linux32) args.push('--linux32');
  if (opts.copyRootfs) args.push('--copy');
  if (opts.guestIsPid1) args.push('--pid1');
  if (opts.stderrToStdout) args.push('--stderr-to-stdout');
  if (opts.cwd) args.push('--cwd', opts.cwd);
  args.push('--hostname', GUEST_HOSTNAME, '--mnt', opts.mountPoint);
  for (const dir of opts.lowers) args.push('--lower', dir);
  for (const dir of opts.cgroups ?? []) args.push('--cgroup', dir);
  for (const file of opts.reportFiles ?? []) args.push('--report-file', file);
  args.push(...hostFileArgs(opts.hostFiles));
  if (opts.tmpfsBytes) args.push('--tmpfs-size', String(opts.tmpfsBytes));
  if (opts.rlimitAs) args.push('--rlimit-as', String(opts.rlimitAs));
  if (opts.timeoutMs) args.push('--timeout-ms', String(Math.ceil(opts.timeoutMs)));
  args.push('--', ...opts.argv);
  return args;
}

/** A served case's arguments (pure): its environment, output cap and stdin before helperArgs' (which the VM runs as a command). */
export function servedArgs(env: Record<string, string>, outputBytes: number, hasStdin: boolean, args: readonly string[]): string[] {
  const served = ['--output-cap', String(outputBytes)];
  if (hasStdin) served.push('--stdin');
  for (const [name, value] of Object.entries(env)) served.push('--env', `${name}=${value}`);
  served.push(...args);
  return served;
}

/** Parses the helper's status lines: notes ("full tmpfs", "timed out"), then "exit N", "signal N" or "error MESSAGE". */
export function parseHelperStatus(text: string): ({ exitCode: number | null; signal: string | null } | { error: string }) & { tmpfsFull?: true; timedOut?: true } {
  const lines = text.split('\n').filter(Boolean);
  const notes = { ...(lines.includes('full tmpfs') && { tmpfsFull: true as const }), ...(lines.includes('timed out') && { timedOut: true as const }) };
  const line = lines.find((l) => l !== 'full tmpfs' && l !== 'timed out') ?? '';
  const [kind = '', ...rest] = line.split(' ');
  const value = rest.join(' ');
  if (kind === 'exit') return { exitCode: Number(value), signal: null, ...notes };
  if (kind === 'signal') return { exitCode: null, signal: signalName(Number(value)), ...notes };
  return { error: kind === 'error' ? value : `the sandbox helper ended without a status (${line || 'no output'})` };
}

function signalName(number: number): string {
  const entry = Object.entries(osConstants.signals).find(([, n]) => n === number);
  return entry ? entry[0] : `SIG${number}`;
}

export async function runInSandbox(opts: SandboxRunOptions): Promise<SandboxRunResult> {
  opts.signal?.throwIfAborted();
  if (opts.argv.length === 0) throw new HarnessError('sandbox: argv is empty: give the program to run inside the guest');
  const host = await sandboxHost();
  const staging = stageFiles(opts);
  if (staging) trackStaging(staging);
  try {
    // A case still waiting in a helper that then died (killed when it stopped answering) never
    // ran: it runs once more, on a new helper.
    return (await runOnHelper(host, opts, staging)) ?? (await runOnHelper(host, opts, staging)) ?? helperEndedBeforeStart();
  } finally {
    if (staging) {
      rmSync(staging, { recursive: true, force: true });
      liveStagingDirs.delete(staging);
    }
  }
}

function helperEndedBeforeStart(): never {
  throw new HarnessError('sandbox: the sandbox helper ended twice before it started the case: rerun; if it persists, check dmesg (OOM killer, a crash of sandbox-run)');
}

/** The case on a helper of its slot (or its own); undefined when the helper died before it started the case. */
async function runOnHelper(host: SandboxHost, opts: SandboxRunOptions, staging: string | undefined): Promise<SandboxRunResult | undefined> {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  // The helper first: its cgroups are its own set, which it joined at its first case (cgroup.ts).
  const helper = takeHelper(host.helper, opts.slot);
  let cgroups: CaseLimits | undefined;
  let reported: string[] = [];
  try {
    await helper.turn;
    // Other limits than the case running before it: they can only be written once it is done.
    if (!ROOTLESS && helper.busy && !limitsInPlace(limits, helper.owner)) await helper.idle();
    if (!ROOTLESS) cgroups = await caseLimits(limits, opts.isa, HOST_MACHINE, helper.owner);
    const lowers = [...(staging ? [staging] : []), ...(opts.layers ?? []), ...(opts.emptyRoot ? [] : [opts.rootfs])];
    const args = helperArgs({
      mountPoint: host.mountPoint, lowers, isa: opts.isa, rootless: ROOTLESS, copyRootfs: opts.copyRootfs, guestIsPid1: opts.guestIsPid1, stderrToStdout: opts.stderrToStdout, cwd: opts.cwd, argv: opts.argv,
      cgroups: cgroups?.dirs, reportFiles: cgroups?.reportFiles, tmpfsBytes: limits.tmpBytes, hostFiles: opts.hostFiles, rlimitAs: cgroups ? cgroups.rlimitAs : addressSpaceLimit(opts.isa, limits.memoryBytes, HOST_MACHINE),
    });
    const ran = await runHelper(helper, args, cgroups?.reportFiles ?? [], opts, limits);
    if (!ran) return undefined;
    reported = ran.answer.files;
    const hits = [...(cgroups ? cgroups.hits(ran.answer.files, ran.answer.filesBefore) : []), ...ran.result.limitHits];
    return { ...ran.result, limitHits: hits };
  } finally {
    try {
      await cgroups?.release(reported);
    } finally {
      // Only now: a case that took the helper earlier would take its cgroups before their release.
      helper.giveBack();
    }
  }
}

/** The case's result and the helper's answer; undefined when the helper ended before it started the case. */
async function runHelper(helper: TakenHelper, args: string[], reportFiles: readonly string[], opts: SandboxRunOptions, limits: Limits): Promise<{ result: SandboxRunResult; answer: CaseAnswer } | undefined> {
  let started = performance.now();
  let began = false;
  let timedOut = false;
  let stopping = false;
  let forceKill: NodeJS.Timeout | undefined;
  let timer: NodeJS.Timeout | undefined;
  // The timeout counts from the case's start, not from the time it waited behind the slot's case before.
  const onStart = () => {
    began = true;
    started = performance.now();
    opts.onStart?.();
    timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, opts.timeoutMs);
  };
  const running = helper.start(servedArgs(guestEnv(opts.isa, opts.env), limits.outputBytes, opts.stdin !== undefined, args), opts.stdin, reportFiles, onStart);
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // The helper SIGKILLs the namespace's init, which takes every guest process with it.
    running.kill();
    forceKill = setTimeout(() => running.killHelper(), HELPER_KILL_GRACE_MS);
  };
  opts.signal?.addEventListener('abort', stop, { once: true });
  let answer: CaseAnswer;
  try {
    answer = await running.done;
  } finally {
    clearTimeout(timer);
    clearTimeout(forceKill);
    opts.signal?.removeEventListener('abort', stop);
  }
  // The helper ended (it never said done) with the case still waiting in it.
  if (!began && !stopping && answer.durationMs === undefined) return undefined;
  const durationMs = answer.durationMs ?? performance.now() - started;
  opts.signal?.throwIfAborted();
  const cap = limits.outputBytes;
  const output = { stdout: capChunks(answer.stdout, answer.stdoutBytes, cap), stderr: capChunks(answer.stderr, answer.stderrBytes, cap), durationMs };
  const capped: LimitHit[] = answer.stdoutBytes > cap || answer.stderrBytes > cap ? [{ limit: 'output', value: cap }] : [];
  const outcome = parseHelperStatus(answer.status);
  if ('error' in outcome) {
    if (stopping) return { result: { exitCode: null, signal: 'SIGKILL', timedOut, ...output, limitHits: capped }, answer };
    throwIfHostFileMissing(opts.hostFiles);
    throw new HarnessError(`sandbox: ${outcome.error}`);
  }
  const { tmpfsFull, ...exit } = outcome;
  const limitHits: LimitHit[] = [...(tmpfsFull ? [{ limit: 'tmp' as const, value: limits.tmpBytes }] : []), ...capped];
  return { result: { ...exit, ...(timedOut ? { exitCode: null, signal: 'SIGKILL' } : {}), timedOut, ...output, limitHits }, answer };
}

// Staging is synchronous: a handful of quick local syscalls per case, where a hop through
// libuv's thread pool for each cost more than the case's own set-up.

/** Writes files into a fresh directory, the overlay's top layer; none when there are none. (hostFiles
 * need none: the helper copies them into the root itself, which spares a layer and its removal.) */
function stageFiles(opts: SandboxRunOptions): string | undefined {
  if (!opts.files?.length) return undefined;
  const dir = mkdtempSync(join(tmpdir(), ownStagingPrefix()));
  try {
    chmodSync(dir, 0o755);
    writeCaseFiles(dir, opts.files);
    return dir;
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Writes a case's files and hostFiles below dir, at their guest paths (the VM's initramfs uses it too). */
export function writeCaseFiles(dir: string, files: readonly CaseFile[] = [], hostFiles: Record<string, string> = {}): void {
  for (const file of files) {
    const target = stagingPath(dir, file.path);
    writeFileSync(target, caseFileBytes(file));
    chmodSync(target, file.mode ?? 0o644);
  }
  for (const [guestPath, hostPath] of Object.entries(hostFiles)) {
    const target = stagingPath(dir, guestPath);
    copyFileSync(hostPath, target);
    chmodSync(target, hostFileMode(guestPath, hostPath));
  }
}

/**
 * The helper's --host-file arguments, each guest path checked. The host files are not looked
 * at here (a stat a case on Node's one thread): the helper opens them, and a case it could not
 * set up is checked for a missing one then (throwIfHostFileMissing).
 */
export function hostFileArgs(hostFiles: Record<string, string> = {}): string[] {
  return Object.entries(hostFiles).flatMap(([guestPath, hostPath]) => ['--host-file', guestFilePath(guestPath), hostPath]);
}

/** Throws the HarnessError that names a host file that is missing, if one is. */
function throwIfHostFileMissing(hostFiles: Record<string, string> = {}): void {
  for (const [guestPath, hostPath] of Object.entries(hostFiles)) hostFileMode(guestPath, hostPath);
}

function hostFileMode(guestPath: string, hostPath: string): number {
  try {
    return statSync(hostPath).mode & 0o7777;
  } catch {
    throw new HarnessError(`sandbox: hostFiles['${guestPath}']: ${hostPath} does not exist: build it first or fix the path`);
  }
}

function guestFilePath(guestPath: string): string {
  const normal = posix.normalize(guestPath);
  if (!posix.isAbsolute(normal) || normal === '/' || normal.split('/').includes('..')) {
    throw new HarnessError(`sandbox: file path '${guestPath}' must be an absolute guest path to a file, e.g. /tmp/in.txt`);
  }
  return normal;
}

function stagingPath(dir: string, guestPath: string): string {
  const target = join(dir, guestFilePath(guestPath));
  mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
  return target;
}
