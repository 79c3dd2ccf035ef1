// Release qualification, diff and the reports on real runs: the built images of three ISAs
// (64-bit LE, 32-bit ARM, 64-bit BE) copied into directories the test can plant bugs in, the
// sort cases of the busybox suite run for real under qemu-user through the CLI. A baseline;
// an equal re-run (QUALIFIED); a sort broken on s390x only (NOT QUALIFIED, names it); a sort
// that fails its first attempt on armv7 (flaky: NOT QUALIFIED); bad baselines (exit 2). The
// regression's HTML report is opened in Debian's chromium with the network off.
import { cp, mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { existsSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isaByName } from '../harness/isa.ts';
import { REPO_ROOT } from '../harness/paths.ts';
import { markdownReport } from '../harness/report/markdown.ts';
import { verdictGrid, gridKey } from '../harness/report/verdicts.ts';
import type { CaseResult, RunResults } from '../harness/results.ts';
import { prepareRun, runMatrix } from '../harness/run.ts';
import { buildImages } from '../images/build.ts';

const ISAS = ['aarch64', 'armv7', 's390x'];
const IS_ROOT = process.getuid?.() === 0;
const rootReason = IS_ROOT ? '' : 'needs root (binfmt, namespaces)';
const CHROMIUM = '/usr/bin/chromium';
const browserReason = existsSync(CHROMIUM) ? '' : `${CHROMIUM} is absent (apt-get install chromium, or harness setup)`;
if (rootReason) console.warn(`qualify tests skipped: ${rootReason}`);
if (browserReason) console.warn(`qualify browser test skipped: ${browserReason}`);
const ARTIFACTS = join(REPO_ROOT, 'reports', 'artifacts');

let scratch: string;
let matrix: string;
/** The real sort of each ISA's copied rootfs, to restore after a planted bug. */
const sortPath: Record<string, string> = {};

interface Cli {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}
async function harness(args: string[]): Promise<Cli> {
  const { exitCode, stdout, stderr } = await execa('node', [join(REPO_ROOT, 'harness', 'bin.mjs'), ...args], { reject: false, env: { CI: 'true', GITHUB_STEP_SUMMARY: '' } });
  return { exitCode, stdout: String(stdout), stderr: String(stderr) };
}

/** A run of the test matrix's sort cases through `harness qualify`, into scratch/<name>/. */
function qualify(name: string, extra: string[]): Promise<Cli> {
  const dir = join(scratch, name);
  return harness(['qualify', matrix, '--grep', 'sort', '--junit', join(dir, 'junit.xml'), '--json', join(dir, 'results.json'), ...extra]);
}

/** Replaces `sort` in one ISA's rootfs with a script (the others keep BusyBox's applet link). */
async function plantSort(isa: string, script: string): Promise<void> {
  await unlink(sortPath[isa] as string);
  await writeFile(sortPath[isa] as string, script, { mode: 0o755 });
}
async function restoreSort(isa: string): Promise<void> {
  await unlink(sortPath[isa] as string);
  await cp(join(scratch, `sort-link-${isa}`), sortPath[isa] as string, { verbatimSymlinks: true });
}

async function results(name: string): Promise<RunResults> {
  return JSON.parse(await readFile(join(scratch, name, 'results.json'), 'utf8')) as RunResults;
}

beforeAll(async () => {
  if (rootReason) return;
  scratch = await mkdtemp(join(tmpdir(), 'qualify-test-'));
  await buildImages({ arches: ISAS.map(isaByName) });
  for (const isa of ISAS) {
    const probe = join(scratch, `src-${isa}.yaml`);
    await writeFile(probe, `arches: [${isa}]\nimages: [built]\nsuites: { image: {} }\n`);
    const source = (await prepareRun({ matrixPath: probe, build: false })).images.get(`built/${isa}`)!.facts.rootfs;
    const root = join(scratch, `rootfs-${isa}`);
    await cp(source, root, { recursive: true, verbatimSymlinks: true });
    sortPath[isa] = [join(root, 'usr', 'bin', 'sort'), join(root, 'bin', 'sort')].find((path) => lstatSync(path, { throwIfNoEntry: false }))!;
    await cp(sortPath[isa]!, join(scratch, `sort-link-${isa}`), { verbatimSymlinks: true });
  }
  matrix = join(scratch, 'qualify.yaml');
  await writeFile(matrix, [
    'name: qualify-test',
    `arches: [${ISAS.join(', ')}]`,
    'images:',
    `  - { name: planted, directory: '${join(scratch, 'rootfs-{arch}')}' }`,
    'suites: { busybox: {} }',
    'retries: 2',
  ].join('\n'));
  // The baseline: a plain run of the same matrix.
  await runMatrix({ matrixPath: matrix, filters: { grep: 'sort' }, junitPath: join(scratch, 'base', 'junit.xml'), jsonPath: join(scratch, 'base', 'results.json'), progress: 'quiet' });
}, 600_000);

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe.skipIf(rootReason)('harness qualify on real runs', () => {
  it('the baseline ran every sort case on every ISA and passed', async () => {
    const base = await results('base');
    for (const isa of ISAS) expect(base.results.filter((r) => r.isa === isa && r.verdict === 'passed').length, isa).toBeGreaterThanOrEqual(3);
    expect(base.results.filter((r) => r.verdict !== 'passed' && r.verdict !== 'skipped')).toEqual([]);
  });

  it('an equal re-run against the baseline is QUALIFIED, exit 0, and writes the HTML beside the JUnit', async () => {
    const run = await qualify('equal', ['--baseline', join(scratch, 'base'), '--quiet']);
    expect(run.stdout).toMatch(/^QUALIFIED against baseline /m);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(existsSync(join(scratch, 'equal', 'report.html'))).toBe(true);
  });

  it('a sort broken on s390x only is NOT QUALIFIED, naming the case and the ISA, exit 1', async () => {
    await plantSort('s390x', '#!/bin/sh\n/bin/busybox sort "$@" | /bin/busybox tac\n');
    const run = await qualify('regression', ['--baseline', join(scratch, 'base', 'results.json')]).finally(() => restoreSort('s390x'));
    expect(run.exitCode, run.stderr).toBe(1);
    expect(run.stdout).toMatch(/^NOT QUALIFIED \(\d+ reasons?\) against baseline /m);
    expect(run.stdout).toMatch(/^ {2}regression: s390x busybox\/sort numeric, reverse, unique \[planted\]: passed -> failed: /m);
    expect(run.stdout).not.toMatch(/regression: (aarch64|armv7) /);
    // The terminal: a FAIL line with the ISA and the diff's first lines, then what failed across ISAs.
    expect(run.stderr).toMatch(/^FAIL s390x busybox\/sort numeric, reverse, unique \[planted\]: .*\n {4}.*\n {4}(---|\+\+\+|@@|-|\+)/m);
    expect(run.stdout).toMatch(/^what failed \(\d+ cases?\):\n {2}busybox\/sort .*\[planted\]: s390x \(oracle: differs from 2 ISAs\)/m);
    const regression = await results('regression');
    expect(regression.results.find((r) => r.verdict === 'failed')?.spec?.argv).toBeDefined();
  });

  it('a case that passes only on a retry is flaky and fails qualification', async () => {
    // Every sort on armv7 fails until `until`, sleeping until then: first attempts fail, retries pass.
    const until = Math.floor(Date.now() / 1000) + 20;
    await plantSort('armv7', [
      '#!/bin/sh',
      'now=$(/bin/busybox date +%s)',
      `if [ "$now" -lt ${until} ]; then /bin/busybox sleep $((${until} - now)); echo planted flake >&2; exit 70; fi`,
      'exec /bin/busybox sort "$@"',
      '',
    ].join('\n'));
    const run = await qualify('flaky', ['--baseline', join(scratch, 'base'), '--quiet']).finally(() => restoreSort('armv7'));
    const flaky = (await results('flaky')).results.filter((r) => r.flaky);
    expect(flaky.length).toBeGreaterThan(0);
    expect(flaky.every((r) => r.isa === 'armv7' && r.verdict === 'passed' && r.attempts.length > 1)).toBe(true);
    expect(run.stdout).toMatch(/^ {2}flaky: armv7 busybox\/sort .* passed after \d attempts \(a retry is not a pass\)$/m);
    expect(run.stdout).toMatch(/^NOT QUALIFIED/m);
    expect(run.exitCode).toBe(1);
  });

  it('--against qualifies an existing run, and harness diff shows the same regression as a table and as JSON', async () => {
    const against = await harness(['qualify', '--against', join(scratch, 'regression'), '--baseline', join(scratch, 'base')]);
    expect(against.exitCode).toBe(1);
    expect(against.stdout).toMatch(/regression: s390x busybox\/sort numeric/);
    const table = await harness(['diff', join(scratch, 'base'), join(scratch, 'regression', 'results.json')]);
    expect(table.exitCode).toBe(1);
    expect(table.stdout).toMatch(/^s390x +busybox +[1-9]/m);
    const json = JSON.parse((await harness(['diff', join(scratch, 'base'), join(scratch, 'regression'), '--json'])).stdout);
    const regressions = json.groups.flatMap((g: { changes: { regressions: CaseResult[] } }) => g.changes.regressions);
    expect(regressions.length).toBeGreaterThan(0);
    expect(new Set(regressions.map((r: CaseResult) => r.isa))).toEqual(new Set(['s390x']));
    expect((await harness(['diff', join(scratch, 'base'), join(scratch, 'equal')])).exitCode).toBe(0);
  });

  it('bad baselines exit 2 with one line naming the file, before anything runs', async () => {
    const other = join(scratch, 'other.yaml');
    await writeFile(other, `name: other\narches: [aarch64]\nimages:\n  - { name: planted, directory: '${join(scratch, 'rootfs-{arch}')}' }\nsuites: { busybox: {} }\n`);
    await runMatrix({ matrixPath: other, filters: { grep: 'sort check' }, junitPath: join(scratch, 'other', 'junit.xml'), jsonPath: join(scratch, 'other', 'results.json'), progress: 'quiet' });
    const cases: Array<[string, RegExp]> = [
      [join(scratch, 'other', 'results.json'), /^harness: .*other\/results\.json: a run of matrix 'other', not 'qualify-test'; pass a baseline run of the same matrix$/],
      [join(scratch, 'absent.json'), /^harness: cannot read results .*absent\.json \(ENOENT\)/],
      [join(scratch, 'base', 'junit.xml'), /^harness: .*base\/junit\.xml: not valid JSON/],
    ];
    for (const [baseline, message] of cases) {
      const run = await qualify('never', ['--baseline', baseline, '--quiet']);
      expect(run.exitCode, baseline).toBe(2);
      expect(run.stderr).toMatch(message);
      expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(existsSync(join(scratch, 'never'))).toBe(false);
    }
  });

  it('the Markdown summary of the regression puts what failed first and fits 64 KB', async () => {
    const md = markdownReport(await results('regression'));
    expect(Buffer.byteLength(md)).toBeLessThanOrEqual(64 * 1024);
    expect(md.indexOf('### What failed')).toBeGreaterThan(0);
    expect(md.indexOf('### What failed')).toBeLessThan(md.indexOf('### ISA × suite'));
    expect(md).toMatch(/busybox\/sort .*s390x/);
  });

  describe.skipIf(browserReason)('the HTML report in headless chromium', () => {
    let browser: BrowserContext;
    let profile: string;
    beforeAll(async () => {
      // A fresh profile, offline: the page must need no network.
      profile = await mkdtemp(join(tmpdir(), 'chromium-profile-'));
      browser = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        offline: true,
        viewport: { width: 1280, height: 900 },
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
    });
    afterAll(async () => {
      await browser?.close();
      if (profile) await rm(profile, { recursive: true, force: true });
    });

    it('opens offline, every grid number matches results.json, a failing case shows its diff, and a screenshot is kept', async () => {
      const run = await results('regression');
      const context = browser;
      const requests: string[] = [];
      context.on('request', (request) => requests.push(request.url()));
      const errors: string[] = [];
      const page = await context.newPage();
      page.on('pageerror', (error) => errors.push(error.message));
      const url = `file://${join(scratch, 'regression', 'report.html')}`;
      await page.goto(url);

      // Every cell, every count in it, and the totals, against results.json.
      const grid = verdictGrid(run.results);
      const cells = await page.$$eval('td.cell', (tds) => tds.map((td) => ({
        isa: (td as HTMLElement).dataset.isa!, suite: (td as HTMLElement).dataset.suite!,
        total: Number(td.querySelector('[data-count="total"]')!.textContent),
        verdicts: Object.fromEntries([...td.querySelectorAll('[data-verdict]')].map((v) => [(v as HTMLElement).dataset.verdict!, Number((v as HTMLElement).dataset.count)])),
        shown: Object.fromEntries([...td.querySelectorAll('[data-verdict]')].map((v) => [(v as HTMLElement).dataset.verdict!, Number.parseInt(v.textContent!, 10)])),
      })));
      expect(cells.length).toBe(Object.keys(grid.cells).length);
      for (const cell of cells) {
        const expected = run.results.filter((r) => r.isa === cell.isa && r.suite === cell.suite);
        const byVerdict: Record<string, number> = {};
        for (const r of expected) byVerdict[r.verdict] = (byVerdict[r.verdict] ?? 0) + 1;
        expect(cell.total, `${cell.isa} ${cell.suite}`).toBe(expected.length);
        expect(cell.verdicts).toEqual(byVerdict);
        expect(cell.shown).toEqual(byVerdict);
        expect(grid.cells[gridKey(cell.isa, cell.suite)]?.total).toBe(expected.length);
      }
      const totals = await page.$$eval('[data-total-verdict]', (spans) => spans.map((s) => [(s as HTMLElement).dataset.totalVerdict!, Number.parseInt(s.textContent!, 10)]));
      for (const [verdict, count] of totals) expect(count, verdict as string).toBe(run.results.filter((r) => r.verdict === verdict).length);

      // The regression is listed first among the changes; the failing case opens to its diff.
      expect(await page.locator('.changes h3').first().textContent()).toMatch(/^regressions/);
      expect(await page.locator('li[data-kind="regressions"]').first().textContent()).toMatch(/^s390x busybox\/sort/);
      const failing = page.locator('#case-list details[data-isa="s390x"][data-case="sort numeric, reverse, unique"]');
      await failing.locator('summary').click();
      const diff = failing.locator('pre.diff');
      await expect.poll(() => diff.count()).toBe(1);
      expect(await diff.locator('span.del').count()).toBeGreaterThan(0);
      expect(await diff.locator('span.add').count()).toBeGreaterThan(0);
      expect(await diff.textContent()).toMatch(/cross-ISA oracle: output on s390x differs from aarch64, armv7/);
      expect(await failing.locator('h4', { hasText: 'command' }).count()).toBe(1);
      expect(await failing.locator('h4', { hasText: 'expected stdout' }).count()).toBe(1);

      // Filters: every armv7 case, from the embedded JSON.
      await page.selectOption('#f-isa', 'armv7');
      await page.selectOption('#f-verdict', '');
      const armv7 = run.results.filter((r) => r.isa === 'armv7').length;
      await expect.poll(() => page.locator('#case-count').textContent()).toBe(`${armv7} matching cases`);
      expect(await page.locator('#case-list details').count()).toBe(armv7);
      await page.selectOption('#f-isa', 's390x');
      await page.selectOption('#f-verdict', ':failing');
      await failing.locator('summary').click();

      await mkdir(ARTIFACTS, { recursive: true });
      const shot = join(ARTIFACTS, 'qualify-regression-report.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(lstatSync(shot).size).toBeGreaterThan(10_000);
      expect(errors).toEqual([]);
      expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
    });
  });
});
