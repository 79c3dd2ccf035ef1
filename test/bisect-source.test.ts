// Bisecting a BusyBox tree for real: a git repository made from the BusyBox 1.35 source
// (the tarball the image build fetched), sixteen commits on top, one of which breaks rev on
// big-endian ISAs only. On s390x (under qemu-user) the bisect names that commit within
// ceil(log2(commits)) + 1 builds; on x86_64 the case passes at every step. Bad input and
// Ctrl-C leave the tree as it was.
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
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
import { BREAKING_SUBJECT, makeBusyboxRepo, REV_CASE, type BusyboxRepo } from './fixtures/busybox-repo.ts';

const S390X = isaByName('s390x');
const X86_64 = isaByName('x86_64');
const CASE = REV_CASE;
const IS_ROOT = process.getuid?.() === 0;
if (!IS_ROOT) console.warn('source bisect tests skipped: needs root (binfmt, namespaces)');

let scratch: string;
let repo: string;
/** commits[0] is the import; commits[i] the i-th change; the eleventh of sixteen breaks rev on big-endian. */
let commits: string[] = [];
const BREAKING_AT = 11;
let git: BusyboxRepo['git'];

/** HEAD, branch, tracked and untracked changes, bisect state: all must be as before. */
const treeState = async () => ({
  head: await git('rev-parse', 'HEAD'),
  branch: await git('symbolic-ref', '-q', 'HEAD'),
  status: await git('status', '--porcelain', '--untracked-files=all', '--ignored'),
  bisecting: existsSync(join(repo, '.git', 'BISECT_START')),
});

beforeAll(async () => {
  if (!IS_ROOT) return;
  scratch = await mkdtemp(join(tmpdir(), 'bisect-source-'));
  // The toolchains (musl sysroots) come from the image build cache.
  await buildImages({ arches: [S390X, X86_64] });
  const made = await makeBusyboxRepo(scratch, 16, BREAKING_AT);
  ({ dir: repo, commits, git } = made);
}, 600_000);

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const expectedTerm = (commit: string) => (commits.indexOf(commit) >= BREAKING_AT ? 'new' : 'old');

describe.skipIf(!IS_ROOT)('bisecting a BusyBox tree', () => {
  it('names the big-endian-only commit on s390x within ceil(log2(commits)) + 1 builds, and leaves the tree as it was', async () => {
    const before = await treeState();
    const seen: BisectStep[] = [];
    const { log, logPath } = await bisectSource({
      sourceDir: repo, good: commits[0]!, bad: 'main', component: 'busybox', caseId: CASE, isa: S390X,
      reportDir: join(scratch, 'reports', 's390x'), buildRoot: join(scratch, 'builds'), jobs: 2, onStep: (step) => void seen.push(step),
    });
    expect(log.answer).toMatchObject({ kind: 'found', first: commits[BREAKING_AT], title: BREAKING_SUBJECT, lastOld: commits[BREAKING_AT - 1] });
    expect(log.source!.commits).toBe(16);
    expect(log.builds).toBeLessThanOrEqual(Math.ceil(Math.log2(commits.length)) + 1);
    // Every step's verdict is the truth for its commit; the ends come first, then git's picks, then reruns.
    expect(log.steps.slice(0, 2).map((s) => [s.role, s.subject, s.term])).toEqual([['good end', commits[0], 'old'], ['bad end', commits[16], 'new']]);
    for (const step of log.steps) expect(`${step.subject} ${step.term}`).toBe(`${step.subject} ${expectedTerm(step.subject)}`);
    const search = log.steps.filter((s) => s.role === 'search');
    expect(search.length).toBe(log.builds! - 2);
    expect(new Set(search.map((s) => s.subject)).size).toBe(search.length);
    expect(log.steps.filter((s) => s.role === 'rerun').map((s) => s.subject)).toEqual([...Array(3).fill(commits[BREAKING_AT - 1]), ...Array(3).fill(commits[BREAKING_AT])]);
    // Reruns reuse the step's image; builds after the first reuse the build dir.
    expect(log.steps.filter((s) => s.role === 'rerun').every((s) => s.buildMs === undefined)).toBe(true);
    const [cold, ...incremental] = log.steps.filter((s) => s.buildMs !== undefined).map((s) => s.buildMs!);
    for (const ms of incremental) expect(ms).toBeLessThan(cold!);
    const failing = log.steps.find((s) => s.term === 'new')!;
    expect(failing.reason).toMatch(/rev and tac/);
    expect(seen).toEqual(log.steps);
    expect(JSON.parse(await readFile(logPath, 'utf8'))).toEqual(log);
    expect(log.gitBisectLog).toMatch(new RegExp(`first bad commit: \\[${commits[BREAKING_AT]}\\]`));
    expect(await treeState()).toEqual(before);
  });

  it('on x86_64 the case passes at every step: the bad end passes, so there is nothing to bisect', async () => {
    const before = await treeState();
    const seen: BisectStep[] = [];
    const reportDir = join(scratch, 'reports', 'x86_64');
    const bisecting = bisectSource({
      sourceDir: repo, good: commits[0]!, bad: 'main', component: 'busybox', caseId: CASE, isa: X86_64, reportDir, buildRoot: join(scratch, 'builds'), jobs: 2, onStep: (step) => void seen.push(step),
    });
    await expect(bisecting).rejects.toThrow(/^the bad end [0-9a-f]{40} is good \(the case passes\), not bad: nothing to bisect/);
    expect(seen.map((s) => [s.role, s.verdict])).toEqual([['good end', 'pass'], ['bad end', 'pass']]);
    expect(existsSync(reportDir)).toBe(false);
    expect(await treeState()).toEqual(before);
  });
});

describe.skipIf(!IS_ROOT)('bad input to bisect --source: one line, exit 2, the tree unchanged', () => {
  const cli = async (...args: string[]) => {
    const before = existsSync(join(repo, '.git')) ? await treeState() : undefined;
    const result = await execa('node', [join(REPO_ROOT, 'harness', 'bin.mjs'), 'bisect', ...args, '--report-dir', join(scratch, 'reports', 'bad')], { reject: false });
    expect(existsSync(join(scratch, 'reports', 'bad'))).toBe(false);
    if (before) expect(await treeState()).toEqual(before);
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
    const before = await treeState();
    const child = execa('node', [join(REPO_ROOT, 'harness', 'bin.mjs'), 'bisect', ...source('--good', commits[0]!, '--bad', 'main', '--case', CASE), '--report-dir', join(scratch, 'reports', 'ctrl-c')], { reject: false });
    const deadline = Date.now() + 120_000;
    while (!existsSync(join(repo, '.git', 'BISECT_START')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 3000));
    child.kill('SIGINT');
    const { exitCode } = await child;
    expect(exitCode).toBe(130);
    expect(await treeState()).toEqual(before);
    expect(existsSync(join(scratch, 'reports', 'ctrl-c'))).toBe(false);
  });
});
