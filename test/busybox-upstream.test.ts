// busybox-upstream: the runtest output parser, sub-results, rotation and the cases (pure),
// then the real thing: BusyBox's own testsuite from the image's source and .config, under
// qemu-user on aarch64 and s390x (big-endian), and the same applets run natively on the
// x86_64 image in a plain chroot, outside the harness: the PASS counts must agree.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestCase } from '../harness/case.ts';
import { isaByName } from '../harness/isa.ts';
import type { CaseResult } from '../harness/results.ts';
import { runMatrix, type RunOutcome } from '../harness/run.ts';
import { expandSubResults } from '../harness/subresults.ts';
import { appletSettings, parseAppletTable } from '../harness/suites/busybox-upstream/applets.ts';
import { busyboxUpstreamSuite, RUNTEST_ENV, upstreamCases } from '../harness/suites/busybox-upstream/index.ts';
import { chooseSlice, commitUnderTest, inSlice } from '../harness/suites/busybox-upstream/rotation.ts';
import { parseRuntestOutput } from '../harness/suites/busybox-upstream/runtest-output.ts';
import { GUEST_BINDIR, patchRuntest } from '../harness/suites/busybox-upstream/testsuite.ts';
import { buildImages } from '../images/build.ts';
import { BUSYBOX_CONFIG } from '../images/busybox.ts';
import { defaultSourcesDir, SOURCES } from '../images/sources.ts';

/** Fast applets with many cases: new-style .tests files, and tr, which also has an old-style directory. */
const APPLETS = ['cut', 'uniq', 'tr'];
const ISAS = ['aarch64', 's390x'];
const BUSYBOX_SOURCE = join(defaultSourcesDir(), SOURCES.find((s) => s.name === 'busybox')!.file);

const SAMPLE = [
  '======================',
  "echo -ne '' >input",
  "echo -ne 'a\\nb\\n' | cut -c1",
  'PASS: cut-1',
  '======================',
  "echo -ne '' >input",
  "echo -ne 'x' | cut -c2",
  'FAIL: cut-2',
  '--- expected',
  '+++ actual',
  '@@ -1 +1 @@',
  '-y',
  '+x',
  'SKIPPED: cut-3',
  'UNTESTED: tr-old-style',
  'PASS: cut-1',
  '',
].join('\n');

function jobResult(stdout: string, attempt: Partial<CaseResult['attempts'][number]> = {}, more: Partial<CaseResult> = {}): CaseResult {
  return {
    suite: 'busybox-upstream', case: 'cut', isa: 's390x', image: 'built', imageDigest: 'sha256:0', verdict: 'failed', flaky: false,
    attempts: [{ exitCode: 1, signal: null, timedOut: false, durationMs: 1000, stdout, stderr: 'err', ...attempt }],
    startedAt: '2026-12-01T00:00:00.000Z', durationMs: 1000, ...more,
  };
}

const jobCase: TestCase = { name: 'cut', suite: 'busybox-upstream', argv: ['/bin/sh'], expect: {}, subResults: 'busybox-runtest' };

describe('busybox-upstream: runtest output, sub-results, rotation, cases', () => {
  it('reads every PASS/FAIL/SKIPPED/UNTESTED line, a failure with its diff', () => {
    const parsed = parseRuntestOutput(SAMPLE);
    expect(parsed.map((p) => [p.name, p.verdict])).toEqual([['cut-1', 'passed'], ['cut-2', 'failed'], ['cut-3', 'skipped'], ['tr-old-style', 'skipped'], ['cut-1', 'passed']]);
    expect(parsed[1]!.message).toBe('FAIL: cut-2\n--- expected\n+++ actual\n@@ -1 +1 @@\n-y\n+x');
    expect(parsed[1]!.output).toContain("echo -ne 'x' | cut -c2\nFAIL: cut-2\n--- expected");
    expect(parsed[0]!.output).not.toContain('FAIL');
  });

  it('turns one job into one result per upstream case, named <applet>: <case>, repeated names made unique', () => {
    const results = expandSubResults(jobCase, jobResult(SAMPLE));
    expect(results.map((r) => [r.case, r.verdict])).toEqual([
      ['cut: cut-1', 'passed'], ['cut: cut-2', 'failed'], ['cut: cut-3', 'skipped'], ['cut: tr-old-style', 'skipped'], ['cut: cut-1 (2)', 'passed'],
    ]);
    expect(results[1]!.message).toMatch(/^FAIL: cut-2\n--- expected/);
    expect(results[1]!.attempts[0]!.stderr).toBe('err');
    expect(results[0]!.attempts[0]!.stderr).toBe('');
    expect(results.reduce((sum, r) => sum + r.durationMs, 0)).toBeCloseTo(1000);
  });

  it('reports the job itself when it timed out, died, or exited non-zero with nothing failing; skips one that checked nothing', () => {
    const timedOut = expandSubResults(jobCase, jobResult('PASS: a\n', { timedOut: true, exitCode: null, signal: 'SIGKILL' }, { message: 'timed out after 300.0 s (whole process tree killed)' }));
    expect(timedOut.map((r) => [r.case, r.verdict])).toEqual([['cut: a', 'passed'], ['cut', 'failed']]);
    expect(timedOut[1]!.message).toBe('timed out after 300.0 s (whole process tree killed); 1 result(s) were reported before');
    const crashed = expandSubResults(jobCase, jobResult('PASS: a\n', { exitCode: 2 }));
    expect(crashed.at(-1)).toMatchObject({ case: 'cut', verdict: 'failed', message: 'exited 2 though no sub-case failed; see its output' });
    expect(expandSubResults(jobCase, jobResult('', { exitCode: 0 }))).toMatchObject([{ case: 'cut', verdict: 'skipped', message: 'ran no case: it reported no result and exited 0' }]);
    expect(expandSubResults(jobCase, jobResult('', { exitCode: 1 }))).toMatchObject([{ case: 'cut', verdict: 'failed' }]);
  });

  it('marks a case flaky when it failed in an earlier attempt and passed in the last', () => {
    const result = jobResult('PASS: a\nPASS: b\n', { exitCode: 0 }, { verdict: 'passed', flaky: true });
    result.attempts.unshift({ ...result.attempts[0]!, stdout: 'PASS: a\nFAIL: b\n', exitCode: 1 });
    expect(expandSubResults(jobCase, result).map((r) => [r.case, r.flaky])).toEqual([['cut: a', false], ['cut: b', true]]);
  });

  it('rotates deterministically by date or commit, every applet in exactly one slice', () => {
    const day = new Date('2026-12-01T12:00:00Z');
    const byDate = chooseSlice(4, 'date', day, undefined);
    expect(byDate).toMatchObject({ slices: 4, by: 'date', chosenBy: 'date 2026-12-01' });
    expect(chooseSlice(4, 'date', new Date('2026-12-01T23:59:00Z'), undefined).index).toBe(byDate.index);
    expect(chooseSlice(4, 'date', new Date('2026-12-02T00:01:00Z'), undefined).index).toBe((byDate.index + 1) % 4);
    expect(chooseSlice(4, 'commit', day, 'deadbeef00')).toMatchObject({ index: 0xdeadbeef % 4, chosenBy: 'commit deadbeef00' });
    expect(chooseSlice(4, 'commit', day, undefined).chosenBy).toMatch(/^date 2026-12-01 \(no commit in GITHUB_SHA/);
    expect(commitUnderTest({ GITHUB_SHA: 'ABCDEF1234' })).toBe('abcdef1234');
    const items = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const slices = [0, 1, 2, 3].map((index) => inSlice(items, { slices: 4, index }));
    expect(slices.flatMap((s) => [...s]).sort()).toEqual(items);
  });

  it('makes one case per applet, heaviest first, compiled-out applets and the source lint skipped with the reason', async () => {
    const { defaults, applets } = await appletSettings();
    const cases = upstreamCases({ layer: '/layer', applets: ['all_sourcecode', 'bc', 'cut', 'zz'] }, ['bc', 'cut'], applets, defaults);
    expect(cases.map((c) => c.name)).toEqual(['bc', 'all_sourcecode', 'cut', 'zz']);
    expect(cases[0]).toMatchObject({ argv: ['/bin/sh', './runtest', '-v', 'bc'], cwd: `${GUEST_BINDIR}/testsuite`, env: RUNTEST_ENV, layers: ['/layer'], subResults: 'busybox-runtest', timeoutSeconds: 1200 });
    expect(cases[1]!.skip).toMatch(/source tree/);
    expect(cases[3]!.skip).toBe("the image's BusyBox has no zz applet (compiled out)");
    expect(() => parseAppletTable('defaults: {}\n', 'a.yaml')).toThrow('a.yaml: defaults.timeout: required (e.g. 60s)');
    expect(() => parseAppletTable('defaults: { timeout: 1m }\napplets: { bc: { timout: 1m } }\n', 'a.yaml')).toThrow('a.yaml: applets.bc.timout: unknown key');
  });

  it("skips runtest's per-run linking of every applet when the layer ships the links, and changes nothing else", () => {
    const block = 'rm -rf "$LINKSDIR" 2>/dev/null\n\nmkdir "$LINKSDIR" 2>/dev/null\nfor i in $implemented; do\n\tln -s "$bindir/busybox" "$LINKSDIR/$i" 2>/dev/null\ndone';
    const runtest = `LINKSDIR="$bindir/runtest-tempdir-links"\n${block}\n\nexport OPTIONFLAGS=x\n`;
    expect(patchRuntest(runtest)).toBe(`LINKSDIR="$bindir/runtest-tempdir-links"\nif [ ! -e "$LINKSDIR/.staged-by-harness" ]; then # links staged by the harness\n${block}\nfi\n\nexport OPTIONFLAGS=x\n`);
    expect(patchRuntest('echo other runtest\n')).toBe('echo other runtest\n');
  });

  it("skips an external image whose BusyBox source is not at hand, naming the version and where it looked", async () => {
    const cases = await busyboxUpstreamSuite.cases({
      isa: isaByName('aarch64'),
      image: { ref: 'alpine', digest: 'sha256:0', rootfs: '/nowhere', applets: ['cut'], defaultCmd: ['/bin/sh'], busyboxVersion: '1.36.1' },
      settings: {},
    });
    expect(cases).toHaveLength(1);
    expect(cases[0]!.skip).toMatch(/^the source of BusyBox 1\.36\.1 \(the image's banner\) is not at hand: looked for .*busybox-1\.36\.1\.tar\.bz2/);
  });
});

const isRoot = process.getuid?.() === 0;
const realSkip = !isRoot ? 'needs root (namespaces, binfmt)' : !existsSync(BUSYBOX_SOURCE) ? `${BUSYBOX_SOURCE} is absent (harness setup fetches it)` : '';
if (realSkip) console.warn(`busybox-upstream.test: real runs skipped: ${realSkip}`);

describe.skipIf(realSkip)('busybox-upstream under qemu-user, against a native run of the same testsuite and .config', () => {
  let scratch: string;
  let outcome: RunOutcome;
  let nativePass: Map<string, number>;

  /** The applets' PASS counts from runtest in a plain chroot of the x86_64 image, outside the harness. */
  async function nativeRun(): Promise<Map<string, number>> {
    // Built here when no test before this one did (a cold cache runs the files in any order).
    const image = (await buildImages({ arches: [isaByName('x86_64')] })).images.x86_64!;
    const root = join(scratch, 'native-root');
    await mkdir(root);
    await execa('tar', ['-xzf', image.rootfsTarGz, '-C', root]);
    const bindir = join(root, GUEST_BINDIR);
    await mkdir(join(bindir, 'testsuite'), { recursive: true });
    await execa('tar', ['-xjf', BUSYBOX_SOURCE, '-C', join(bindir, 'testsuite'), '--strip-components=2', '--wildcards', '*/testsuite/*']);
    await copyFile(BUSYBOX_CONFIG, join(bindir, '.config'));
    await symlink('/bin/busybox', join(bindir, 'busybox'));
    const counts = new Map<string, number>();
    for (const applet of APPLETS) {
      const script = `mount -t proc proc '${root}/proc' && mount --rbind /dev '${root}/dev' && exec chroot '${root}' /bin/sh -c 'cd ${GUEST_BINDIR}/testsuite && exec ./runtest ${applet}'`;
      const run = await execa('unshare', ['--mount', '--pid', '--fork', 'sh', '-c', script], { env: RUNTEST_ENV, reject: false });
      counts.set(applet, run.stdout.split('\n').filter((line) => line.startsWith('PASS: ')).length);
    }
    return counts;
  }

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'busybox-upstream-test-'));
    const matrix = join(scratch, 'upstream.yaml');
    await writeFile(matrix, [
      `arches: [${ISAS.join(', ')}]`,
      'images: [built]',
      'suites:',
      `  busybox-upstream: { applets: [${APPLETS.join(', ')}] }`,
      'retries: 0',
    ].join('\n'));
    [outcome, nativePass] = await Promise.all([
      runMatrix({ matrixPath: matrix, junitPath: join(scratch, 'junit.xml'), jsonPath: join(scratch, 'results.json'), progress: 'quiet' }),
      nativeRun(),
    ]);
  });

  afterAll(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('passes as many upstream cases per applet on each ISA as the native x86_64 run, and fails none', () => {
    const results = outcome.results.results.filter((r) => r.suite === 'busybox-upstream');
    expect(results.filter((r) => r.verdict === 'failed').map((r) => `${r.isa} ${r.case}: ${r.message}`)).toEqual([]);
    for (const applet of APPLETS) expect(nativePass.get(applet), applet).toBeGreaterThan(0);
    for (const isa of ISAS) {
      const passed = (applet: string) => results.filter((r) => r.isa === isa && r.verdict === 'passed' && r.case.startsWith(`${applet}: `)).length;
      expect(Object.fromEntries(APPLETS.map((a) => [a, passed(a)])), isa).toEqual(Object.fromEntries(nativePass));
    }
    expect(outcome.exitCode).toBe(0);
  });

  it("runs an image not built here from the source its banner names and the .config given, natively on x86_64", async () => {
    const sources = join(scratch, 'sources');
    await mkdir(sources);
    await copyFile(BUSYBOX_SOURCE, join(sources, 'busybox-1.35.0.tar.bz2'));
    const matrix = join(scratch, 'external.yaml');
    await writeFile(matrix, [
      'arches: [x86_64]',
      `images: [{ name: copy, directory: '${join(scratch, 'native-root')}' }]`,
      'suites:',
      `  busybox-upstream: { applets: [cut], sources: '${sources}', config: '${BUSYBOX_CONFIG}' }`,
    ].join('\n'));
    const external = await runMatrix({ matrixPath: matrix, junitPath: join(scratch, 'ext', 'junit.xml'), jsonPath: join(scratch, 'ext', 'results.json'), progress: 'quiet' });
    const cut = external.results.results.filter((r) => r.suite === 'busybox-upstream');
    expect(cut.filter((r) => r.verdict === 'passed').length).toBe(nativePass.get('cut'));
    expect(cut.filter((r) => r.verdict !== 'passed')).toEqual([]);
  });

  it('reports one JUnit testcase per upstream case, classname busybox-upstream.<isa>', async () => {
    const xml = await readFile(outcome.junitPath, 'utf8');
    expect(xml).toContain('classname="busybox-upstream.s390x" name="cut: cut-cuts-a-character"');
    expect(xml).toContain('classname="busybox-upstream.aarch64" name="tr: tr-works"');
    const total = [...nativePass.values()].reduce((a, b) => a + b, 0);
    expect((xml.match(/classname="busybox-upstream\.s390x"/g) ?? []).length).toBeGreaterThanOrEqual(total);
  });
});
