// The vm layer: the one place that boots qemu-system. One boot per batch of cases of one
// ISA: a Debian kernel and an initramfs holding the images' rootfs (under /images), each case's
// files, a static BusyBox for /init and the sandbox helper built for the guest. Inside, each
// case runs through the same helper as under qemu-user (a fresh copy of its root, /proc,
// /dev, loopback, hostname, PID 1 rules), with its stdin, env and its timeout; its stdout,
// stderr and status come back framed on the console (protocol.ts), apart from the kernel's.
//
// The initramfs is an uncompressed newc cpio: the kernel would otherwise gunzip it under
// TCG, which costs more than reading the extra megabytes.
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { TestCase } from '../case.ts';
import { HarnessError } from '../errors.ts';
import { type Isa, systemEmulation, systemQemuArgv } from '../isa.ts';
import type { Attempt } from '../results.ts';
import { guestEnv, helperArgs, parseHelperStatus, writeCaseFiles } from '../sandbox/index.ts';
import { OVERLAY_MODULE } from './kernels.ts';
import { caseScript, GUEST, type GuestCaseReport, initScript, parseConsole } from './protocol.ts';

export interface VmCase {
  testCase: TestCase;
  /** The image's extracted rootfs on the host (cases of several images share one boot). */
  rootfs: string;
  /** The case's timeout as planned for qemu-user; the ISA's system.timeoutMultiplier scales it again. */
  timeoutMs: number;
}

export interface VmBatchOptions {
  isa: Isa;
  cases: readonly VmCase[];
  /** The kernel image (kernels.ts); its overlayfs module lies beside it. */
  kernel: string;
  /** A static BusyBox for the guest ISA: /init's shell and tools (outside every case's root). */
  busybox: string;
  /** sandbox-run built for the guest ISA (guest-helper.ts). */
  helper: string;
  memoryMb?: number;
  /** Time the kernel gets to reach /init. */
  bootTimeoutMs?: number;
  signal?: AbortSignal;
}

/** One case's run in the VM: an attempt like any other, or why there is none. */
export type VmCaseOutcome = { attempt: Attempt } | { error: string };

export interface VmBatchResult {
  qemuSystemVersion: string;
  /** `uname -r` inside the guest (undefined when it never reached /init). */
  kernel?: string;
  /** From starting qemu-system to /init running. */
  bootMs?: number;
  /** From starting qemu-system to its exit. */
  totalMs: number;
  outcomes: VmCaseOutcome[];
}

const DEFAULT_MEMORY_MB = 1024;
const DEFAULT_BOOT_TIMEOUT_MS = 180_000;
/** Per case, on top of its timeout: copying its root and sending its output. */
const PER_CASE_OVERHEAD_MS = 20_000;

const versions = new Map<string, Promise<string>>();
export function qemuSystemVersion(binary: string): Promise<string> {
  let version = versions.get(binary);
  if (!version) {
    version = execa(binary, ['--version'], { reject: false }).then((r) => /version (\S+)/.exec(r.stdout)?.[1] ?? 'unknown');
    versions.set(binary, version);
  }
  return version;
}

/** The case's timeout inside the VM, in ms. */
export function vmTimeoutMs(isa: Isa, timeoutMs: number): number {
  return timeoutMs * (systemEmulation(isa)?.timeoutMultiplier ?? 1);
}

async function stageInitramfs(dir: string, options: VmBatchOptions, nonce: string): Promise<string> {
  const root = join(dir, 'root');
  await mkdir(join(root, 'bin'), { recursive: true });
  for (const sub of ['proc', 'sys', 'dev', 'harness']) await mkdir(join(root, sub), { recursive: true });
  await copyFile(options.busybox, join(root, 'bin', 'busybox'));
  await chmod(join(root, 'bin', 'busybox'), 0o755);
  await copyFile(join(options.kernel, '..', OVERLAY_MODULE), join(root, GUEST.overlayModule));
  await copyFile(options.helper, join(root, GUEST.helper));
  await chmod(join(root, GUEST.helper), 0o755);
  const images = new Map([...new Set(options.cases.map((c) => c.rootfs))].map((rootfs, n) => [rootfs, `${GUEST.images}/${n}`]));
  for (const [rootfs, guestPath] of images) {
    await mkdir(join(root, guestPath, '..'), { recursive: true });
    await execa('cp', ['-a', `${rootfs}/.`, join(root, guestPath)]);
  }
  for (const [index, { testCase, rootfs, timeoutMs }] of options.cases.entries()) {
    const caseDir = join(root, GUEST.cases, String(index));
    const files = join(caseDir, 'files');
    await mkdir(files, { recursive: true, mode: 0o755 });
    writeCaseFiles(files, testCase.files, testCase.hostFiles);
    if (testCase.stdin !== undefined) await writeFile(join(caseDir, 'stdin'), testCase.stdin);
    const lowers = [files.slice(root.length), ...(testCase.emptyRoot ? [] : [images.get(rootfs)!])];
    const argv = helperArgs({ mountPoint: GUEST.mnt, lowers, isa: options.isa, rootless: false, guestIsPid1: testCase.pid1, stderrToStdout: testCase.stderrToStdout, timeoutMs: vmTimeoutMs(options.isa, timeoutMs), argv: testCase.argv });
    await writeFile(join(caseDir, 'run'), caseScript(guestEnv(options.isa, testCase.env), argv));
  }
  await writeFile(join(root, 'init'), initScript(nonce, options.cases.map((_, index) => index)), { mode: 0o755 });
  const initrd = join(dir, 'initramfs.cpio');
  await execa('sh', ['-c', `find . -print0 | cpio --null -o -H newc --quiet > ${JSON.stringify(initrd)}`], { cwd: root });
  return initrd;
}

function attemptOf(report: GuestCaseReport): VmCaseOutcome {
  if (report.garbled) return { error: report.garbled };
  const status = parseHelperStatus(report.status);
  const timedOut = status.timedOut === true;
  if ('error' in status && !timedOut) return { error: `the sandbox helper in the VM failed: ${status.error}` };
  const ended = 'error' in status || timedOut ? { exitCode: null, signal: 'SIGKILL' } : { exitCode: status.exitCode, signal: status.signal };
  return { attempt: { ...ended, timedOut, durationMs: report.durationMs, stdout: report.stdout, stderr: report.stderr } };
}

/** Boots the ISA's kernel once and runs every case of the batch in it. */
export async function runBatchInVm(options: VmBatchOptions): Promise<VmBatchResult> {
  const system = systemEmulation(options.isa);
  if (!system) throw new HarnessError(`${options.isa.name}: no qemu-system facts in the ISA table`);
  const qemuVersion = await qemuSystemVersion(system.qemuSystem);
  const dir = await mkdtemp(join(tmpdir(), 'harness-vm-'));
  try {
    const nonce = randomBytes(6).toString('hex');
    const initrd = await stageInitramfs(dir, options, nonce);
    const [binary = '', ...args] = systemQemuArgv(options.isa, {
      kernel: options.kernel,
      initrd,
      memoryMb: options.memoryMb ?? DEFAULT_MEMORY_MB,
      append: ['quiet', 'loglevel=1', 'panic=-1', 'rdinit=/init'],
    });
    const budgetMs = (options.bootTimeoutMs ?? DEFAULT_BOOT_TIMEOUT_MS) + options.cases.reduce((sum, c) => sum + vmTimeoutMs(options.isa, c.timeoutMs) + PER_CASE_OVERHEAD_MS, 0);
    const started = performance.now();
    let bootMs: number | undefined;
    const child = execa(binary, args, { stdin: 'ignore', reject: false, timeout: budgetMs, cancelSignal: options.signal, forceKillAfterDelay: 2000, maxBuffer: 512 * 1024 * 1024 });
    const bootMarker = `@@${nonce} - boot`;
    let seen = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      if (bootMs !== undefined) return;
      seen = (seen + chunk.toString('latin1')).slice(-4096);
      if (seen.includes(bootMarker)) bootMs = performance.now() - started;
    });
    const finished = await child;
    const totalMs = performance.now() - started;
    options.signal?.throwIfAborted();
    const consoleText = String(finished.stdout ?? '');
    const report = parseConsole(consoleText, nonce);
    const why = !report.boot
      ? `the ${options.isa.name} VM did not reach /init (${finished.timedOut ? 'timed out' : `qemu exited ${finished.exitCode}`}): ${lastLines(`${consoleText}\n${finished.stderr ?? ''}`)}`
      : finished.timedOut
        ? `the ${options.isa.name} VM ran out of time (${(budgetMs / 1000).toFixed(0)} s) before this case finished`
        : `the ${options.isa.name} VM stopped before this case finished (qemu exited ${finished.exitCode}): ${lastLines(consoleText)}`;
    const outcomes = options.cases.map((_, index) => {
      const caseReport = report.cases.get(index);
      return caseReport ? attemptOf(caseReport) : { error: why };
    });
    return { qemuSystemVersion: qemuVersion, kernel: report.boot?.kernel, bootMs: report.boot ? bootMs : undefined, totalMs, outcomes };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function lastLines(text: string): string {
  return text.replace(/\r/g, '').split('\n').map((l) => l.trim()).filter(Boolean).slice(-3).join(' | ').slice(0, 400) || 'no output';
}
