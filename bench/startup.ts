// Start-up of the `harness` command: `--version` and `list` of the default matrix, on the
// compiled JavaScript through the command as installed (launcher.sh: what `npm run build` and
// an installed package run) against the
// TypeScript sources through tsx (what a checkout being edited runs). Target: under 0.3 s.
// Usage: npx tsx bench/startup.ts [runs]   (default 7; the median is printed)
import { execa } from 'execa';
import { join } from 'node:path';
import { REPO_ROOT } from '../harness/paths.ts';
import { median } from './median.ts';

const TARGET_S = 0.3;
const runs = Number(process.argv[2] ?? 7);
const launcher = join(REPO_ROOT, 'harness', 'launcher.sh');
// The same CLI from its TypeScript sources: tsx compiles them at every start.
const cliSource = join(REPO_ROOT, 'harness', 'cli.ts');
const viaTsx = ['--import', 'tsx/esm', '--input-type=module', '-e',
  `const { main } = await import(${JSON.stringify(cliSource)}); process.exitCode = await main(['node', 'harness', ...process.argv.slice(1)]);`, '--'];

async function medianSeconds([file, ...argv]: string[], env: Record<string, string>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await execa(file!, argv, { cwd: REPO_ROOT, env, stdout: 'ignore' });
    times.push((performance.now() - started) / 1000);
  }
  return median(times);
}

await execa('npm', ['run', 'build', '--silent'], { cwd: REPO_ROOT });
console.log(`median of ${runs} starts each; target ${TARGET_S} s on compiled JavaScript`);
for (const args of [['--version'], ['list']]) {
  const compiled = await medianSeconds([launcher, ...args], { HARNESS_REQUIRE_COMPILED: '1' });
  const sources = await medianSeconds(['node', ...viaTsx, ...args], {});
  const verdict = compiled < TARGET_S ? 'ok' : 'MISSED';
  console.log(`harness ${args.join(' ').padEnd(10)} compiled ${compiled.toFixed(3)} s (${verdict})   tsx from sources ${sources.toFixed(3)} s   ratio ${(sources / compiled).toFixed(1)}x`);
}
