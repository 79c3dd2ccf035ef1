// The busybox suite: its data loads and validates with file:line errors, covers >= 100
// applets, and every case passes for real in the sandbox over Alpine 3.20.3 (x86_64
// natively, aarch64 under qemu via binfmt) and over the project's own built images when cached.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import PQueue from 'p-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HarnessError } from '../harness/errors.ts';
import { ensureHandlers } from '../harness/host/binfmt.ts';
import { type Isa, isaByName } from '../harness/isa.ts';
import { caseFailure } from '../harness/run-case.ts';
import { runInSandbox } from '../harness/sandbox/index.ts';
import { appletsCovered, busyboxCases, busyboxRows, busyboxSuite } from '../harness/suites/busybox/index.ts';
import { helpCaseName } from '../harness/suites/busybox/help.ts';
import { parseRows } from '../harness/suites/busybox/rows.ts';
import { imageForTest } from './built-images.ts';

const ALPINE_DIR = '/work/shared/alpine-minirootfs/3.20.3';
const ISA_NAMES = ['x86_64', 'aarch64'];

describe('cases.yaml validation', () => {
  const bad = (text: string) => () => parseRows(text, 'rows.yaml', { requireApplets: true });

  it('names file:line and field of a bad row', () => {
    const text = '- name: ok\n  applet: echo\n  cmd: echo hi\n  stdout: "hi\\n"\n- name: no expectation\n  applet: echo\n  cmd: echo hi\n';
    expect(bad(text)).toThrow(HarnessError);
    expect(bad(text)).toThrow(/^rows\.yaml:5: 'stdout' \(row 'no expectation'\) or 'stdout_matches' is required/);
  });

  it('rejects unknown fields, bad types, bad regexes, repeated names and broken YAML', () => {
    expect(bad('- name: a\n  applet: echo\n  cmd: x\n  stdout: ""\n  stdot: y\n')).toThrow(/^rows\.yaml:5: unknown field 'stdot'/);
    expect(bad("- name: a\n  applets: [true]\n  cmd: x\n  stdout: ''\n")).toThrow(/^rows\.yaml:2: 'applets' .* must be a list of applet names/);
    expect(bad("- name: a\n  applet: echo\n  cmd: x\n  stdout_matches: '(['\n")).toThrow(/^rows\.yaml:4: 'stdout_matches' .* not a valid regular expression/);
    expect(bad("- name: a\n  applet: echo\n  cmd: x\n  stdout: ''\n  exit: 300\n")).toThrow(/^rows\.yaml:5: 'exit'/);
    expect(bad("- name: a\n  cmd: x\n  stdout: ''\n")).toThrow(/^rows\.yaml:1: 'applet' .* is required/);
    expect(bad("- name: a\n  applet: x\n  cmd: x\n  stdout: ''\n- name: a\n  applet: x\n  cmd: y\n  stdout: ''\n")).toThrow(/^rows\.yaml:5: row name 'a' repeats the row at rows\.yaml:1/);
    expect(bad('- name: a\n  cmd: [unclosed\n')).toThrow(/^rows\.yaml:\d+: invalid YAML/);
    expect(bad("- name: a\n  applet: x\n  cmd: x\n  stdout: ''\n  files: { f: { text: a, base64: b } }\n")).toThrow(/^rows\.yaml:5: 'files' .* exactly one of text or base64/);
  });

  it('loads the real rows, covering at least 100 distinct applets', () => {
    const rows = busyboxRows();
    const covered = appletsCovered(rows);
    console.log(`busybox suite: ${rows.length} functional rows covering ${covered.length} applets`);
    expect(rows.length).toBeGreaterThanOrEqual(100);
    expect(covered.length).toBeGreaterThanOrEqual(100);
    for (const applet of ['sed', 'awk', 'tar', 'gzip', 'unxz', 'unzip', 'date', 'sh', 'bc', 'sha3sum', 'timeout', 'ipcalc']) {
      expect(covered).toContain(applet);
    }
  });
});

describe('case generation', () => {
  it('emits one --help case per applet, with the exceptions as data', async () => {
    const applets = ['sed', 'echo', 'true', '[', 'sh'];
    const cases = await busyboxSuite.cases({ isa: isaByName('x86_64'), image: { ref: 't', digest: 'sha256:0', rootfs: '/nonexistent', applets, defaultCmd: ['/bin/sh'] }, settings: {} });
    const help = cases.filter((c) => c.name.startsWith('applet '));
    expect(help.map((c) => c.name)).toEqual(applets.map(helpCaseName));
    expect(help.every((c) => c.expect.anyExitCode === true && c.suite === 'busybox')).toBe(true);
    expect(help.find((c) => c.name === helpCaseName('echo'))?.expect.stdout).toBe('--help\n');
    // No shell: busybox itself, its usage (on stderr) folded into stdout by the sandbox.
    expect(help.find((c) => c.name === helpCaseName('sed'))).toMatchObject({ argv: ['busybox', 'sed', '--help'], stderrToStdout: true });
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  it('skips a row whose applet is missing, saying which', () => {
    const cases = busyboxCases(['sh', 'date'], busyboxRows());
    const xz = cases.find((c) => c.name === 'xz decompresses');
    expect(xz?.skip).toBe('applet xz not in this BusyBox build');
    expect(cases.find((c) => c.name === 'date at the epoch')?.skip).toBeUndefined();
    expect(cases.find((c) => c.name === 'tar create, list, extract')?.skip).toBe('applet tar, mkdir, cat, find, sort not in this BusyBox build');
  });
});

interface Root {
  label: string;
  isa: Isa;
  dir: string;
}

/** Extracts each rootfs archive to a temp dir; all removed in afterAll. */
async function extractRoots(archives: Array<Omit<Root, 'dir'> & { tarball: string }>, work: string): Promise<Root[]> {
  const roots: Root[] = [];
  for (const { label, isa, tarball } of archives) {
    const dir = join(work, label);
    await execa('mkdir', ['-p', dir]);
    await execa('tar', ['-xzf', tarball, '-C', dir]);
    roots.push({ label, isa, dir });
  }
  return roots;
}


async function runAllRows(root: Root): Promise<{ failures: string[]; passed: number; skipped: number }> {
  const list = await runInSandbox({ rootfs: root.dir, isa: root.isa, argv: ['/bin/busybox', '--list'], timeoutMs: 60_000 });
  const applets = list.stdout.trim().split('\n');
  expect(applets.length).toBeGreaterThan(200);
  const queue = new PQueue({ concurrency: 2 });
  const failures: string[] = [];
  let passed = 0;
  let skipped = 0;
  await Promise.all(
    busyboxCases(applets, busyboxRows()).map((testCase) =>
      queue.add(async () => {
        if (testCase.skip) {
          skipped++;
          return;
        }
        const problem = await caseFailure(testCase, { rootfs: root.dir, isa: root.isa });
        if (problem) failures.push(`${testCase.name}: ${problem}`);
        else passed++;
      }),
    ),
  );
  return { failures, passed, skipped };
}

const alpineMissing = !existsSync(ALPINE_DIR);
const notRoot = process.getuid?.() !== 0;
const skipReason = alpineMissing ? `${ALPINE_DIR} is absent` : notRoot ? 'needs root to register binfmt handlers' : '';
if (skipReason) console.log(`busybox suite real runs skipped: ${skipReason}`);

describe.skipIf(Boolean(skipReason))(`every case in the sandbox on real BusyBox (Alpine 3.20.3 and built images) ${skipReason}`, () => {
  let work = '';
  const roots: Root[] = [];

  beforeAll(async () => {
    await ensureHandlers(ISA_NAMES.map(isaByName));
    work = await mkdtemp(join(tmpdir(), 'harness-busybox-suite-'));
    const archives = ISA_NAMES.map((name) => ({ label: `alpine-${name}`, isa: isaByName(name), tarball: join(ALPINE_DIR, `alpine-minirootfs-3.20.3-${name}.tar.gz`) }));
    for (const name of ISA_NAMES) {
      const { image, why } = await imageForTest(isaByName(name));
      if (image) archives.push({ label: `built-${name}`, isa: isaByName(name), tarball: image.rootfsTarGz });
      else console.log(`busybox suite: built-${name} skipped: ${why}`);
    }
    roots.push(...(await extractRoots(archives, work)));
  });

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('passes every --help and functional case on each root', async () => {
    const summary: string[] = [];
    const failures: string[] = [];
    for (const root of roots) {
      const result = await runAllRows(root);
      summary.push(`${root.label}: ${result.passed} passed, ${result.skipped} skipped, ${result.failures.length} failed`);
      failures.push(...result.failures.map((f) => `[${root.label}] ${f}`));
    }
    console.log(`busybox suite: ${summary.join('; ')}`);
    expect(failures).toEqual([]);
    expect(roots.length).toBeGreaterThanOrEqual(2);
  });
});
