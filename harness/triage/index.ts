// Triage: is it the emulator or the image? Every case that failed on an emulated ISA (and
// every known failure that claims `emulator: true`) runs again under qemu-system with the
// ISA's real Debian kernel: the same image, files, stdin, env, timeout (scaled) and
// judgement, one boot per ISA. It reads results and writes results; the VM layer does the
// booting.
//
// A case passing there becomes `emulator-only` with the evidence; one failing there too stays
// `failed` ("also fails under a real <isa> kernel"); a listed emulator bug that fails there
// is "not an emulator bug after all"; whatever cannot be run there says why.
import { machine } from 'node:os';
import { findBuiltImage } from '../../images/build.ts';
import type { TestCase } from '../case.ts';
import { findIsa, type Isa, runsNatively, systemEmulation } from '../isa.ts';
import { findOnPath } from '../host/probe.ts';
import type { Attempt, CaseResult, RunResults, TriageRecord } from '../results.ts';
import { prepareImage } from '../rootfs/index.ts';
import { outputDiff, judge } from '../verdict.ts';
import { guestHelper } from '../vm/guest-helper.ts';
import { runBatchInVm, vmTimeoutMs, type VmBatchOptions, type VmBatchResult } from '../vm/index.ts';
import { kernelStatus } from '../vm/kernels.ts';

/** What re-running one result needs: the case as planned and where its image is. */
export interface TriageTarget {
  testCase: TestCase;
  /** The per-attempt timeout the run used on this ISA. */
  timeoutMs: number;
  rootfs: string;
  /** The matrix says this known failure is an emulator bug (triage checks it). */
  emulatorClaim?: boolean;
  /** Whether the output must agree across ISAs (the cross-ISA oracle). */
  crossIsa?: boolean;
}

/** Finds the planned case behind a result; undefined when the plan no longer has it. */
export type TriageLookup = (result: CaseResult) => TriageTarget | undefined;

export interface TriageOptions {
  cacheDir?: string;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** The host's `uname -m` (default: this machine): natively run ISAs have no emulator to blame. */
  hostMachine?: string;
  /** Boots a batch; the VM layer unless a caller substitutes it. */
  runBatch?: (options: VmBatchOptions) => Promise<VmBatchResult>;
}

export interface TriageBoot {
  isa: string;
  cases: number;
  bootMs?: number;
  totalMs?: number;
  kernel?: string;
  qemuSystemVersion?: string;
  /** Why this ISA's failures were not run under qemu-system. */
  notJudged?: string;
}

export interface TriageReport {
  results: RunResults;
  boots: TriageBoot[];
}

/** Results triage looks at: failures, and known failures that claim to be emulator bugs. */
export function isTriageCandidate(result: CaseResult, target?: TriageTarget): boolean {
  if (result.verdict === 'failed') return true;
  return result.verdict === 'known-failure' && Boolean(result.knownFailure?.emulator || target?.emulatorClaim);
}

function firstLine(text: string | undefined): string {
  return (text ?? '').split('\n').find((line) => line.trim()) ?? '';
}

/** The output the other ISAs agree on, for a cross-ISA case (the oracle's majority). */
function referenceOutput(result: CaseResult, all: readonly CaseResult[]): { output: string; isas: string[] } | undefined {
  const counts = new Map<string, string[]>();
  for (const other of all) {
    if (other === result || other.image !== result.image || other.suite !== result.suite || other.case !== result.case) continue;
    if (other.verdict !== 'passed' && other.verdict !== 'emulator-only') continue;
    const output = other.attempts.at(-1)?.stdout;
    if (output !== undefined) counts.set(output, [...(counts.get(output) ?? []), other.isa]);
  }
  const best = [...counts.entries()].sort((a, b) => b[1].length - a[1].length)[0];
  return best && { output: best[0], isas: best[1].sort() };
}

/** Judges the VM's attempt as the run judged the original: the case's expectation, and the oracle. */
export function judgeInVm(result: CaseResult, target: TriageTarget, attempt: Attempt, isa: Isa, all: readonly CaseResult[]): string | undefined {
  const timeoutMs = vmTimeoutMs(isa, target.timeoutMs);
  const own = judge(target.testCase, attempt, timeoutMs);
  if (!own.passed) return own.message ?? 'failed';
  const reference = (target.crossIsa ?? target.testCase.crossIsa) ? referenceOutput(result, all) : undefined;
  if (reference && reference.output !== attempt.stdout) {
    return `cross-ISA oracle: output differs from ${reference.isas.join(', ')}\n${outputDiff(reference.isas.join(', '), reference.output, `${isa.name} (qemu-system)`, attempt.stdout)}`;
  }
  return undefined;
}

interface IsaSupport {
  kernel: string;
  busybox: string;
  helper: string;
}

/** What one ISA needs to boot, or why it cannot. */
async function isaSupport(isa: Isa, options: TriageOptions): Promise<IsaSupport | string> {
  const system = systemEmulation(isa);
  if (!system) return `no ${isa.name} kernel: Debian has none that boots under qemu-system here`;
  const kernel = await kernelStatus(isa, options.cacheDir);
  if (kernel.state !== 'present') return `the ${isa.name} kernel is not fetched: run \`harness setup --system --arch ${isa.name}\``;
  if (!(await findOnPath(system.qemuSystem))) return `${system.qemuSystem} is not installed: run \`harness setup --system --arch ${isa.name}\``;
  const built = await findBuiltImage(isa, options.cacheDir);
  if (!built) return `no harness image for ${isa.name} (its BusyBox runs the VM's /init, its musl toolchain builds the sandbox helper): run \`harness build-images --arch ${isa.name}\``;
  const extracted = await prepareImage({ kind: 'tarball', path: built.rootfsTarGz, sha512: built.sha512 }, isa, { cacheDir: options.cacheDir, signal: options.signal });
  const helper = await guestHelper(isa, built.toolchain, options.cacheDir);
  return { kernel: kernel.path, busybox: `${extracted.rootfs}/bin/busybox`, helper };
}

function record(outcome: TriageRecord['outcome'], evidence: string, extra: Partial<TriageRecord> = {}): TriageRecord {
  return { outcome, evidence, ...extra };
}

/** The result after triage: its new verdict, message and triage record. */
function triaged(result: CaseResult, isa: Isa, found: { vm: VmBatchResult; attempt: Attempt; failure?: string } | { notJudged: string }, qemuUser: string): CaseResult {
  const listed = result.verdict === 'known-failure';
  if ('notJudged' in found) {
    const triage = record('not-judged', `not triaged: ${found.notJudged}`, { qemuUserVersion: qemuUser });
    return listed ? { ...result, triage } : { ...result, message: `${result.message ?? 'failed'}\n${triage.evidence}`, triage };
  }
  const { vm, attempt, failure } = found;
  const where = `qemu-system ${vm.qemuSystemVersion} with Linux ${vm.kernel} ${isa.name}`;
  const versions = { qemuUserVersion: qemuUser, qemuSystemVersion: vm.qemuSystemVersion, kernel: vm.kernel, attempt };
  if (failure === undefined) {
    const evidence = `fails under qemu-user ${qemuUser}, passes under ${where}`;
    const triage = record('emulator-only', evidence, versions);
    if (listed) return { ...result, triage };
    return { ...result, verdict: 'emulator-only', message: `emulator-only: ${evidence}\nunder qemu-user: ${result.message ?? 'failed'}`, triage };
  }
  const alsoFails = `also fails under a real ${isa.name} kernel (${where}): ${firstLine(failure)}`;
  const triage = record('also-fails', alsoFails, { ...versions, message: failure });
  if (listed) {
    const reason = result.knownFailure?.reason ?? 'listed as an emulator bug';
    return { ...result, verdict: 'failed', message: `not an emulator bug after all: listed as one (${reason}), but it ${alsoFails}\n${failure}`, triage };
  }
  return { ...result, message: `${result.message ?? 'failed'}\n${alsoFails}`, triage };
}

/**
 * Re-runs the run's failures under qemu-system, one boot per ISA, and returns the results
 * with their triage applied. Results that are not candidates are returned as they were.
 */
export async function triageResults(run: RunResults, lookup: TriageLookup, options: TriageOptions = {}): Promise<TriageReport> {
  const log = options.log ?? (() => {});
  const hostMachine = options.hostMachine ?? machine();
  const runBatch = options.runBatch ?? runBatchInVm;
  const updated = new Map<CaseResult, CaseResult>();
  const byIsa = new Map<string, Array<{ result: CaseResult; target: TriageTarget }>>();
  const qemuUserOf = (isaName: string) => run.properties.isas[isaName]?.qemuVersion ?? 'unknown';

  for (const result of run.results) {
    const target = result.verdict === 'failed' || result.verdict === 'known-failure' ? lookup(result) : undefined;
    if (!isTriageCandidate(result, target)) continue;
    const isa = findIsa(result.isa);
    const notJudged = !isa
      ? `unknown ISA '${result.isa}'`
      : runsNatively(isa, hostMachine)
        ? `${isa.name} runs natively on this ${hostMachine} host: no emulator was involved`
        : result.attempts.length === 0
          ? 'it failed before any guest program ran (nothing to run again)'
          : !target
            ? `the case is no longer in the matrix ${run.properties.matrix} (or its image changed): run the matrix again`
            : undefined;
    if (notJudged || !isa || !target) {
      updated.set(result, triaged(result, isa ?? ({ name: result.isa } as Isa), { notJudged: notJudged ?? 'not found' }, qemuUserOf(result.isa)));
      continue;
    }
    byIsa.set(isa.name, [...(byIsa.get(isa.name) ?? []), { result, target }]);
  }

  const boots: TriageBoot[] = [];
  for (const [isaName, batch] of byIsa) {
    options.signal?.throwIfAborted();
    const isa = findIsa(isaName)!;
    const support = await isaSupport(isa, options);
    if (typeof support === 'string') {
      boots.push({ isa: isaName, cases: batch.length, notJudged: support });
      for (const { result } of batch) updated.set(result, triaged(result, isa, { notJudged: support }, qemuUserOf(isaName)));
      continue;
    }
    log(`triage: booting ${isaName} (Linux ${systemEmulation(isa)!.kernel.release}) for ${batch.length} case(s)`);
    const vm = await runBatch({ isa, ...support, cases: batch.map(({ target }) => ({ testCase: target.testCase, timeoutMs: target.timeoutMs, rootfs: target.rootfs })), signal: options.signal });
    boots.push({ isa: isaName, cases: batch.length, bootMs: vm.bootMs, totalMs: vm.totalMs, kernel: vm.kernel, qemuSystemVersion: vm.qemuSystemVersion });
    for (const [index, { result, target }] of batch.entries()) {
      const outcome = vm.outcomes[index]!;
      const found = 'error' in outcome
        ? { notJudged: outcome.error }
        : { vm, attempt: outcome.attempt, failure: judgeInVm(result, target, outcome.attempt, isa, run.results) };
      updated.set(result, triaged(result, isa, found, qemuUserOf(isaName)));
    }
  }
  return { results: { ...run, results: run.results.map((result) => updated.get(result) ?? result) }, boots };
}

/** Known-failure entries, ready to paste into a matrix, for the emulator-only cases. */
export function suggestKnownFailures(run: RunResults): string {
  const groups = new Map<string, CaseResult[]>();
  for (const result of run.results.filter((r) => r.verdict === 'emulator-only')) {
    const key = `${result.suite}/${result.case}\0${result.image}`;
    groups.set(key, [...(groups.get(key) ?? []), result]);
  }
  if (groups.size === 0) return '# no emulator-only cases: nothing to add to known_failures';
  const quote = (text: string) => `'${text.replace(/'/g, "''")}'`;
  const lines = ['known_failures:'];
  for (const members of groups.values()) {
    const first = members[0]!;
    const isas = [...new Set(members.map((r) => r.isa))].sort();
    const original = firstLine(first.message?.split('\nunder qemu-user: ')[1]);
    lines.push(
      `  # ${isas.map((isa) => members.find((r) => r.isa === isa)!.triage!.evidence).join('; ')}`,
      `  - test: ${quote(`${first.suite}/${first.case}`)}`,
      `    arch: ${isas.length === 1 ? isas[0] : `[${isas.join(', ')}]`}`,
      `    image: ${first.image}`,
      '    emulator: true',
      `    reason: ${quote(`qemu-user ${first.triage?.qemuUserVersion ?? ''} ${isas.join('/')}: ${original || 'fails only under the emulator'}`)}`,
    );
  }
  return lines.join('\n');
}

/** One line per boot for the terminal. */
export function formatTriageBoots(boots: readonly TriageBoot[]): string {
  if (boots.length === 0) return 'triage: no failure to run again under qemu-system';
  return boots
    .map((boot) =>
      boot.notJudged
        ? `triage ${boot.isa}: ${boot.cases} case(s) not run under qemu-system: ${boot.notJudged}`
        : `triage ${boot.isa}: ${boot.cases} case(s) under qemu-system ${boot.qemuSystemVersion} with Linux ${boot.kernel}; boot ${((boot.bootMs ?? 0) / 1000).toFixed(1)} s, total ${((boot.totalMs ?? 0) / 1000).toFixed(1)} s`,
    )
    .join('\n');
}
