// Benchmark (not a test): `harness report` and `harness diff` on two default-matrix runs, and
// the HTML page of a 10,000-case run opened in headless chromium.
//
//   npx tsx bench/report.ts [OLD NEW]     (results.json files or run directories)
//
// Without OLD and NEW it makes them: the default matrix run twice for real (images built
// first, as `harness run` does), into a temp dir. Each command is timed end to end as a user
// runs it (a fresh `harness` process, through launcher.sh as installed); `harness --version` is timed beside them
// as the floor every command pays (Node start and loading the CLI). The 10,000-case page
// repeats NEW's real records under more image names (it is their count that matters to the
// page); its first paint is read from the browser's own paint timing.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { chromium } from 'playwright-core';
import { REPO_ROOT } from '../harness/paths.ts';
import { compareRuns } from '../harness/diff.ts';
import { writeHtmlReport } from '../harness/report/html.ts';
import { loadRun } from '../harness/report/load.ts';
import { markdownReport } from '../harness/report/markdown.ts';
import type { RunResults } from '../harness/results.ts';
import { DEFAULT_MATRIX, runMatrix } from '../harness/run.ts';
import { median } from './median.ts';

const TARGET_SECONDS = 2;
const PAGE_CASES = 10_000;
const CHROMIUM = '/usr/bin/chromium';
const LAUNCHER = join(REPO_ROOT, 'harness', 'launcher.sh');

async function timed(args: string[]): Promise<number> {
  const started = process.hrtime.bigint();
  const result = await execa(LAUNCHER, args, { reject: false, stdout: 'ignore', env: { GITHUB_STEP_SUMMARY: '' } });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.exitCode !== 0 && result.exitCode !== 1) throw new Error(`harness ${args.join(' ')}: exit ${result.exitCode}: ${result.stderr}`);
  return seconds;
}

/** The median of three runs: one slow start of a loaded machine should not decide. */
async function medianOfThree(args: string[]): Promise<number> {
  return median([await timed(args), await timed(args), await timed(args)]);
}

/** NEW's records repeated under image names built, built~2, ... until there are `count`. */
function scaled(run: RunResults, count: number): RunResults {
  const results = [];
  for (let copy = 1; results.length < count; copy++) {
    for (const r of run.results) {
      if (results.length >= count) break;
      results.push(copy === 1 ? r : { ...r, image: `${r.image}~${copy}` });
    }
  }
  return { ...run, results };
}

async function firstPaint(page: string): Promise<{ fcpMs: number; domContentLoadedMs: number; filterMs: number }> {
  const profile = await mkdtemp(join(tmpdir(), 'bench-chromium-'));
  // A fresh profile per launch; offline: the page must need no network.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    offline: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const tab = await context.newPage();
    await tab.goto(`file://${page}`, { waitUntil: 'load' });
    const timing = await tab.evaluate(() => {
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
      return { fcpMs: fcp ? fcp.startTime : NaN, domContentLoadedMs: nav.domContentLoadedEventEnd };
    });
    // The first filter change parses the embedded JSON and draws the list.
    const filterMs = await tab.evaluate(async () => {
      const started = performance.now();
      const select = document.getElementById('f-verdict') as HTMLSelectElement;
      select.value = '';
      select.dispatchEvent(new Event('change'));
      await new Promise((resolve) => requestAnimationFrame(() => resolve(undefined)));
      return performance.now() - started;
    });
    return { ...timing, filterMs };
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
}

const scratch = await mkdtemp(join(tmpdir(), 'bench-report-'));
try {
  let [oldPath, newPath] = process.argv.slice(2);
  if (!oldPath || !newPath) {
    console.log('running the default matrix twice (real runs) ...');
    for (const name of ['old', 'new']) {
      const started = Date.now();
      const outcome = await runMatrix({ matrixPath: DEFAULT_MATRIX, junitPath: join(scratch, name, 'junit.xml'), jsonPath: join(scratch, name, 'results.json'), progress: 'quiet' });
      console.log(`  ${name}: ${outcome.results.results.length} cases in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
    [oldPath, newPath] = [join(scratch, 'old'), join(scratch, 'new')];
  }
  const [oldRun, newRun] = [await loadRun([oldPath]), await loadRun([newPath])];
  console.log(`old: ${oldRun.results.length} cases, new: ${newRun.results.length} cases${Math.min(oldRun.results.length, newRun.results.length) < 4000 ? ' (fewer than 4,000: not a default-matrix-sized run)' : ''}`);

  const floor = await medianOfThree(['--version']);
  const report = await medianOfThree(['report', newPath, '--baseline', oldPath, '--html', join(scratch, 'report.html'), '--markdown', join(scratch, 'report.md')]);
  const diff = await medianOfThree(['diff', oldPath, newPath, '--json']);
  const verdict = (s: number) => (s < TARGET_SECONDS ? 'ok' : 'OVER');
  console.log(`harness --version (the floor of every command): ${floor.toFixed(2)} s`);
  console.log(`harness report NEW --baseline OLD --html --markdown: ${report.toFixed(2)} s (target < ${TARGET_SECONDS} s: ${verdict(report)}; ${(report / floor).toFixed(2)}x the floor)`);
  console.log(`harness diff OLD NEW --json: ${diff.toFixed(2)} s (target < ${TARGET_SECONDS} s: ${verdict(diff)}; ${(diff / floor).toFixed(2)}x the floor)`);
  // The same work inside one process, without Node's start and the CLI's module loading.
  const inProcess = async (work: () => Promise<unknown>) => {
    const started = process.hrtime.bigint();
    await work();
    return Number(process.hrtime.bigint() - started) / 1e9;
  };
  const reportWork = await inProcess(async () => {
    const [o, n] = await Promise.all([loadRun([oldPath!]), loadRun([newPath!])]);
    const comparison = compareRuns(o, n);
    await writeHtmlReport(n, join(scratch, 'in-process.html'), { comparison });
    await writeFile(join(scratch, 'in-process.md'), markdownReport(n, { comparison }));
  });
  const diffWork = await inProcess(async () => {
    const [o, n] = await Promise.all([loadRun([oldPath!]), loadRun([newPath!])]);
    JSON.stringify(compareRuns(o, n));
  });
  console.log(`in one process (load both runs, compare, render, write): report ${reportWork.toFixed(2)} s, diff ${diffWork.toFixed(2)} s`);
  console.log(`HTML ${((await stat(join(scratch, 'report.html'))).size / 1e6).toFixed(2)} MB, Markdown ${((await stat(join(scratch, 'report.md'))).size / 1024).toFixed(1)} KiB`);

  const big = scaled(newRun, PAGE_CASES);
  const page = join(scratch, 'report-10k.html');
  await writeHtmlReport(big, page);
  if (existsSync(CHROMIUM)) {
    const paint = await firstPaint(page);
    console.log(`HTML page of ${big.results.length} cases (${((await stat(page)).size / 1e6).toFixed(2)} MB) in headless chromium: first contentful paint ${paint.fcpMs.toFixed(0)} ms, DOMContentLoaded ${paint.domContentLoadedMs.toFixed(0)} ms, first filter over all cases ${paint.filterMs.toFixed(0)} ms`);
  } else {
    console.log(`${CHROMIUM} is absent: the page's first paint was not measured`);
  }
} finally {
  await rm(scratch, { recursive: true, force: true });
}
