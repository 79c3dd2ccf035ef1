// Bisecting a BusyBox tree for real: a git repository made from the BusyBox 1.35 source
// (the tarball the image build fetched), sixteen commits on top, one of which breaks rev on
// big-endian ISAs only. On s390x (under qemu-user) the bisect names that commit within
// ceil(log2(commits)) + 1 builds; on x86_64 (a clone, bisected at the same time, so that one
// ISA's builds fill the other's case runs) the case passes at every step. Bad input and
// Ctrl-C leave the tree as it was.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BisectStep } from '../harness/bisect/log.ts';
import { bisectSource } from '../harness/bisect/source.ts';
import { isaByName } from '../harness/isa.ts';
import { REPO_ROOT } from '../harness/paths.ts';
import { buildImages } from '../images/build.ts';
import { expectFound, treeState } from './fixtures/bisect-checks.ts';
import { BUSYBOX_RECIPE, makeSourceRepo, type SourceRepo } from './fixtures/source-repo.ts';

const S390X = isaByName('s390x');
const X86_64 = isaByName('x86_64');
const CASE = BUSYBOX_RECIPE.caseId;
const IS_ROOT = process.getuid?.() === 0;
if (!IS_ROOT) console.warn('source bisect tests skipped: needs root (binfmt, namespaces)');

let scratch: string;
let repo: string;
/** The import, then sixteen changes; the eleventh breaks rev on big-endian. */
let made: SourceRepo;
let commits: string[] = [];
/** A clone of it for x86_64, bisected beside s390x: the two ISAs' builds and runs overlap. */
let clone: SourceRepo;

beforeAll(async () => {
  if (!IS_ROOT) return;
  scratch = await mkdtemp(join(tmpdir(), 'bisect-source-'));
  // The toolchains (musl sysroots) come from the image build cache.
  await buildImages({ arches: [S390X, X86_64] });
  made = await makeSourceRepo(scratch, BUSYBOX_RECIPE, S390X, 16, 11);
  ({ dir: repo, commits } = made);
  const cloneDir = join(scratch, 'x86_64', 'busybox-1.35.0');
  await execa('git', ['clone', '-q', repo, cloneDir]);
  clone = { ...made, dir: cloneDir, git: async (...args) => (await execa('git', ['-C', cloneDir, ...args])).stdout.trim() };
}, 600_000);

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe.skipIf(!IS_ROOT)('bisecting a BusyBox tree', () => {
  it.concurrent('names the big-endian-only commit on s390x within ceil(log2(commits)) + 1 builds, and leaves the tree as it was', async () => {
    const before = await treeState(made);
    const seen: BisectStep[] = [];
    // One rerun each side of the boundary: the flaky check's own test is the images bisect's.
    const { log, logPath } = await bisectSource({
      sourceDir: repo, good: commits[0]!, bad: 'main', component: 'busybox', caseId: CASE, isa: S390X, reruns: 1,
      reportDir: join(scratch, 'reports', 's390x'), buildRoot: join(scratch, 'builds'), jobs: 2, onStep: (step) => void seen.push(step),
    });
    expect(commits).toHaveLength(17);
    await expectFound(log, logPath, seen, made, { subject: BUSYBOX_RECIPE.breaking.subject, caseId: CASE, reruns: 1 });
    expect(await treeState(made)).toEqual(before);
  });

  it.concurrent('on x86_64 the case passes at every step: the bad end passes, so there is nothing to bisect', async () => {
    const before = await treeState(clone);
    const seen: BisectStep[] = [];
    const reportDir = join(scratch, 'reports', 'x86_64');
    const bisecting = bisectSource({
      sourceDir: clone.dir, good: commits[0]!, bad: 'main', component: 'busybox', caseId: CASE, isa: X86_64, reportDir, buildRoot: join(scratch, 'builds'), jobs: 2, onStep: (step) => void seen.push(step),
    });
    await expect(bisecting).rejects.toThrow(/^the bad end [0-9a-f]{40} is good \(the case passes\), not bad: nothing to bisect/);
    expect(seen.map((s) => [s.role, s.verdict])).toEqual([['good end', 'pass'], ['bad end', 'pass']]);
    expect(existsSync(reportDir)).toBe(false);
    expect(await treeState(clone)).toEqual(before);
  });
});

describe.skipIf(!IS_ROOT)('bad input to bisect --source: one line, exit 2, the tree unchanged', () => {
  const cli = async (...args: string[]) => {
    const before = existsSync(join(repo, '.git')) ? await treeState(made) : undefined;
    const result = await execa('node', [join(REPO_ROOT, 'harness', 'bin.mjs'), 'bisect', ...args, '--report-dir', join(scratch, 'reports', 'bad')], { reject: false });
    expect(existsSync(join(scratch, 'reports', 'bad'))).toBe(false);
    if (before) expect(await treeState(made)).toEqual(before);
    return { exitCode: result.exitCode, lines: result.stderr.trim().split('\n') };
  };
  const source = (...extra: string[]) => ['--source', repo, '--component', 'busybox', '--arch', 's390x', '--build-dir', join(scratch, 'builds'), ...extra];

  it('a source dir that is not a git tree', async () => {
    const plain = join(scratch, 'not-a-tree');
    await mkdir(plain, { recursive: true });
    const { exitCode, lines } = await cli('--source', plain, '--good', 'a', '--bad', 'b', '--component', 'busybox', '--case', CASE, '--arch', 's390x');
    expect(exitCode).toBe(2);
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^harness: --source ${plain}: not a git work tree`))]);
  });

  it('good and bad the wrong way round', async () => {
    const { exitCode, lines } = await cli(...source('--good', 'main', '--bad', commits[0]!, '--case', CASE));
    expect(exitCode).toBe(2);
    expect(lines).toEqual([expect.stringMatching(/^harness: --good main is a descendant of --bad [0-9a-f]+: good and bad are the wrong way round$/)]);
  });

  it('a case ID that matches nothing', async () => {
    const { exitCode, lines } = await cli(...source('--good', commits[0]!, '--bad', 'main', '--case', 'busybox/no such case'));
    expect(exitCode).toBe(2);
    expect(lines).toEqual([expect.stringMatching(/^harness: --case 'busybox\/no such case' matches no case on s390x/)]);
  });

  it('Ctrl-C in the middle of a build: exit 130, the tree back as it was', async () => {
    const before = await treeState(made);
    const child = execa('node', [join(REPO_ROOT, 'harness', 'bin.mjs'), 'bisect', ...source('--good', commits[0]!, '--bad', 'main', '--case', CASE), '--report-dir', join(scratch, 'reports', 'ctrl-c')], { reject: false });
    const deadline = Date.now() + 120_000;
    while (!existsSync(join(repo, '.git', 'BISECT_START')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 3000));
    child.kill('SIGINT');
    const { exitCode } = await child;
    expect(exitCode).toBe(130);
    expect(await treeState(made)).toEqual(before);
    expect(existsSync(join(scratch, 'reports', 'ctrl-c'))).toBe(false);
  });
});
