// Benchmark (not a test): BusyBox's own testsuite (suite busybox-upstream) on every ISA at
// once, split by applet, against the same testsuite run ISA by ISA with no splitting (one
// `runtest -v` of every applet per ISA, one ISA after another), in one run. Prints both wall
// times, their ratio, the target check, per-ISA PASS/FAIL/skipped counts, every failure,
// and where the time goes (per-ISA job time, the longest jobs, the floor those set).
//
//   npx tsx bench/busybox-upstream.ts [--arch a,b] [--only a,b | --except bc,...] [--release]
//                                     [--reports DIR] [--unsplit-jobs N] [--no-unsplit]
//
// --only and --except narrow both runs to some applets (bc's one CPU-bound case dominates
// the whole suite), to get figures on a busy machine; the printout says so.
// --release makes the split run matrices/release.yaml's busybox-upstream suite (every image
// of that matrix, its timeouts and known failures), so the same run is the release's
// upstream JUnit; the unsplit run then uses its built image.
// --unsplit-jobs N runs N ISAs' whole runs at once (default 1: one after another), which is
// how the unsplit suite would use N cores; the unsplit figure is then that phase's wall time.
// Images must be built (harness build-images). Reports go to a temp dir, removed after,
// unless --reports DIR keeps the split run's junit.xml, results.json and report.html there.
import { availableParallelism } from 'node:os';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import PQueue from 'p-queue';
import { isaByName, ISAS } from '../harness/isa.ts';
import { loadMatrix } from '../harness/matrix/load.ts';
import { matchKnownFailure } from '../harness/matrix/plan.ts';
import { REPO_ROOT } from '../harness/paths.ts';
import type { CaseResult } from '../harness/results.ts';
import { prepareRun, runMatrix } from '../harness/run.ts';
import { runCase } from '../harness/run-case.ts';
import { onStopSignals } from '../harness/commands/stop-signals.ts';
import { parseRuntestOutput } from '../harness/suites/busybox-upstream/runtest-output.ts';

const TARGET_SECONDS = 25 * 60;

const { values } = parseArgs({ options: { arch: { type: 'string' }, only: { type: 'string' }, except: { type: 'string' }, release: { type: 'boolean' }, reports: { type: 'string' }, 'unsplit-jobs': { type: 'string', default: '1' }, 'no-unsplit': { type: 'boolean' } } });
const unsplitJobs = Number(values['unsplit-jobs']);
if (!Number.isInteger(unsplitJobs) || unsplitJobs < 1) throw new Error(`--unsplit-jobs: a positive whole number, got '${values['unsplit-jobs']}'`);
if (values.release && (values.only || values.except)) throw new Error('--release runs every applet: it takes no --only or --except');
const arches = values.arch ? values.arch.split(',') : ISAS.map((isa) => isa.name);
const only = values.only?.split(',');
const except = values.except ? values.except.split(',') : [];
const scratch = await mkdtemp(join(tmpdir(), 'bench-busybox-upstream-'));
// Ctrl-C or SIGTERM stops the running phase and still removes the temp dir (a second one exits at once).
const stop = onStopSignals({ secondExits: true });
const reports = values.reports ? resolve(values.reports) : scratch;
const seconds = (ms: number) => (ms / 1000).toFixed(1);

try {
  const matrix = join(scratch, 'upstream.yaml');
  const writeMatrix = (applets?: string[]) =>
    writeFile(matrix, `arches: [${arches.join(', ')}]\nimages: [built]\nsuites:\n  busybox-upstream: {${applets ? ` applets: [${applets.join(', ')}]` : ''} }\nretries: 0\n`);
  await writeMatrix();
  const every = [...new Set((await prepareRun({ matrixPath: matrix, build: false })).cases.map((p) => p.testCase.name))];
  const applets = every.filter((name) => !except.includes(name) && (!only || only.includes(name)));
  const narrowed = applets.length < every.length;
  await writeMatrix(narrowed ? applets : undefined);
  const release = join(REPO_ROOT, 'matrices', 'release.yaml');
  const source = values.release ? { matrixPath: release, filters: { suites: ['busybox-upstream'], arches } } : { matrixPath: matrix };
  const cores = availableParallelism();
  console.log(`busybox-upstream on ${arches.length} ISAs (${arches.join(', ')}), ${cores} cores, ${applets.length} applets${narrowed ? ` (of ${every.length}: ${only ? `only ${applets.join(', ')}` : `left out ${except.join(', ')}`})` : ''}${values.release ? ', split run = matrices/release.yaml --suite busybox-upstream' : ''}`);

  // Split: every ISA's applets as jobs, spread over the cores by the harness's scheduler.
  const splitStart = performance.now();
  const split = await runMatrix({ ...source, junitPath: join(reports, 'junit.xml'), jsonPath: join(reports, 'results.json'), htmlPath: join(reports, 'report.html'), progress: 'quiet', signal: stop.signal });
  const splitMs = performance.now() - splitStart;
  if (stop.signal.aborted) console.log('\nstopped by a signal while the split run ran: nothing more is measured');
  else {
    const upstream = split.results.results.filter((r) => r.suite === 'busybox-upstream');
    const results = upstream.filter((r) => r.image === 'built');
    for (const image of new Set(upstream.map((r) => r.image).filter((name) => name !== 'built'))) {
      const rows = upstream.filter((r) => r.image === image);
      console.log(`image ${image}: ${rows.length} cases on ${new Set(rows.map((r) => r.isa)).size} ISAs, ${rows.filter((r) => r.verdict === 'skipped').length} skipped: ${rows[0]?.message ?? ''}`);
    }
    console.log(`\nsplit by applet, all ISAs at once: ${seconds(splitMs)} s (target ${TARGET_SECONDS} s: ${splitMs / 1000 <= TARGET_SECONDS ? 'met' : 'NOT met'})`);

    console.log('\nper ISA        pass  fail  known  skipped  job time (s)');
    const jobTime = new Map<string, number>(); // `${isa} ${applet}` -> ms
    for (const r of results) {
      const applet = r.case.split(': ')[0]!;
      jobTime.set(`${r.isa} ${applet}`, (jobTime.get(`${r.isa} ${applet}`) ?? 0) + r.durationMs);
    }
    for (const isa of arches) {
      const mine = results.filter((r) => r.isa === isa);
      const count = (verdict: CaseResult['verdict']) => mine.filter((r) => r.verdict === verdict).length;
      const busy = [...jobTime].filter(([key]) => key.startsWith(`${isa} `)).reduce((sum, [, ms]) => sum + ms, 0);
      console.log(`  ${isa.padEnd(10)} ${String(count('passed')).padStart(5)} ${String(count('failed')).padStart(5)} ${String(count('known-failure')).padStart(6)} ${String(count('skipped')).padStart(8)}  ${seconds(busy).padStart(10)}`);
    }
    const totalJobMs = [...jobTime.values()].reduce((a, b) => a + b, 0);
    const longest = [...jobTime].sort((a, b) => b[1] - a[1]);
    console.log(`\nwhere the time goes: ${seconds(totalJobMs)} s of jobs over ${cores} cores (a floor of ${seconds(totalJobMs / cores)} s); the longest job alone is ${seconds(longest[0]?.[1] ?? 0)} s`);
    for (const [key, ms] of longest.slice(0, 12)) console.log(`  ${key.padEnd(24)} ${seconds(ms).padStart(8)} s  (${((100 * ms) / totalJobMs).toFixed(1)}%)`);
    // The bench's own matrix lists no known failures: the release matrix's say which are known.
    const releaseMatrix = await loadMatrix(release);
    const failures = results.filter((r) => r.verdict === 'failed');
    console.log(`\nfailures (${failures.length}; "known" = listed in matrices/release.yaml):`);
    for (const r of failures) {
      const known = matchKnownFailure(releaseMatrix, r.suite, r.case, isaByName(r.isa), 'built');
      console.log(`  ${known ? 'known' : 'FAIL '} ${r.isa} ${r.case}: ${(known?.reason ?? r.message ?? '').split('\n').slice(0, 3).join(' | ')}`);
    }

    if (!values['no-unsplit']) {
      // Unsplit: one runtest of every applet per ISA, ISA after ISA (or --unsplit-jobs at once): how the suite ran before.
      const prepared = await prepareRun({ ...source, build: false });
      console.log(`\nunsplit, ISA by ISA${unsplitJobs > 1 ? `, ${unsplitJobs} ISAs at once` : ''}:`);
      const unsplitStart = performance.now();
      const queue = new PQueue({ concurrency: unsplitJobs });
      await queue.addAll(arches.map((isa) => async () => {
        const planned = prepared.cases.filter((p) => p.job.isa.name === isa && p.job.image.name === 'built' && !p.testCase.skip);
        const first = planned[0];
        if (!first) return;
        const timeoutMs = planned.reduce((sum, p) => sum + p.timeoutMs, 0);
        const testCase = { ...first.testCase, files: planned.flatMap((p) => p.testCase.files ?? []), name: '(every applet)', argv: ['/bin/sh', './runtest', '-v', ...(narrowed ? planned.map((p) => p.testCase.name) : [])] };
        const rootfs = prepared.images.get(`${first.job.image.name}/${isa}`)!.facts.rootfs;
        if (stop.signal.aborted) return;
        // A stop signal ends the running ISA's run too: its figure is not printed.
        const attempt = await runCase(testCase, { rootfs, isa: first.job.isa }, timeoutMs, { signal: stop.signal }).catch((error: unknown) => {
          if (stop.signal.aborted) return undefined;
          throw error;
        });
        if (!attempt) return;
        const parsed = parseRuntestOutput(attempt.stdout);
        const n = (v: string) => parsed.filter((p) => p.verdict === v).length;
        console.log(`  ${isa.padEnd(10)} ${seconds(attempt.durationMs).padStart(8)} s  pass ${n('passed')} fail ${n('failed')} skipped ${n('skipped')}${attempt.timedOut ? ' (timed out)' : ''}`);
      }));
      const unsplitMs = performance.now() - unsplitStart;
      if (stop.signal.aborted) console.log('\nstopped by a signal: no unsplit total');
      else console.log(`\nunsplit total: ${seconds(unsplitMs)} s; split: ${seconds(splitMs)} s; ratio split/unsplit ${(splitMs / unsplitMs).toFixed(2)}x`);
    }
  }
} finally {
  await rm(scratch, { recursive: true, force: true });
  stop.dispose();
  if (stop.signal.aborted) process.exitCode = stop.exitCode();
}
