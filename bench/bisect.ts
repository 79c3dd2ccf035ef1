// Measures a source bisect step against a cold build of the bisected component for the same
// ISA, in one run. A repository of the component (the pinned source, then six one-file
// commits, the fourth planting a big-endian-only bug: BusyBox's rev, or musl's qsort) is
// bisected with `harness bisect --source`'s library call. Each step after the first is the
// incremental rebuild of the commit plus the case under qemu-user (for musl: musl rebuilt,
// BusyBox relinked against its libc.a, the rootfs assembled, the case run).
// The cold build, with the same make -j, config and ISA as every step:
// - busybox: the good end, built in an empty build dir;
// - musl: the good end's first step also compiles the pinned BusyBox once, so the cold musl
//   build is timed on its own afterwards: the tree built into an empty build dir and sysroot.
// Target: a step under a quarter of the cold build.
// Usage: npx tsx bench/bisect.ts [isa] [busybox|musl]   (default s390x busybox). Touches only its temp dir.
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMuslTree, COMPONENTS, type Component } from '../harness/bisect/component.ts';
import { bisectSource } from '../harness/bisect/source.ts';
import { isaByName } from '../harness/isa.ts';
import { buildImages } from '../images/build.ts';
import { BUSYBOX_RECIPE, makeSourceRepo, MUSL_RECIPE } from '../test/fixtures/source-repo.ts';

const TARGET_RATIO = 0.25;
const isa = isaByName(process.argv[2] ?? 's390x');
const component = (process.argv[3] ?? 'busybox') as Component;
if (!COMPONENTS.includes(component)) throw new Error(`component '${component}': give one of ${COMPONENTS.join(', ')}`);
const recipe = component === 'musl' ? MUSL_RECIPE : BUSYBOX_RECIPE;
const seconds = (ms: number) => (ms / 1000).toFixed(1);
const jobs = availableParallelism();

const scratch = await mkdtemp(join(tmpdir(), 'bench-bisect-'));
try {
  await buildImages({ arches: [isa] }); // the toolchain; cached, not measured
  const repo = await makeSourceRepo(scratch, recipe, isa, 6, 4);
  console.log(`bisecting ${component} for ${recipe.caseId} on ${isa.name} over ${repo.commits.length - 1} commits, make -j${jobs}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const { log } = await bisectSource({
    sourceDir: repo.dir, good: repo.commits[0]!, bad: 'main', component, caseId: recipe.caseId, isa,
    jobs, reportDir: join(scratch, 'report'), buildRoot: join(scratch, 'builds'),
    onStep: (step) => console.log(`  ${step.role.padEnd(8)} ${step.subject.slice(0, 12)} ${step.term.padEnd(4)} build ${seconds(step.buildMs ?? 0).padStart(6)} s, total ${seconds(step.durationMs).padStart(6)} s`),
  });
  const [first, ...steps] = log.steps.filter((step) => step.buildMs !== undefined);
  if (!first || !steps.length) throw new Error('the bisect built fewer than two commits');
  let coldMs = first.buildMs!;
  if (component === 'musl') {
    const started = performance.now();
    await buildMuslTree(isa, repo.dir, join(scratch, 'cold-musl'), jobs);
    coldMs = performance.now() - started;
    console.log(`first step (cold musl and the pinned BusyBox compiled once): build ${seconds(first.buildMs!)} s`);
  }
  const stepMs = steps.map((step) => step.durationMs).sort((a, b) => a - b);
  const median = stepMs[Math.floor(stepMs.length / 2)]!;
  console.log(`\nanswer: ${log.answer.message}`);
  console.log(`cold ${component} build (empty build dir): ${seconds(coldMs)} s`);
  console.log(`bisect step (incremental rebuild + case), ${stepMs.length} steps: median ${seconds(median)} s, worst ${seconds(stepMs[stepMs.length - 1]!)} s`);
  console.log(`ratio step/cold: median ${(median / coldMs).toFixed(3)}, worst ${(stepMs[stepMs.length - 1]! / coldMs).toFixed(3)} (target < ${TARGET_RATIO}) ${median / coldMs < TARGET_RATIO ? 'ok' : 'MISSED'}`);
  console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
} finally {
  await rm(scratch, { recursive: true, force: true });
}
