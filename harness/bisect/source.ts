// `harness bisect --source`: drives `git bisect` over a BusyBox or musl tree. At each step
// it rebuilds only that component, for only that ISA, incrementally (see component.ts), runs
// the case on the resulting image and tells git good, bad or skip (a build that fails). The
// tree is left as it was: `git bisect reset`, whatever happens.
import { access, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { buildImages } from '../../images/build.ts';
import { makeCacheTempDir } from '../cache-temp.ts';
import { HarnessError } from '../errors.ts';
import type { Isa } from '../isa.ts';
import { RootfsWriter } from '../rootfs/extract.ts';
import type { Toolchain } from '../suites/suite.ts';
import { confirmEnds, flakinessOf, newReportDir, removeOnBadInput, type Judge } from './common.ts';
import { componentBuilder, type Component } from './component.ts';
import { GitTree } from './git.ts';
import { DEFAULT_RERUNS, type BisectResult } from './images.ts';
import { termOf, writeBisectLog, type BisectAnswer, type BisectLog, type BisectStep } from './log.ts';
import { caseExists, parseCaseId, runStep } from './step.ts';

export interface SourceBisectOptions {
  sourceDir: string;
  good: string;
  bad: string;
  component: Component;
  caseId: string;
  isa: Isa;
  reruns?: number;
  /** make -j; default 1. */
  jobs?: number;
  reportDir?: string;
  cacheDir?: string;
  /** Where the kept build dirs go; default <cache>/bisect (kept for the next bisect of the tree). */
  buildRoot?: string;
  signal?: AbortSignal;
  onStep?: (step: BisectStep) => void | Promise<void>;
}

/** Files that say the tree is the component it is claimed to be. */
const TREE_MARKS: Record<Component, string[]> = { busybox: ['Makefile', 'applets', 'libbb'], musl: ['configure', 'src', 'arch'] };

async function checkTree(tree: GitTree, options: SourceBisectOptions): Promise<{ good: string; bad: string }> {
  for (const mark of TREE_MARKS[options.component]) {
    if (!(await access(join(tree.dir, mark)).then(() => true, () => false))) {
      throw new HarnessError(`--source ${tree.dir}: not a ${options.component} tree (no ${mark}); check --component`);
    }
  }
  if (await tree.bisecting()) throw new HarnessError(`--source ${tree.dir}: a git bisect is already in progress there; finish it or run \`git bisect reset\``);
  const changes = await tree.changes();
  if (changes.length) throw new HarnessError(`--source ${tree.dir}: ${changes.length} tracked file(s) have uncommitted changes (${changes[0]!.slice(3)}, ...); commit or stash them first`);
  const good = await tree.commit(options.good, '--good');
  const bad = await tree.commit(options.bad, '--bad');
  if (good === bad) throw new HarnessError(`--good ${options.good} and --bad ${options.bad} are the same commit; nothing to bisect`);
  if (await tree.isAncestor(bad, good)) throw new HarnessError(`--good ${options.good} is a descendant of --bad ${options.bad}: good and bad are the wrong way round`);
  if (!(await tree.isAncestor(good, bad))) throw new HarnessError(`--good ${options.good} is not an ancestor of --bad ${options.bad}; give a good commit that --bad descends from`);
  return { good, bad };
}

/** git bisect's verdict command for a step's term. */
const GIT_TERM = { old: 'good', new: 'bad', skip: 'skip' } as const;

export async function bisectSource(options: SourceBisectOptions): Promise<BisectResult> {
  parseCaseId(options.caseId);
  const tree = await GitTree.open(options.sourceDir);
  const ends = await checkTree(tree, options);
  const { signal, isa } = options;

  // The toolchain and the other component: the image built from the pinned sources (cached).
  const image = (await buildImages({ arches: [isa], cacheDir: options.cacheDir, signal })).images[isa.name]!;
  const pinnedImage = { kind: 'tarball' as const, path: image.rootfsTarGz, sha512: image.sha512 };
  if (!(await caseExists({ image: pinnedImage, imageName: 'pinned', isa, caseId: options.caseId, cacheDir: options.cacheDir, signal }))) {
    throw new HarnessError(`--case '${options.caseId}' matches no case on ${isa.name}; \`harness list --arch ${isa.name}\` prints the case IDs`);
  }

  const builder = componentBuilder({ component: options.component, isa, sourceDir: tree.dir, image, jobs: options.jobs ?? 1, cacheDir: options.cacheDir, buildRoot: options.buildRoot });
  await mkdir(builder.workDir, { recursive: true });
  const scratch = await makeCacheTempDir(builder.workDir, 'steps');
  const report = await newReportDir(options.reportDir);
  const started = new Date();
  const steps: BisectStep[] = [];
  /** Each tested commit's rootfs (and musl toolchain), so reruns need no rebuild. */
  const builtSteps = new Map<string, { tarPath: string; toolchain?: Toolchain }>();
  let builds = 0;

  const judge: Judge<string> = async (commit, role) => {
    const n = steps.length + 1;
    const stepDir = join(report.dir, 'steps', `${String(n).padStart(2, '0')}-${commit.slice(0, 12)}`);
    const title = await tree.subject(commit);
    let buildMs: number | undefined;
    let buildError: string | undefined;
    if (!builtSteps.has(commit)) {
      if ((await tree.head()) !== commit) await tree.git(['checkout', '-q', '--detach', commit]);
      const tarPath = join(scratch, `${commit}.tar`);
      const buildStarted = performance.now();
      builds++;
      await builder.build(tarPath, signal).then(({ toolchain }) => builtSteps.set(commit, { tarPath, toolchain }), (error: Error) => {
        signal?.throwIfAborted();
        buildError = `${options.component} does not build: ${error.message.split('\n').slice(-3).join(' | ')}`;
      });
      buildMs = performance.now() - buildStarted;
      // A build may patch the tree (musl's ARM atomics, for a Thumb-1 ISA): undo it, or git
      // refuses the next checkout and the tree is not left as it was.
      if ((await tree.changes()).length) await tree.git(['checkout', '-q', '--', '.']);
    }
    const built = builtSteps.get(commit);
    let run: Awaited<ReturnType<typeof runStep>> | undefined;
    if (built) {
      const { tarPath, toolchain } = built;
      const rootfs = join(scratch, 'rootfs');
      await rm(rootfs, { recursive: true, force: true });
      await mkdir(rootfs);
      const writer = new RootfsWriter(rootfs);
      await writer.apply(tarPath, { layer: false, label: tarPath, signal });
      await writer.finish();
      try {
        run = await runStep({ image: { kind: 'directory', path: rootfs }, imageName: `commit-${commit.slice(0, 12)}`, isa, caseId: options.caseId, dir: stepDir, cacheDir: options.cacheDir, signal, toolchain });
      } finally {
        await rm(rootfs, { recursive: true, force: true });
      }
    }
    const verdict = run?.verdict ?? 'skip';
    const step: BisectStep = {
      n, role, subject: commit, title, verdict, term: termOf(verdict, 'first-bad'), reason: run?.reason ?? buildError ?? 'not run',
      durationMs: Math.round((buildMs ?? 0) + (run?.durationMs ?? 0)), ...(buildMs !== undefined && { buildMs: Math.round(buildMs) }),
      ...(run?.resultsPath && { results: run.resultsPath }),
    };
    steps.push(step);
    await options.onStep?.(step);
    return { step, absent: run?.absent === true };
  };

  const bisectGit = async (args: string[]) => {
    const result = await tree.git(['bisect', ...args], { reject: false });
    return `${result.stdout}\n${result.stderr}`;
  };

  const original = await tree.head();
  try {
    return await removeOnBadInput(report, signal, async () => {
      await bisectGit(['start']);
      let gitLog = '';
      let answer: BisectAnswer;
      try {
        await confirmEnds(judge, ends.good, ends.bad, { direction: 'first-bad', caseId: options.caseId, isa, describe: (commit) => commit });
        await bisectGit(['bad', ends.bad]);
        let said = await bisectGit(['good', ends.good]);
        for (;;) {
          const first = /^([0-9a-f]{40}) is the first bad commit/m.exec(said)?.[1];
          if (first) {
            const lastOld = await tree.commit(`${first}^`, 'the first bad commit\'s parent');
            const flaky = await flakinessOf(judge, lastOld, first, options.reruns ?? DEFAULT_RERUNS, steps, (commit) => commit);
            const title = await tree.subject(first);
            answer = flaky
              ? { kind: 'flaky', suspects: [lastOld, first], message: `flaky boundary, no culprit named: ${flaky}` }
              : { kind: 'found', first, title, lastOld, message: `first bad commit: ${first} ${title}` };
            break;
          }
          if (/only 'skip'ped commits left/.test(said)) {
            const candidates = [...said.matchAll(/^([0-9a-f]{40})$/gm)].map((match) => match[1]!);
            answer = { kind: 'ambiguous', candidates, message: `only commits that do not build or cannot be judged are left; the first bad commit is one of: ${candidates.map((c) => c.slice(0, 12)).join(', ')}` };
            break;
          }
          const commit = await tree.head();
          const { step } = await judge(commit, 'search');
          said = await bisectGit([GIT_TERM[step.term], commit]);
        }
        gitLog = (await tree.git(['bisect', 'log'], { reject: false })).stdout;
      } finally {
        await bisectGit(['reset']);
      }
      const finished = new Date();
      const log: BisectLog = {
        schemaVersion: 1, mode: 'source', case: options.caseId, isa: isa.name, direction: 'first-bad',
        source: {
          dir: tree.dir, component: options.component, good: options.good, bad: options.bad, goodCommit: ends.good, badCommit: ends.bad,
          commits: await tree.countCommits(ends.good, ends.bad), buildDir: builder.workDir,
        },
        startedAt: started.toISOString(), finishedAt: finished.toISOString(), durationMs: finished.getTime() - started.getTime(),
        builds, steps, answer, gitBisectLog: gitLog,
      };
      return { log, logPath: await writeBisectLog(log, report.dir), reportDir: report.dir };
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
    if ((await tree.head()) !== original) await tree.git(['checkout', '-q', original]).catch(() => undefined);
  }
}
