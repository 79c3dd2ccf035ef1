// Benchmark (not a test): the default matrix through the harness, against the floor of the
// same guest commands run by a bare `xargs -P <cores>` of `chroot` calls, in one run.
//
//   npx tsx bench/run-matrix.ts [matrix]      (default: matrices/default.yaml)
//
// The floor gets every advantage: one pre-staged copy of each rootfs with every case's files
// already in place (and /proc, /dev), no namespaces, no overlay, no output capture, no reports.
// Images are built and probes compiled before either is timed, so both time running only.
// Without namespaces the floor's cases touch the host: a few rename it (restored after),
// bring lo up or pkill sleep. Run it on a machine where that is fine, as root.
import { availableParallelism, hostname, machine } from 'node:os';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { execa } from 'execa';
import { DEFAULT_MATRIX, prepareRun, runMatrix } from '../harness/run.ts';
import { caseFileBytes } from '../harness/case.ts';
import type { PlannedCase } from '../harness/matrix/plan.ts';
import { DEFAULT_GUEST_ENV } from '../harness/sandbox/index.ts';
import { guestLaunch } from '../harness/isa.ts';

const TARGET_RATIO = 1.15;
const TARGET_SECONDS = 300;

const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/** The floor's command for one case: env, personality and CPU model as the sandbox gives them. */
function floorCommand(root: string, planned: PlannedCase, stdinFile: string | undefined): string {
  const { isa } = planned.job;
  const launch = guestLaunch(isa, machine());
  const env = { ...DEFAULT_GUEST_ENV, ...launch.env, ...planned.testCase.env };
  const words = [
    'env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    // Bounded like the harness's cases, so a hung case cannot stall the floor.
    'timeout', '-s', 'KILL', `${Math.ceil(planned.timeoutMs / 1000)}`,
    ...(launch.linux32 ? ['setarch', 'linux32'] : []),
    'chroot', root, ...planned.testCase.argv,
  ];
  return `${words.map(quote).join(' ')} <${stdinFile ? quote(stdinFile) : '/dev/null'} >/dev/null 2>&1`;
}

async function stageFloor(cases: PlannedCase[], rootfsOf: (p: PlannedCase) => string, scratch: string, mounts: string[]): Promise<string[]> {
  const roots = new Map<string, string>();
  const scripts: string[] = [];
  for (const [index, planned] of cases.entries()) {
    const key = `${planned.job.image.name}-${planned.job.isa.name}`;
    let root = roots.get(key);
    if (!root) {
      root = join(scratch, key);
      await cp(rootfsOf(planned), root, { recursive: true, verbatimSymlinks: true });
      // /proc and /dev, as the sandbox gives them: without them QEMU and many cases crawl or hang.
      for (const [dir, args] of [['proc', ['-t', 'proc', 'proc']], ['dev', ['--rbind', '/dev']]] as const) {
        await mkdir(join(root, dir), { recursive: true });
        await execa('mount', [...args, join(root, dir)]);
        mounts.push(join(root, dir));
      }
      roots.set(key, root);
    }
    for (const file of planned.testCase.files ?? []) {
      await mkdir(join(root, dirname(file.path)), { recursive: true });
      await writeFile(join(root, file.path), caseFileBytes(file), { mode: file.mode ?? 0o644 });
    }
    for (const [guest, host] of Object.entries(planned.testCase.hostFiles ?? {})) {
      await mkdir(join(root, dirname(guest)), { recursive: true });
      await cp(host, join(root, guest));
    }
    let stdinFile: string | undefined;
    if (planned.testCase.stdin !== undefined) {
      stdinFile = join(scratch, `stdin-${index}`);
      await writeFile(stdinFile, planned.testCase.stdin);
    }
    // One script per case: commands span lines (here-docs, loops), xargs reads one per line.
    const script = join(scratch, `case-${index}.sh`);
    // timeout -s KILL exits 137: counted, because a case that hangs here shows the floor lacks isolation.
    await writeFile(script, `${floorCommand(root, planned, stdinFile)}\n[ $? -ne 137 ] || echo ${index} >> ${quote(join(scratch, 'timed-out'))}\n`);
    scripts.push(script);
  }
  return scripts;
}

async function main(): Promise<void> {
  const matrixPath = process.argv[2] ?? DEFAULT_MATRIX;
  const cores = availableParallelism();
  console.log(`matrix ${matrixPath}, ${cores} cores`);

  const warmStart = Date.now();
  const prepared = await prepareRun({ matrixPath, build: true });
  console.log(`images built or found, probes compiled: ${((Date.now() - warmStart) / 1000).toFixed(1)} s (not counted)`);
  const runnable = prepared.cases.filter((p) => !p.testCase.skip && !prepared.images.get(`${p.job.image.name}/${p.job.isa.name}`)!.blocked);

  const scratch = await mkdtemp(join(tmpdir(), 'bench-floor-'));
  const mounts: string[] = [];
  try {
    const rootfsOf = (p: PlannedCase) => prepared.images.get(`${p.job.image.name}/${p.job.isa.name}`)!.facts.rootfs;
    const scripts = await stageFloor(runnable, rootfsOf, scratch, mounts);
    const listFile = join(scratch, 'scripts.txt');
    await writeFile(listFile, scripts.join('\n') + '\n');

    const harnessStart = Date.now();
    const outcome = await runMatrix({ matrixPath, progress: 'quiet', junitPath: join(scratch, 'junit.xml'), jsonPath: join(scratch, 'results.json') });
    const harnessSeconds = (Date.now() - harnessStart) / 1000;

    // A bare chroot shares the host's UTS namespace: the hostname case renames the host.
    const hostName = hostname();
    const floorStart = Date.now();
    await execa('xargs', ['-a', listFile, '-d', '\n', '-P', String(cores), '-n', '1', 'sh'], { reject: false });
    const floorSeconds = (Date.now() - floorStart) / 1000;
    await execa('hostname', [hostName]);

    const totals = outcome.summary.totals;
    const ratio = harnessSeconds / floorSeconds;
    console.log(`cases run: ${runnable.length} (${totals.passed} passed, ${totals.failed} failed, ${totals.known} known failures, ${totals.skipped} skipped)`);
    console.log(`harness run:            ${harnessSeconds.toFixed(1)} s  (target: under ${TARGET_SECONDS} s) ${harnessSeconds < TARGET_SECONDS ? 'OK' : 'MISSED'}`);
    const timedOut = (await readFile(join(scratch, 'timed-out'), 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
    console.log(`xargs -P ${cores} chroot floor: ${floorSeconds.toFixed(1)} s  (${timedOut} cases killed at their timeout: no namespaces, so parallel cases share ports and pkill targets)`);
    console.log(`ratio harness/floor:    ${ratio.toFixed(2)}x  (target: within ${TARGET_RATIO}x) ${ratio <= TARGET_RATIO ? 'OK' : 'MISSED'}`);
  } finally {
    for (const mount of mounts.reverse()) await execa('umount', ['-R', '-l', mount], { reject: false });
    // Never rm -rf through a /dev bind that is still mounted.
    const stillMounted = (await readFile('/proc/mounts', 'utf8')).split('\n').some((line) => line.split(' ')[1]?.startsWith(scratch));
    if (stillMounted) throw new Error(`${scratch}: mounts remain; unmount them (umount -R) before removing it`);
    await rm(scratch, { recursive: true, force: true });
  }
}

await main();
