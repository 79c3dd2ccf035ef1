// Benchmark (not a test): the default matrix through the harness, against a fair floor of the
// same guest commands run by `xargs -P <cores>`, in one run.
//
//   npx tsx bench/run-matrix.ts [matrix] [--arch x86_64,aarch64] [--grep PATTERN]
//
// matrix: default matrices/default.yaml. --arch and --grep narrow both runs as `harness run`'s
// options do (a subset to iterate on; the figures that count are the whole matrix's).
//
// The floor gives each case what it needs to behave as it does in the harness, and nothing
// more. Each case runs in its own PID, network (lo up), UTS (named as the sandbox names it),
// IPC and mount namespaces, with its own /proc (the parts that reach the host kernel
// read-only, as in the sandbox), a fresh tmpfs on /tmp holding the case's /tmp files, and no
// controlling terminal (xargs runs as a session of its own); a pid1 case's program is PID 1.
// Its root is one pre-staged copy of the image per ISA, with a minimal /dev and every case's
// host files, bound read-only inside the case's namespace (so no case sees another's
// leftovers); a case that needs more gets a pre-staged root of its own: an empty root, files
// outside /tmp, layers, or writes outside /tmp (floor-cases.yaml, root_of_its_own). No
// overlay, no capture but redirects to files, no reports. Every mount lives in a case's own
// mount namespace; nothing on the host is touched (no hostname, no process outside the
// bench's own). Images are built and probes compiled, and the floor staged, before either run
// is timed. Afterwards each floor case is judged as the harness judges it; cases whose
// verdicts differ are listed with both judgements. Cases that cannot be made fair
// (floor-cases.yaml, excluded, each with its reason) run in neither and are counted; the
// harness run leaves them out by --grep, so they cannot be combined with one. Ctrl-C stops
// both runs (the floor's processes by pid) and removes the staged files.
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg, machine, tmpdir } from 'node:os';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { DEFAULT_MATRIX, prepareRun, runMatrix } from '../harness/run.ts';
import type { PlanFilters, PlannedCase } from '../harness/matrix/plan.ts';
import { GUEST_HOSTNAME, guestEnv, writeCaseFiles } from '../harness/sandbox/index.ts';
import type { CaseResult } from '../harness/results.ts';
import { judge, type Judgement } from '../harness/verdict.ts';
import { guestLaunch } from '../harness/isa.ts';
import { excludedReason, rootOfItsOwnReason } from './floor-cases.ts';

const TARGET_RATIO = 1.15;
const TARGET_SECONDS = 90;
/** What `timeout -s KILL` exits with when it had to kill. */
const KILLED_STATUS = 137;
/** The sandbox's read-only parts of /proc (protect_proc in sandbox-run.c), where the host has them. */
const PROTECTED_PROC = ['sys', 'sysrq-trigger', 'irq', 'bus'].filter((entry) => existsSync(`/proc/${entry}`));

const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;
const command = (words: readonly string[]) => words.map(quote).join(' ');

/** A root the floor runs cases in: shared by the cases of one image on one ISA (read-only), or a case's own. */
interface FloorRoot {
  dir: string;
  /** mount(8) fstab for each case's namespace: the root read-only when shared, /tmp, /proc's protected parts. */
  fstab: string;
}

/** A case's files split by where they go: its fresh /tmp, or the root. */
function splitFiles(planned: PlannedCase) {
  const inTmp = (path: string) => posix.normalize(path).startsWith('/tmp/');
  const files = planned.testCase.files ?? [];
  const hostFiles = Object.entries(planned.testCase.hostFiles ?? {});
  return {
    tmpFiles: files.filter((f) => inTmp(f.path)),
    tmpHostFiles: Object.fromEntries(hostFiles.filter(([guest]) => inTmp(guest))),
    rootFiles: files.filter((f) => !inTmp(f.path)),
    rootHostFiles: Object.fromEntries(hostFiles.filter(([guest]) => !inTmp(guest))),
  };
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

/** Makes a root at dir (the image below it unless empty) with /proc, /tmp and /dev, and its fstab. */
async function stageRoot(dir: string, below: { rootfs?: string; layers?: readonly string[] }, shared: boolean): Promise<FloorRoot> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  // Bottom first, as the sandbox's copy fallback lays them.
  for (const layer of [...(below.rootfs ? [below.rootfs] : []), ...[...(below.layers ?? [])].reverse()]) {
    await cp(layer, dir, { recursive: true, verbatimSymlinks: true, force: true });
  }
  await mkdir(join(dir, 'proc'), { recursive: true });
  await mkdir(join(dir, 'tmp'), { recursive: true });
  await chmod(join(dir, 'tmp'), 0o1777);
  await stageDev(dir);
  // fstab(5) writes white space in a path as an octal escape.
  const path = (guest: string) => `${dir}${guest}`.replace(/\s/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  const lines = [
    // The root's own bind first: the mounts below are made on it (rbind keeps the /proc unshare mounted).
    ...(shared ? [`${path('')} ${path('')} none rbind,ro 0 0`] : []),
    `floor-tmp ${path('/tmp')} tmpfs mode=1777,nosuid 0 0`,
    ...PROTECTED_PROC.map((entry) => `${path(`/proc/${entry}`)} ${path(`/proc/${entry}`)} none bind,ro 0 0`),
  ];
  const fstab = `${dir}.fstab`;
  await writeFile(fstab, `${lines.join('\n')}\n`);
  return { dir, fstab };
}

/**
 * The floor's two scripts for one case. case-N.sh (what xargs runs): bounded by the timeout, in
 * fresh PID, network, UTS, IPC and mount namespaces (--kill-child: the namespace dies with the
 * timeout), its exit status recorded. init-N.sh (PID 1 there, a plain name in the guest's ps):
 * lo up, the hostname, the mounts, the case's /tmp files, then the program with the
 * environment, personality, CPU model and working directory the sandbox gives.
 */
function floorScripts(root: FloorRoot, planned: PlannedCase, paths: { init: string; tmpStage?: string; stdin?: string; out: string; err: string; status: string }) {
  const { isa } = planned.job;
  const env = guestEnv(isa, planned.testCase.env);
  const guest = [
    'env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    ...(guestLaunch(isa, machine()).linux32 ? ['setarch', 'linux32'] : []),
    '/usr/bin/unshare', `--root=${root.dir}`, ...(planned.testCase.cwd ? [`--wd=${planned.testCase.cwd}`] : []),
    ...planned.testCase.argv,
  ];
  const init = [
    'ip link set lo up',
    command(['hostname', GUEST_HOSTNAME]),
    command(['mount', '-a', '-T', root.fstab]),
    ...(paths.tmpStage ? [command(['cp', '-a', `${paths.tmpStage}/tmp/.`, `${root.dir}/tmp/`])] : []),
    `${planned.testCase.pid1 ? 'exec ' : ''}${command(guest)}`,
  ].join(' &&\n');
  const run = [
    'timeout', '-s', 'KILL', `${Math.ceil(planned.timeoutMs / 1000)}`,
    'unshare', '--pid', '--fork', '--kill-child', '--net', '--uts', '--ipc', `--mount-proc=${join(root.dir, 'proc')}`,
    'sh', paths.init,
  ];
  const stderr = planned.testCase.stderrToStdout ? '&1' : quote(paths.err);
  const caseScript = `${command(run)} <${quote(paths.stdin ?? '/dev/null')} >${quote(paths.out)} 2>${stderr}\necho $? > ${quote(paths.status)}\n`;
  return { init: `${init}\n`, caseScript };
}

interface FloorCase {
  planned: PlannedCase;
  script: string;
  out: string;
  err: string;
  status: string;
  /** Why it runs in a root of its own instead of its ISA's shared one. */
  ownRoot?: string;
}

/** Why a case cannot run in its ISA's shared read-only root, if it cannot. */
function needsRootOfItsOwn(planned: PlannedCase, clash: boolean): string | undefined {
  if (planned.testCase.emptyRoot) return 'an empty root';
  if (splitFiles(planned).rootFiles.length) return 'files outside /tmp';
  if (planned.testCase.layers?.length) return 'layers';
  if (clash) return 'host files another case puts elsewhere';
  return rootOfItsOwnReason(planned) && 'writes outside /tmp (floor-cases.yaml)';
}

async function stageFloor(cases: PlannedCase[], rootfsOf: (p: PlannedCase) => string, scratch: string): Promise<FloorCase[]> {
  // One shared root per image x ISA, with the host files of every case that runs in it.
  const sharedHostFiles = new Map<string, Map<string, string>>();
  const ownRoot = new Map<PlannedCase, string>();
  for (const planned of cases) {
    const { rootHostFiles } = splitFiles(planned);
    const key = `${planned.job.image.name}-${planned.job.isa.name}`;
    const placed = sharedHostFiles.get(key) ?? new Map<string, string>();
    sharedHostFiles.set(key, placed);
    // Two cases that put different files at one path cannot share a root.
    const why = needsRootOfItsOwn(planned, Object.entries(rootHostFiles).some(([guest, host]) => placed.has(guest) && placed.get(guest) !== host));
    if (why) ownRoot.set(planned, why);
    else for (const [guest, host] of Object.entries(rootHostFiles)) placed.set(guest, host);
  }
  const sharedRoots = new Map<string, FloorRoot>();
  const floorCases: FloorCase[] = [];
  for (const [index, planned] of cases.entries()) {
    const key = `${planned.job.image.name}-${planned.job.isa.name}`;
    const { tmpFiles, tmpHostFiles, rootFiles, rootHostFiles } = splitFiles(planned);
    const ownRootReason = ownRoot.get(planned);
    let root: FloorRoot;
    if (ownRootReason) {
      root = await stageRoot(join(scratch, `root-${index}`), { ...(!planned.testCase.emptyRoot && { rootfs: rootfsOf(planned) }), layers: planned.testCase.layers }, false);
      writeCaseFiles(root.dir, rootFiles, rootHostFiles);
    } else {
      root = sharedRoots.get(key) ?? (await stageRoot(join(scratch, key), { rootfs: rootfsOf(planned) }, true));
      if (!sharedRoots.has(key)) {
        writeCaseFiles(root.dir, [], Object.fromEntries(sharedHostFiles.get(key)!));
        sharedRoots.set(key, root);
      }
    }
    const at = (name: string) => join(scratch, `${name}-${index}`);
    let tmpStage: string | undefined;
    if (tmpFiles.length || Object.keys(tmpHostFiles).length) {
      tmpStage = at('tmp');
      writeCaseFiles(tmpStage, tmpFiles, tmpHostFiles);
      await chmod(join(tmpStage, 'tmp'), 0o1777);
    }
    let stdin: string | undefined;
    if (planned.testCase.stdin !== undefined) {
      stdin = at('stdin');
      await writeFile(stdin, planned.testCase.stdin);
    }
    const paths = { init: at('init'), tmpStage, stdin, out: at('out'), err: at('err'), status: at('status') };
    const scripts = floorScripts(root, planned, paths);
    await writeFile(paths.init, scripts.init);
    const script = at('case');
    await writeFile(script, scripts.caseScript);
    floorCases.push({ planned, script, out: paths.out, err: paths.err, status: paths.status, ...(ownRootReason && { ownRoot: ownRootReason }) });
  }
  return floorCases;
}

/** "N shared, M of their own (why: count, ...)". */
function describeRoots(floorCases: readonly FloorCase[]): string {
  const own = new Map<string, number>();
  for (const { ownRoot } of floorCases) if (ownRoot) own.set(ownRoot, (own.get(ownRoot) ?? 0) + 1);
  const ownCount = [...own.values()].reduce((a, b) => a + b, 0);
  return `${floorCases.length - ownCount} in their ISA's shared read-only root, ${ownCount} in a root of their own${own.size ? ` (${[...own].map(([why, n]) => `${why}: ${n}`).join(', ')})` : ''}`;
}

const firstLine = (judgement: Judgement) => (judgement.passed ? 'passed' : (judgement.message ?? 'failed').split('\n')[0]);

/** Judges each floor case as the harness judges it, against the harness's own judgement of its last attempt. */
async function differingVerdicts(floorCases: FloorCase[], harnessAttempts: Map<string, CaseResult>): Promise<string[]> {
  const differing: string[] = [];
  for (const { planned, out, err, status: statusFile } of floorCases) {
    const status = Number((await readFile(statusFile, 'utf8').catch(() => '')).trim());
    const [stdout, stderr] = await Promise.all([out, err].map((file) => readFile(file, 'utf8').catch(() => '')));
    const timedOut = status === KILLED_STATUS;
    const { isa } = planned.job;
    const floor = judge(planned.testCase, { exitCode: timedOut ? null : status, signal: timedOut ? 'SIGKILL' : null, timedOut, durationMs: 0, stdout: stdout!, stderr: stderr! }, planned.timeoutMs, isa);
    const result = harnessAttempts.get(resultKey(planned));
    const last = result?.attempts[result.attempts.length - 1];
    if (!last) continue;
    const harness = judge(planned.testCase, last, planned.timeoutMs, isa);
    if (floor.passed !== harness.passed) differing.push(`${isa.name} ${planned.test}: floor ${firstLine(floor)}; harness ${firstLine(harness)}`);
  }
  return differing;
}

const resultKey = (p: PlannedCase) => `${p.job.image.name}\0${p.job.isa.name}\0${p.test}`;

/**
 * Ends the floor early (Ctrl-C): xargs, then every process of its session (xargs runs as a session
 * of its own; each case's namespace dies with its unshare), by pid, until none is left alive.
 */
async function killSession(leader: number): Promise<void> {
  const kill = (pid: number) => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Ended already.
    }
  };
  kill(leader);
  for (;;) {
    const members: number[] = [];
    for (const pid of await readdir('/proc').then((names) => names.filter((name) => /^\d+$/.test(name)))) {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
      const [state, , , session] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(session) === leader && state !== 'Z') members.push(Number(pid));
    }
    if (!members.length) return;
    members.forEach(kill);
    await new Promise((done) => setTimeout(done, 50));
  }
}

/** The harness run's filters: the floor's, less the excluded cases (by name: --grep of every other case). */
function harnessFilters(filters: PlanFilters, cases: readonly PlannedCase[], excluded: ReadonlySet<string>): PlanFilters {
  if (!excluded.size) return filters;
  if (filters.grep !== undefined) throw new Error(`--grep cannot be combined with the cases bench/floor-cases.yaml excludes (${[...excluded].join(', ')}): the harness run takes one --grep`);
  const kept = [...new Set(cases.map((p) => p.test))].filter((test) => !excluded.has(test));
  return { ...filters, grep: `/^(?:${kept.map((test) => test.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$/` };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { arch: { type: 'string' }, grep: { type: 'string' } } });
  const matrixPath = positionals[0] ?? DEFAULT_MATRIX;
  const filters: PlanFilters = { ...(values.arch && { arches: values.arch.split(',') }), ...(values.grep && { grep: values.grep }) };
  const cores = availableParallelism();
  console.log(`matrix ${matrixPath}${values.arch ? ` --arch ${values.arch}` : ''}${values.grep ? ` --grep ${values.grep}` : ''}, ${cores} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  // Ctrl-C stops both runs and still removes what the floor staged (tsx relays the terminal's
  // SIGINT a second time: every one is handled).
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => stop.abort(new Error(`stopped by ${signal}`));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const warmStart = Date.now();
  const prepared = await prepareRun({ matrixPath, filters, build: true, signal: stop.signal });
  console.log(`images built or found, probes compiled: ${((Date.now() - warmStart) / 1000).toFixed(1)} s (not counted)`);
  const excluded = new Map(prepared.cases.flatMap((p) => {
    const reason = excludedReason(p);
    return reason ? [[p.test, reason] as const] : [];
  }));
  const runnable = prepared.cases.filter((p) => !p.testCase.skip && !prepared.images.get(`${p.job.image.name}/${p.job.isa.name}`)!.blocked && !excluded.has(p.test));
  const runFilters = harnessFilters(filters, prepared.cases, new Set(excluded.keys()));

  const scratch = await mkdtemp(join(tmpdir(), 'bench-floor-'));
  try {
    const rootfsOf = (p: PlannedCase) => prepared.images.get(`${p.job.image.name}/${p.job.isa.name}`)!.facts.rootfs;
    const floorCases = await stageFloor(runnable, rootfsOf, scratch);
    stop.signal.throwIfAborted();
    console.log(`floor staged (not counted): ${describeRoots(floorCases)}`);
    const listFile = join(scratch, 'scripts.txt');
    await writeFile(listFile, floorCases.map((c) => c.script).join('\n') + '\n');

    const harnessStart = Date.now();
    const outcome = await runMatrix({ matrixPath, filters: runFilters, progress: 'quiet', junitPath: join(scratch, 'junit.xml'), jsonPath: join(scratch, 'results.json'), signal: stop.signal });
    const harnessSeconds = (Date.now() - harnessStart) / 1000;
    stop.signal.throwIfAborted();

    const floorStart = Date.now();
    // A session of its own: no controlling terminal for the guests, as the sandbox's setsid gives them.
    const xargs = execa('xargs', ['-a', listFile, '-d', '\n', '-P', String(cores), '-n', '1', 'sh'], { reject: false, detached: true });
    let killing: Promise<void> | undefined;
    const kill = () => (killing = killSession(xargs.pid!));
    stop.signal.addEventListener('abort', kill, { once: true });
    await xargs;
    await killing;
    stop.signal.removeEventListener('abort', kill);
    stop.signal.throwIfAborted();
    const floorSeconds = (Date.now() - floorStart) / 1000;

    const harnessResults = new Map(outcome.results.results.map((r) => [`${r.image}\0${r.isa}\0${r.suite}/${r.case}`, r]));
    const differing = await differingVerdicts(floorCases, harnessResults);
    const totals = outcome.summary.totals;
    const ratio = harnessSeconds / floorSeconds;
    console.log(`cases run: ${runnable.length} (${totals.passed} passed, ${totals.failed} failed, ${totals.known} known failures, ${totals.skipped} skipped)`);
    console.log(`harness run:            ${harnessSeconds.toFixed(1)} s  (target: under ${TARGET_SECONDS} s) ${harnessSeconds < TARGET_SECONDS ? 'OK' : 'MISSED'}`);
    console.log(`xargs -P ${cores} floor:       ${floorSeconds.toFixed(1)} s  (own pid/net/uts/ipc/mount namespaces, /proc, lo, /tmp tmpfs, minimal /dev per case)`);
    console.log(`ratio harness/floor:    ${ratio.toFixed(2)}x  (target: within ${TARGET_RATIO}x) ${ratio <= TARGET_RATIO ? 'OK' : 'MISSED'}`);
    console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log(`left out of both runs as unfair (bench/floor-cases.yaml): ${excluded.size}${[...excluded].map(([test, reason]) => `\n  ${test}: ${reason}`).join('')}`);
    console.log(`verdicts that differ between floor and harness: ${differing.length}${differing.length ? ` (both runs include them)\n  ${differing.join('\n  ')}` : ''}`);
  } finally {
    // Every mount the floor made lived in a case's own mount namespace; none may be left here.
    const stillMounted = (await readFile('/proc/mounts', 'utf8')).split('\n').some((line) => line.split(' ')[1]?.startsWith(scratch));
    if (stillMounted) throw new Error(`${scratch}: mounts remain; unmount them (umount -R) before removing it`);
    await rm(scratch, { recursive: true, force: true });
  }
}

await main();
