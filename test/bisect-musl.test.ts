// Bisecting a musl tree for real: a git repository made from the musl source the s390x image
// is built from, eight commits on top: the fourth does not build (the fifth repairs it), the
// seventh makes qsort leave the last element unsorted on big-endian ISAs only. On s390x the
// bisect of the musl suite's qsort probe skips the commit that does not build and names the
// qsort one within ceil(log2(commits)) + 1 builds, the skipped one included, each rebuilding
// only musl, incrementally, and relinking what is static: the probes (or the bad end would
// pass) and BusyBox, whose binary changes exactly where libc.a does. The tree is left as it was.
// On loongarch64 (clang), a step's image runs BusyBox's diff and awk: the pinned BusyBox it
// relinks is guarded against clang's ptr_to_globals miscompile, as the image build's is.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { componentBuilder, workDirFor } from '../harness/bisect/component.ts';
import type { BisectStep } from '../harness/bisect/log.ts';
import { bisectSource } from '../harness/bisect/source.ts';
import { isaByName } from '../harness/isa.ts';
import { runInSandbox } from '../harness/sandbox/index.ts';
import { buildImages, type BuiltImage } from '../images/build.ts';
import { expectFound, treeState } from './fixtures/bisect-checks.ts';
import { makeSourceRepo, MUSL_RECIPE, type SourceRepo } from './fixtures/source-repo.ts';

const S390X = isaByName('s390x');
const LOONGARCH64 = isaByName('loongarch64');
const CASE = 'musl/qsort';
const IS_ROOT = process.getuid?.() === 0;
if (!IS_ROOT) console.warn('musl source bisect test skipped: needs root (binfmt, namespaces)');

let scratch: string;
let repo: SourceRepo;
let image: BuiltImage;

beforeAll(async () => {
  if (!IS_ROOT) return;
  scratch = await mkdtemp(join(tmpdir(), 'bisect-musl-'));
  image = (await buildImages({ arches: [S390X] })).images.s390x!;
  repo = await makeSourceRepo(scratch, MUSL_RECIPE, S390X, 8, 7, 4);
}, 600_000);

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe.skipIf(!IS_ROOT)('bisecting a musl tree', () => {
  it('skips the commit that does not build and names the big-endian-only qsort commit on s390x, relinking the probes and BusyBox at each step', async () => {
    const before = await treeState(repo);
    const buildRoot = join(scratch, 'builds');
    const workDir = workDirFor({ component: 'musl', isa: S390X, sourceDir: await realpath(repo.dir), image, jobs: 2, buildRoot });
    const seen: BisectStep[] = [];
    /** The BusyBox each build linked, by commit. */
    const busybox = new Map<string, string>();
    const { log, logPath } = await bisectSource({
      sourceDir: repo.dir, good: repo.commits[0]!, bad: 'main', component: 'musl', caseId: CASE, isa: S390X, reruns: 1,
      reportDir: join(scratch, 'reports'), buildRoot, jobs: 2,
      onStep: async (step) => {
        seen.push(step);
        if (step.buildMs !== undefined) busybox.set(step.subject, createHash('sha256').update(await readFile(join(workDir, 'busybox-build', 'busybox'))).digest('hex'));
      },
    });
    expect(log.source).toMatchObject({ component: 'musl', buildDir: workDir });
    await expectFound(log, logPath, seen, repo, { subject: MUSL_RECIPE.breaking.subject, caseId: CASE, reruns: 1 });
    // git picks the commit that does not build first, skips it and still needs no more builds.
    expect(log.steps.filter((s) => s.term === 'skip').map((s) => s.subject)).toEqual([repo.commits[4]]);
    expect(log.builds).toBeLessThanOrEqual(Math.ceil(Math.log2(repo.commits.length)) + 1);
    // The harmless commits build the same libc.a, so the same BusyBox; the qsort change another.
    const byTerm = (term: string) => new Set(log.steps.filter((s) => s.buildMs !== undefined && s.term === term).map((s) => busybox.get(s.subject)));
    expect(byTerm('old').size).toBe(1);
    expect(byTerm('new').size).toBe(1);
    expect([...byTerm('new')][0]).not.toBe([...byTerm('old')][0]);
    expect(await treeState(repo)).toEqual(before);
  });

  it('builds a loongarch64 (clang) step whose BusyBox runs diff and awk', async () => {
    const loong = (await buildImages({ arches: [LOONGARCH64] })).images.loongarch64!;
    await mkdir(join(scratch, 'loongarch64'));
    const tree = await makeSourceRepo(join(scratch, 'loongarch64'), MUSL_RECIPE, LOONGARCH64, 2, 2);
    const builder = componentBuilder({ component: 'musl', isa: LOONGARCH64, sourceDir: tree.dir, image: loong, jobs: 2, buildRoot: join(scratch, 'builds-loongarch64') });
    const tar = join(scratch, 'loongarch64.tar');
    await builder.build(tar);
    const root = join(scratch, 'loongarch64-root');
    await mkdir(root);
    await execa('tar', ['xf', tar, '-C', root]);
    // Unguarded, both die of SIGSEGV (exit 139).
    const diff = await runInSandbox({ rootfs: root, isa: LOONGARCH64, argv: ['/bin/sh', '-c', 'echo a > /tmp/a; diff /tmp/a /tmp/a && echo same'], timeoutMs: 60_000 });
    expect({ exit: diff.exitCode, stdout: diff.stdout, stderr: diff.stderr }).toEqual({ exit: 0, stdout: 'same\n', stderr: '' });
    const awk = await runInSandbox({ rootfs: root, isa: LOONGARCH64, argv: ['/bin/sh', '-c', 'echo 1 2 | awk "{print \\$2}"'], timeoutMs: 60_000 });
    expect({ exit: awk.exitCode, stdout: awk.stdout, stderr: awk.stderr }).toEqual({ exit: 0, stdout: '2\n', stderr: '' });
  }, 900_000);
});
