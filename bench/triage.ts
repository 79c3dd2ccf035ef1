// Triage cost: the boot time of each ISA under qemu-system (its Debian kernel to /init), and
// for a batch of 50 cases on one ISA the per-case time inside the VM against the same cases
// run one at a time under qemu-user through the sandbox. Targets: under 10 s of boot per ISA,
// under 3x the qemu-user per-case time. Prints figures; asserts nothing.
//
//   npx tsx bench/triage.ts [--isa aarch64] [--cases 50]
//
// Needs `harness setup --system` and the built images. Both sides get the same cases (the
// busybox suite's first N runnable ones): same argv, files, stdin, env and judgement; the
// qemu-user side runs them one at a time, as the VM does.
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { findBuiltImage } from '../images/build.ts';
import { isaByName, ISAS, type Isa } from '../harness/isa.ts';
import { prepareRun } from '../harness/run.ts';
import { runCase } from '../harness/run-case.ts';
import { prepareImage } from '../harness/rootfs/index.ts';
import { judge } from '../harness/verdict.ts';
import { guestHelper } from '../harness/vm/guest-helper.ts';
import { systemIsas } from '../harness/vm/host.ts';
import { runBatchInVm, vmTimeoutMs, type VmCase } from '../harness/vm/index.ts';
import { kernelStatus } from '../harness/vm/kernels.ts';
import { median } from './median.ts';

const { values } = parseArgs({ options: { isa: { type: 'string', default: 'aarch64' }, cases: { type: 'string', default: '50' } } });
const batchIsa = isaByName(values.isa!);
const batchSize = Number(values.cases);

const seconds = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');

async function support(isa: Isa): Promise<{ kernel: string; busybox: string; helper: string; rootfs: string } | string> {
  const kernel = await kernelStatus(isa);
  if (kernel.state !== 'present') return kernel.state === 'none' ? kernel.reason : 'kernel not fetched (harness setup --system)';
  const built = await findBuiltImage(isa);
  if (!built) return 'no built image (harness build-images)';
  const { rootfs } = await prepareImage({ kind: 'tarball', path: built.rootfsTarGz, sha512: built.sha512 }, isa);
  return { kernel: kernel.path, busybox: `${rootfs}/bin/busybox`, helper: await guestHelper(isa, built.toolchain), rootfs };
}

console.log(`load average at start: ${load()} (2 cores; figures are noisy under load)`);
console.log('\nboot time per ISA (qemu-system start to /init running; one trivial case):');
for (const isa of ISAS) {
  if (!systemIsas([isa], 'x86_64').length) {
    console.log(`  ${isa.name.padEnd(9)} no qemu-system boot: native here, or no Debian kernel`);
    continue;
  }
  const s = await support(isa);
  if (typeof s === 'string') {
    console.log(`  ${isa.name.padEnd(9)} not booted: ${s}`);
    continue;
  }
  const testCase = { name: 'true', suite: 'bench', argv: ['/bin/true'], expect: {} };
  const vm = await runBatchInVm({ isa, ...s, cases: [{ testCase, timeoutMs: 30_000, rootfs: s.rootfs }] });
  const outcome = vm.outcomes[0]!;
  const ok = 'attempt' in outcome && outcome.attempt.exitCode === 0;
  console.log(`  ${isa.name.padEnd(9)} boot ${seconds(vm.bootMs).padStart(7)}  whole VM ${seconds(vm.totalMs).padStart(7)}  Linux ${vm.kernel ?? '?'}  ${ok ? 'case ran' : `case: ${'error' in outcome ? outcome.error : 'failed'}`}  (load ${load()})`);
}

console.log(`\n${batchSize} busybox cases on ${batchIsa.name}: qemu-user (sandbox, one at a time) vs one qemu-system boot`);
const s = await support(batchIsa);
if (typeof s === 'string') throw new Error(`${batchIsa.name}: ${s}`);
const prepared = await prepareRun({ filters: { arches: [batchIsa.name], suites: ['busybox'] }, build: false });
const planned = prepared.cases.filter((p) => !p.testCase.skip).slice(0, batchSize);
const rootfs = prepared.images.get(`built/${batchIsa.name}`)!.facts.rootfs;

const userMs: number[] = [];
const userPassed: boolean[] = [];
for (const p of planned) {
  const attempt = await runCase(p.testCase, { rootfs, isa: batchIsa }, p.timeoutMs);
  userMs.push(attempt.durationMs);
  userPassed.push(judge(p.testCase, attempt, p.timeoutMs).passed);
}

const cases: VmCase[] = planned.map((p) => ({ testCase: p.testCase, timeoutMs: p.timeoutMs, rootfs }));
const vm = await runBatchInVm({ isa: batchIsa, ...s, cases });
const vmMs: number[] = [];
let agree = 0;
let errors = 0;
for (const [index, outcome] of vm.outcomes.entries()) {
  if ('error' in outcome) {
    errors++;
    continue;
  }
  vmMs.push(outcome.attempt.durationMs);
  const p = planned[index]!;
  if (judge(p.testCase, outcome.attempt, vmTimeoutMs(batchIsa, p.timeoutMs)).passed === userPassed[index]) agree++;
}
const ratio = median(vmMs) / median(userMs);
console.log(`  qemu-user  per case: median ${median(userMs).toFixed(0)} ms, mean ${mean(userMs).toFixed(0)} ms (${userPassed.filter(Boolean).length}/${planned.length} passed)`);
console.log(`  qemu-system per case: median ${median(vmMs).toFixed(0)} ms, mean ${mean(vmMs).toFixed(0)} ms (in the guest, root copy-on-write per case); ${errors} not run`);
console.log(`  qemu-system boot ${seconds(vm.bootMs)}, whole batch ${seconds(vm.totalMs)} (${(vm.totalMs / planned.length).toFixed(0)} ms per case with the boot)`);
console.log(`  same verdict on both: ${agree}/${planned.length - errors}`);
console.log(`  ratio qemu-system / qemu-user per case (medians): ${ratio.toFixed(2)}x (target < 3x); boot target < 10 s`);
console.log(`load average at end: ${load()}`);
