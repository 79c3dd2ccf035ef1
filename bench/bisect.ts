// Measures a source bisect step against a cold BusyBox build for the same ISA, in one run.
// A BusyBox repository (the pinned 1.35 source, then six one-file commits, the fourth
// breaking rev on big-endian) is bisected with `harness bisect --source`'s library call.
// Its good end is built in an empty build dir: that is the cold build (the same make, -j,
// config and ISA as every step). Each later step is the incremental rebuild of the commit
// plus the case under qemu-user. Target: a step under a quarter of the cold build.
// Usage: npx tsx bench/bisect.ts [isa]   (default s390x). Touches only its temp dir.
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { bisectSource } from '../harness/bisect/source.ts';
import { isaByName } from '../harness/isa.ts';
import { buildImages } from '../images/build.ts';
import { makeBusyboxRepo, REV_CASE } from '../test/fixtures/busybox-repo.ts';

const TARGET_RATIO = 0.25;
const isa = isaByName(process.argv[2] ?? 's390x');
const seconds = (ms: number) => (ms / 1000).toFixed(1);

const scratch = await mkdtemp(join(tmpdir(), 'bench-bisect-'));
try {
  await buildImages({ arches: [isa] }); // the toolchain; cached, not measured
  const repo = await makeBusyboxRepo(scratch, 6, 4);
  console.log(`bisecting ${REV_CASE} on ${isa.name} over ${repo.commits.length - 1} commits, make -j${availableParallelism()}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const { log } = await bisectSource({
    sourceDir: repo.dir, good: repo.commits[0]!, bad: 'main', component: 'busybox', caseId: REV_CASE, isa,
    jobs: availableParallelism(), reportDir: join(scratch, 'report'), buildRoot: join(scratch, 'builds'),
    onStep: (step) => console.log(`  ${step.role.padEnd(8)} ${step.subject.slice(0, 12)} ${step.term.padEnd(4)} build ${seconds(step.buildMs ?? 0).padStart(6)} s, total ${seconds(step.durationMs).padStart(6)} s`),
  });
  const [cold, ...steps] = log.steps.filter((step) => step.buildMs !== undefined);
  if (!cold || !steps.length) throw new Error('the bisect built fewer than two commits');
  const coldMs = cold.buildMs!;
  const stepMs = steps.map((step) => step.durationMs).sort((a, b) => a - b);
  const median = stepMs[Math.floor(stepMs.length / 2)]!;
  console.log(`\nanswer: ${log.answer.message}`);
  console.log(`cold BusyBox build (empty build dir): ${seconds(coldMs)} s`);
  console.log(`bisect step (incremental rebuild + case), ${stepMs.length} steps: median ${seconds(median)} s, worst ${seconds(stepMs[stepMs.length - 1]!)} s`);
  console.log(`ratio step/cold: median ${(median / coldMs).toFixed(3)}, worst ${(stepMs[stepMs.length - 1]! / coldMs).toFixed(3)} (target < ${TARGET_RATIO}) ${median / coldMs < TARGET_RATIO ? 'ok' : 'MISSED'}`);
  console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
} finally {
  await rm(scratch, { recursive: true, force: true });
}
