// The image suite: computed checks on synthetic rootfs trees (pure file reads), and every
// case run for real in the sandbox over Alpine 3.20.3 x86_64 and aarch64 (aarch64 under qemu).
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestCase } from '../harness/case.ts';
import { HarnessError } from '../harness/errors.ts';
import { ensureHandlers } from '../harness/host/binfmt.ts';
import { isaByName } from '../harness/isa.ts';
import { imageBusybox } from '../harness/rootfs/applets.ts';
import { caseFailure } from '../harness/run-case.ts';
import { runInSandbox } from '../harness/sandbox/index.ts';
import { appletLinkProblems, devEntries, resolveInRootfs } from '../harness/suites/image/checks.ts';
import { imageRows, imageSuite, pidOneCase, sizeBudgetCase } from '../harness/suites/image/index.ts';
import type { ImageFacts } from '../harness/suites/suite.ts';

const ALPINE_DIR = '/work/shared/alpine-minirootfs/3.20.3';
const ISA_NAMES = ['x86_64', 'aarch64'];

describe('computed image checks', () => {
  let root = '';
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'harness-image-suite-unit-'));
    for (const dir of ['bin', 'sbin', 'usr/bin', 'dev']) await mkdir(join(root, dir), { recursive: true });
    await writeFile(join(root, 'bin/busybox'), 'not really');
    await symlink('/bin/busybox', join(root, 'bin/sh'));
    await symlink('../../bin/busybox', join(root, 'usr/bin/awk'));
    await symlink('/bin/sh', join(root, 'sbin/chained'));
    await symlink('/nowhere', join(root, 'usr/bin/dangling'));
    await writeFile(join(root, 'dev/console'), '');
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('resolves absolute links inside the rootfs, not on the host', async () => {
    expect(await resolveInRootfs(root, '/usr/bin/awk')).toBe('/bin/busybox');
    expect(await resolveInRootfs(root, '/sbin/chained')).toBe('/bin/busybox');
    expect(await resolveInRootfs(root, '/usr/bin/dangling')).toBeUndefined();
  });

  it('reports links whose names are not applets, and dangling ones', async () => {
    expect(await appletLinkProblems(root, ['sh', 'awk'])).toEqual([
      "/sbin/chained: links to BusyBox but 'chained' is not an applet",
      '/usr/bin/dangling: dangling link',
    ]);
  });

  it('keeps the link findings with the applets, completing a record kept before them', async () => {
    const cacheDir = join(root, 'cache');
    await mkdir(join(cacheDir, 'applets'), { recursive: true });
    const record = join(cacheDir, 'applets', 'sha256-0-x86_64.json');
    await writeFile(record, JSON.stringify({ applets: ['sh', 'awk'], version: '1.35.0' }));
    const expected = ["/sbin/chained: links to BusyBox but 'chained' is not an applet", '/usr/bin/dangling: dangling link'];
    const image = { rootfs: root, digest: 'sha256:0' };
    expect(await imageBusybox(image, isaByName('x86_64'), 't', { cacheDir })).toEqual({ applets: ['sh', 'awk'], version: '1.35.0', linkProblems: expected });
    expect(JSON.parse(await readFile(record, 'utf8'))).toEqual({ applets: ['sh', 'awk'], version: '1.35.0', linkProblems: expected });
    // A complete record is the answer: the rootfs is not walked again (its content is fixed by the digest).
    await writeFile(record, JSON.stringify({ applets: ['sh'], linkProblems: ['kept'] }));
    expect((await imageBusybox(image, isaByName('x86_64'), 't', { cacheDir })).linkProblems).toEqual(['kept']);
    await rm(cacheDir, { recursive: true });
  });

  it('lists what the image ships in /dev', async () => {
    expect(await devEntries(root)).toEqual(['console']);
    expect(await devEntries(join(root, 'nonexistent'))).toEqual([]);
  });

  it('computes size, PID 1 and uname cases from the facts', async () => {
    expect(sizeBudgetCase(1000, 2000).argv.slice(4)).toEqual([]);
    expect(sizeBudgetCase(3 << 20, 2 << 20).argv[4]).toMatch(/^compressed rootfs is 3\.00 MiB .* over its budget of 2\.00 MiB/);
    expect(sizeBudgetCase(1000, undefined).skip).toMatch(/no sizeBudgetBytes/);
    expect(sizeBudgetCase(undefined, 5).skip).toMatch(/did not come as an archive/);
    expect(() => sizeBudgetCase(1, '5MB')).toThrow(HarnessError);
    expect(pidOneCase(['/bin/sh']).argv.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(pidOneCase(['/usr/bin/python3']).skip).toMatch(/not a bare shell/);
    expect(pidOneCase([]).skip).toMatch(/no default command/);
    const facts: ImageFacts = { ref: 't', digest: 'sha256:0', rootfs: root, applets: ['sh', 'awk', 'uname'], defaultCmd: ['/bin/sh'], compressedBytes: 10 };
    const cases = await imageSuite.cases({ isa: isaByName('armv7'), image: facts, settings: { sizeBudgetBytes: 100 } });
    const byName = new Map(cases.map((c) => [c.name, c]));
    expect(byName.get('uname -m names the ISA')?.expect.stdout).toBe('armv7l\n');
    expect(byName.get('/dev is empty in the image')?.argv.slice(4)).toEqual(['/dev/console ships in the image']);
    expect(byName.get('/bin/sh is BusyBox')?.skip).toBe('applet readlink not in this BusyBox build');
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
    expect(imageRows().length).toBeGreaterThanOrEqual(4);
  });
});

const skipReason = !existsSync(ALPINE_DIR) ? `${ALPINE_DIR} is absent` : process.getuid?.() !== 0 ? 'needs root to register binfmt handlers' : '';

if (skipReason) console.log(`image suite real runs skipped: ${skipReason}`);

describe.skipIf(Boolean(skipReason))(`image cases on Alpine 3.20.3 ${skipReason}`, () => {
  let work = '';
  beforeAll(async () => {
    await ensureHandlers(ISA_NAMES.map(isaByName));
    work = await mkdtemp(join(tmpdir(), 'harness-image-suite-'));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  for (const isaName of ISA_NAMES) {
    it(`passes every image case on ${isaName}`, async () => {
      const isa = isaByName(isaName);
      const tarball = join(ALPINE_DIR, `alpine-minirootfs-3.20.3-${isaName}.tar.gz`);
      const rootfs = join(work, isaName);
      await mkdir(rootfs);
      await execa('tar', ['-xzf', tarball, '-C', rootfs]);
      const list = await runInSandbox({ rootfs, isa, argv: ['/bin/busybox', '--list'], timeoutMs: 60_000 });
      const compressedBytes = (await stat(tarball)).size;
      const image: ImageFacts = { ref: tarball, digest: 'sha256:test', rootfs, applets: list.stdout.trim().split('\n'), defaultCmd: ['/bin/sh'], compressedBytes };
      const cases = await imageSuite.cases({ isa, image, settings: { sizeBudgetBytes: 8 << 20 } });
      const failures: string[] = [];
      const run: TestCase[] = cases.filter((c) => !c.skip);
      for (const testCase of run) {
        const problem = await caseFailure(testCase, { rootfs, isa });
        if (problem) failures.push(`${testCase.name}: ${problem}`);
      }
      console.log(`image suite on ${isaName}: ${run.length - failures.length}/${cases.length} passed, skipped: ${cases.filter((c) => c.skip).map((c) => `${c.name} (${c.skip})`).join(', ') || 'none'}`);
      expect(failures).toEqual([]);
      // A budget the image exceeds must fail, with the sizes in the output.
      const tight = await imageSuite.cases({ isa, image, settings: { sizeBudgetBytes: 1024 } });
      const overBudget = tight.find((c) => c.name === 'compressed image fits its size budget')!;
      expect(await caseFailure(overBudget, { rootfs, isa })).toMatch(/over its budget/);
    });
  }
});
