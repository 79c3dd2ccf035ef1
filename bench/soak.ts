// Soak: the default matrix (or the one given) N times in a row in this process. Prints per
// round the verdict counts, then whether every round gave identical verdicts, the flaky cases,
// what leaked (mounts, helper processes, staging dirs, our cgroups, cache temp dirs) and the
// harness's peak memory. Not a test: a whole run takes minutes.
//   npx tsx bench/soak.ts [matrix] [--rounds N]   (default: matrices/default.yaml, 10 rounds)
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEMP_PREFIX } from '../harness/cache-temp.ts';
import { cacheRoot } from '../harness/paths.ts';
import { DEFAULT_MATRIX, runMatrix } from '../harness/run.ts';
import { ownCgroupLeaks } from '../harness/sandbox/cgroup.ts';
import { sandboxLeaks, snapshotHost } from '../harness/sandbox/index.ts';

const args = process.argv.slice(2);
const roundsAt = args.indexOf('--rounds');
const rounds = roundsAt >= 0 ? Number(args[roundsAt + 1]) : 10;
const matrixPath = args.find((arg, i) => !arg.startsWith('--') && i !== roundsAt + 1) ?? DEFAULT_MATRIX;

async function cacheTempDirs(): Promise<string[]> {
  const dir = join(cacheRoot(), 'rootfs');
  return (await readdir(dir).catch(() => [] as string[])).filter((name) => name.startsWith(`${TEMP_PREFIX}${process.pid}-`));
}

// Each round's results.json goes to this benchmark's own temp dir, removed at the end.
const scratch = await mkdtemp(join(tmpdir(), 'bench-soak-'));
const before = await snapshotHost();
const verdictsPerRound: Array<Map<string, string>> = [];
const flaky = new Set<string>();
for (let round = 1; round <= rounds; round++) {
  const started = Date.now();
  const outcome = await runMatrix({ matrixPath, progress: 'quiet', jsonPath: join(scratch, `round-${round}.json`), junitPath: '/dev/null' });
  const verdicts = new Map(outcome.results.results.map((r) => [`${r.image}/${r.isa}/${r.suite}/${r.case}`, r.verdict]));
  for (const r of outcome.results.results) if (r.flaky) flaky.add(`${r.image}/${r.isa}/${r.suite}/${r.case}`);
  verdictsPerRound.push(verdicts);
  const t = outcome.summary.totals;
  console.log(`round ${round}/${rounds}: ${t.total} cases, ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped, ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

await rm(scratch, { recursive: true, force: true });
const first = verdictsPerRound[0]!;
const differing = [...first.keys()].filter((key) => verdictsPerRound.some((round) => round.get(key) !== first.get(key)));
const leaks = sandboxLeaks(before, await snapshotHost());
const cgroups = await ownCgroupLeaks();
const temps = await cacheTempDirs();
console.log(`identical verdicts in every round: ${differing.length === 0 ? 'yes' : `no, ${differing.length} differ: ${differing.slice(0, 10).join(', ')}`}`);
console.log(`flaky cases: ${flaky.size}${flaky.size ? ` (${[...flaky].slice(0, 10).join(', ')})` : ''}`);
console.log(`leaked: ${leaks.mounts.length} mounts, ${leaks.processes.length} helper processes, ${leaks.stagingDirs.length} staging dirs, ${cgroups.length} cgroups, ${temps.length} cache temp dirs`);
console.log(`harness peak memory (max RSS): ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
