// Shard balance: for N = 2, 4, 8 shards of a matrix (default: the default matrix), each
// shard run one after the other on this machine, with the timings of a whole run and
// without; prints each shard's predicted and measured time, the makespan against the ideal
// (the whole run / N, and the mean of the shards' own walls), and how long merging takes.
// Targets: slowest shard within 1.2x of the ideal with timings, 1.5x without; merge under 2 s.
//   npx tsx bench/shard.ts [matrix] [--shards 2,4,8] [--grep PATTERN]
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mergeResults } from '../harness/merge.ts';
import { writeJunit } from '../harness/report/junit.ts';
import { writeResultsJson } from '../harness/report/json.ts';
import type { PlanFilters } from '../harness/matrix/plan.ts';
import type { RunResults } from '../harness/results.ts';
import { DEFAULT_MATRIX, runMatrix } from '../harness/run.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { shards: { type: 'string', default: '2,4,8' }, grep: { type: 'string' } } });
const matrixPath = positionals[0] ?? DEFAULT_MATRIX;
const counts = values.shards.split(',').map(Number);
const scratch = await mkdtemp(join(tmpdir(), 'bench-shard-'));
const caseMs = (run: RunResults) => run.results.reduce((sum, r) => sum + r.durationMs, 0);
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function timedRun(name: string, filters: PlanFilters) {
  const dir = join(scratch, name);
  const started = performance.now();
  const outcome = await runMatrix({ matrixPath, filters, jsonPath: join(dir, 'results.json'), junitPath: join(dir, 'junit.xml'), progress: 'quiet' });
  return { dir, wallMs: performance.now() - started, results: outcome.results };
}

try {
  console.log(`matrix ${matrixPath}${values.grep ? ` --grep ${values.grep}` : ''}; load average at start ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const whole = await timedRun('whole', { grep: values.grep });
  console.log(`whole run: ${whole.results.results.length} cases, wall ${s(whole.wallMs)}, case time ${s(caseMs(whole.results))}`);
  const verdicts: string[] = [];
  for (const n of counts) {
    for (const timings of [join(whole.dir, 'results.json'), undefined]) {
      const label = timings ? 'with timings' : 'without timings';
      const shards = [];
      for (let k = 1; k <= n; k++) shards.push(await timedRun(`n${n}-${timings ? 't' : 'e'}-${k}`, { grep: values.grep, shard: { index: k, total: n, source: '--shard' }, timings }));
      const ideal = whole.wallMs / n;
      const idealCase = caseMs(whole.results) / n;
      console.log(`\nN=${n} ${label}: ideal wall ${s(ideal)} (whole / N), ideal case time ${s(idealCase)}`);
      console.log('  shard  predicted case time  measured case time  measured wall  images');
      for (const [i, shard] of shards.entries()) {
        const props = shard.results.properties.shard!;
        console.log(`  ${String(i + 1).padStart(5)}  ${s(props.predictedMs).padStart(19)}  ${s(caseMs(shard.results)).padStart(18)}  ${s(shard.wallMs).padStart(13)}  ${Object.keys(shard.results.properties.images).length}`);
      }
      const makespan = Math.max(...shards.map((x) => x.wallMs));
      const busiest = Math.max(...shards.map((x) => caseMs(x.results)));
      const target = timings ? 1.2 : 1.5;
      // The whole run's wall is one sample of a noisy machine; the shards' own mean is the ideal
      // that load drifting between the whole run and the shards cannot move.
      const ownIdeal = shards.reduce((sum, x) => sum + x.wallMs, 0) / n;
      const line = `N=${n} ${label}: makespan ${s(makespan)} = ${(makespan / ideal).toFixed(2)}x ideal wall, ${(makespan / ownIdeal).toFixed(2)}x the shards' mean wall; busiest shard's case time ${(busiest / idealCase).toFixed(2)}x ideal (target ${target}x)`;
      console.log(`  ${line}`);
      verdicts.push(line);
      if (timings) {
        const started = performance.now();
        const merged = await mergeResults(shards.map((x) => x.dir));
        await writeResultsJson(merged, join(scratch, `merged-${n}`, 'results.json'));
        await writeJunit(merged, join(scratch, `merged-${n}`, 'junit.xml'));
        const mergeLine = `N=${n} merge of ${merged.results.length} cases (read, oracle, results.json, JUnit): ${((performance.now() - started) / 1000).toFixed(2)} s (target 2 s)`;
        console.log(`  ${mergeLine}`);
        verdicts.push(mergeLine);
      }
    }
  }
  console.log(`\nsummary (load average at end ${loadavg().map((l) => l.toFixed(1)).join(' ')}):\n${verdicts.map((v) => `  ${v}`).join('\n')}`);
} finally {
  await rm(scratch, { recursive: true, force: true });
}
