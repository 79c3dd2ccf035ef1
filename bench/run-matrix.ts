// Benchmark (not a test): the default matrix through the harness, against a fair floor of the
// same guest commands run by `xargs -P <cores>`, in one run.
//
//   npx tsx bench/run-matrix.ts [matrix]      (default: matrices/default.yaml)
//
// The floor gives each case what it needs to behave as it does in the harness, and nothing
// more: its own PID namespace and /proc, its own network namespace with lo up, its own UTS
// namespace named as the sandbox names it, a minimal /dev, and its files, in one pre-staged
// copy of each rootfs (no overlay, no per-case tmpfs, no capture but a redirect to a file, no
// reports). Nothing on the host is touched: no hostname, no process outside the case's own
// namespace. Images are built and probes compiled before either is timed. Afterwards each
// floor case is judged as the harness judges it; cases whose verdicts differ are listed.
import { availableParallelism, loadavg, machine } from 'node:os';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { execa } from 'execa';
import { DEFAULT_MATRIX, prepareRun, runMatrix } from '../harness/run.ts';
import { caseFileBytes } from '../harness/case.ts';
import type { PlannedCase } from '../harness/matrix/plan.ts';
import { GUEST_HOSTNAME, guestEnv } from '../harness/sandbox/index.ts';
import type { CaseResult } from '../harness/results.ts';
import { judge } from '../harness/verdict.ts';
import { guestLaunch } from '../harness/isa.ts';

const TARGET_RATIO = 1.15;
const TARGET_SECONDS = 90;
/** What `timeout -s KILL` exits with when it had to kill. */
const KILLED_STATUS = 137;

const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/**
 * The floor's command for one case: bounded by its timeout, in fresh PID, network, UTS, IPC and
 * mount namespaces (--kill-child: the namespace dies with the timeout), with the environment,
 * personality and CPU model the sandbox gives. A pid1 case's program is PID 1, as in the sandbox.
 */
function floorCommand(root: string, planned: PlannedCase, stdinFile: string | undefined, outFile: string): string {
  const { isa } = planned.job;
  const env = guestEnv(isa, planned.testCase.env);
  const setUp = `ip link set lo up && hostname ${GUEST_HOSTNAME} && ${planned.testCase.pid1 ? 'exec ' : ''}"$@"`;
  const words = [
    'timeout', '-s', 'KILL', `${Math.ceil(planned.timeoutMs / 1000)}`,
    'unshare', '--pid', '--fork', '--kill-child', '--net', '--uts', '--ipc', `--mount-proc=${join(root, 'proc')}`,
    'sh', '-c', setUp, 'floor',
    'env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    ...(guestLaunch(isa, machine()).linux32 ? ['setarch', 'linux32'] : []),
    'chroot', root, ...planned.testCase.argv,
  ];
  return `${words.map(quote).join(' ')} <${stdinFile ? quote(stdinFile) : '/dev/null'} >${quote(outFile)} 2>/dev/null`;
}

/** The sandbox's minimal /dev, made once per root (the host's /dev would be walked by find, du, ...). */
async function stageDev(root: string): Promise<void> {
  const dev = join(root, 'dev');
  await rm(dev, { recursive: true, force: true });
  await mkdir(join(dev, 'shm'), { recursive: true, mode: 0o1777 });
  await mkdir(join(dev, 'pts'), { recursive: true });
  for (const [name, major, minor] of [['null', 1, 3], ['zero', 1, 5], ['full', 1, 7], ['random', 1, 8], ['urandom', 1, 9], ['tty', 5, 0]] as const) {
    await execa('mknod', ['-m', '666', join(dev, name), 'c', String(major), String(minor)]);
  }
  for (const [name, target] of [['fd', '/proc/self/fd'], ['stdin', '/proc/self/fd/0'], ['stdout', '/proc/self/fd/1'], ['stderr', '/proc/self/fd/2'], ['ptmx', 'pts/ptmx']] as const) {
    await symlink(target, join(dev, name));
  }
}

async function stageFloor(cases: PlannedCase[], rootfsOf: (p: PlannedCase) => string, scratch: string): Promise<string[]> {
  const roots = new Map<string, string>();
  const scripts: string[] = [];
  for (const [index, planned] of cases.entries()) {
    const key = `${planned.job.image.name}-${planned.job.isa.name}`;
    let root = roots.get(key);
    if (!root) {
      root = join(scratch, key);
      await cp(rootfsOf(planned), root, { recursive: true, verbatimSymlinks: true });
      // Each case mounts its own /proc here, inside its own mount namespace.
      await mkdir(join(root, 'proc'), { recursive: true });
      await mkdir(join(root, 'tmp'), { recursive: true, mode: 0o1777 });
      await stageDev(root);
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
    await writeFile(script, `${floorCommand(root, planned, stdinFile, join(scratch, `out-${index}`))}\necho $? > ${quote(join(scratch, `status-${index}`))}\n`);
    scripts.push(script);
  }
  return scripts;
}

/** Judges each floor case as the harness judges it, against the harness's own judgement of its last attempt. */
async function differingVerdicts(runnable: PlannedCase[], scratch: string, harnessAttempts: Map<string, CaseResult>): Promise<string[]> {
  const differing: string[] = [];
  for (const [index, planned] of runnable.entries()) {
    const status = Number((await readFile(join(scratch, `status-${index}`), 'utf8').catch(() => '')).trim());
    const stdout = await readFile(join(scratch, `out-${index}`), 'utf8').catch(() => '');
    const timedOut = status === KILLED_STATUS;
    const floor = judge(planned.testCase, { exitCode: timedOut ? null : status, signal: timedOut ? 'SIGKILL' : null, timedOut, durationMs: 0, stdout, stderr: '' }, planned.timeoutMs);
    const result = harnessAttempts.get(resultKey(planned));
    const last = result?.attempts[result.attempts.length - 1];
    if (!last) continue;
    if (floor.passed !== judge(planned.testCase, last, planned.timeoutMs).passed) differing.push(`${planned.job.isa.name} ${planned.test}: floor ${floor.passed ? 'passes' : 'fails'}`);
  }
  return differing;
}

const resultKey = (p: PlannedCase) => `${p.job.image.name}\0${p.job.isa.name}\0${p.test}`;

async function main(): Promise<void> {
  const matrixPath = process.argv[2] ?? DEFAULT_MATRIX;
  const cores = availableParallelism();
  console.log(`matrix ${matrixPath}, ${cores} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  const warmStart = Date.now();
  const prepared = await prepareRun({ matrixPath, build: true });
  console.log(`images built or found, probes compiled: ${((Date.now() - warmStart) / 1000).toFixed(1)} s (not counted)`);
  const runnable = prepared.cases.filter((p) => !p.testCase.skip && !prepared.images.get(`${p.job.image.name}/${p.job.isa.name}`)!.blocked);

  const scratch = await mkdtemp(join(tmpdir(), 'bench-floor-'));
  try {
    const rootfsOf = (p: PlannedCase) => prepared.images.get(`${p.job.image.name}/${p.job.isa.name}`)!.facts.rootfs;
    const scripts = await stageFloor(runnable, rootfsOf, scratch);
    const listFile = join(scratch, 'scripts.txt');
    await writeFile(listFile, scripts.join('\n') + '\n');

    const harnessStart = Date.now();
    const outcome = await runMatrix({ matrixPath, progress: 'quiet', junitPath: join(scratch, 'junit.xml'), jsonPath: join(scratch, 'results.json') });
    const harnessSeconds = (Date.now() - harnessStart) / 1000;

    const floorStart = Date.now();
    await execa('xargs', ['-a', listFile, '-d', '\n', '-P', String(cores), '-n', '1', 'sh'], { reject: false });
    const floorSeconds = (Date.now() - floorStart) / 1000;

    const harnessResults = new Map(outcome.results.results.map((r) => [`${r.image}\0${r.isa}\0${r.suite}/${r.case}`, r]));
    const differing = await differingVerdicts(runnable, scratch, harnessResults);
    const totals = outcome.summary.totals;
    const ratio = harnessSeconds / floorSeconds;
    console.log(`cases run: ${runnable.length} (${totals.passed} passed, ${totals.failed} failed, ${totals.known} known failures, ${totals.skipped} skipped)`);
    console.log(`harness run:            ${harnessSeconds.toFixed(1)} s  (target: under ${TARGET_SECONDS} s) ${harnessSeconds < TARGET_SECONDS ? 'OK' : 'MISSED'}`);
    console.log(`xargs -P ${cores} floor:       ${floorSeconds.toFixed(1)} s  (own pid/net/uts/ipc/mount namespaces, /proc, lo, minimal /dev per case)`);
    console.log(`ratio harness/floor:    ${ratio.toFixed(2)}x  (target: within ${TARGET_RATIO}x) ${ratio <= TARGET_RATIO ? 'OK' : 'MISSED'}`);
    console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log(`verdicts that differ between floor and harness: ${differing.length}${differing.length ? ` (both runs include them)\n  ${differing.join('\n  ')}` : ''}`);
  } finally {
    // Every mount the floor made lived in a case's own mount namespace; none may be left here.
    const stillMounted = (await readFile('/proc/mounts', 'utf8')).split('\n').some((line) => line.split(' ')[1]?.startsWith(scratch));
    if (stillMounted) throw new Error(`${scratch}: mounts remain; unmount them (umount -R) before removing it`);
    await rm(scratch, { recursive: true, force: true });
  }
}

await main();
