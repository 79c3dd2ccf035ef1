// Benchmark (not a test): the per-case cost. N trivial static cases per ISA
// (`int main(void){return 0;}`) through the harness's static suite, in one run against
//   - the bare floor: `xargs -P <cores> -L 1 chroot ROOT /opt/static/tN`, ROOT with /proc;
//   - the sandbox helper alone: one `sandbox-run --serve` per slot of jobs: auto, fed the same case requests
//     the harness sends (the binary copied in, each slot's own cgroups; from a file, no Node),
//     so the Node-side share shows;
// then scaling: harness, helper alone and floor at jobs 1, 2, 4, ... up to the core count and
// past it. The helper alone is the sandbox with no Node at all, each slot's next case already
// in its pipe: how far the harness could scale if Node took no time.
//
//   npx tsx bench/micro.ts [cases-per-isa] [isa ...]     (default: 300 on aarch64 and s390x)
//
// and Node's side alone: the harness against a stand-in helper (bench/instant-helper.c) that
// answers every case at once and runs nothing, at N cases and at 2 (the fixed cost), in a
// cache of its own whose entries link to the real one's;
// Wall and CPU (user + sys of the whole process tree, from /usr/bin/time) are printed for
// each, after one untimed warm-up run of each; the jobs: auto comparison and the scaling
// rounds each run REPEATS times, interleaved, and their ratios are of the medians (these
// machines are noisy). Targets: harness within 1.5x of the floor's wall at 600 cases, a
// Node-side share under 0.5 ms per case, and at jobs 2 at least 1.8x the speed of jobs 1 on
// 2 cores. Last, where a case's time goes: the helper alone at jobs 1 and 2 under `perf
// record` of the scheduler's tracepoints (bench/case-phases.ts), when perf is here. Touches
// nothing outside its temp dir (the /proc mounts it makes there are removed before it ends;
// perf runs in a mount namespace of its own).
import { chmod, copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, machine, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import { isaByName, type Isa } from '../harness/isa.ts';
import { cacheRoot, REPO_ROOT } from '../harness/paths.ts';
import { prepareRun } from '../harness/run.ts';
import { autoJobs } from '../harness/scheduler.ts';
import { DEFAULT_LIMITS } from '../harness/limits.ts';
import { guestEnv, helperArgs, servedArgs } from '../harness/sandbox/index.ts';
import { encodeRequest } from '../harness/sandbox/server.ts';
import { caseLimits } from '../harness/sandbox/cgroup.ts';
import { sandboxHost } from '../harness/sandbox/helper.ts';
import { buildImages } from '../images/build.ts';
import { median } from './median.ts';
import { perfAvailable, phaseLines, tracePhases } from './case-phases.ts';

const perIsa = Number(process.argv[2] ?? 300);
const isas = (process.argv.length > 3 ? process.argv.slice(3) : ['aarch64', 's390x']).map(isaByName);
const cores = availableParallelism();
const total = perIsa * isas.length;
const GUEST_DIR = '/opt/static';
const TRIVIAL = 'int main(void) { return 0; }\n';
/** Runs of the jobs: auto comparison, interleaved; the figures are their medians. */
const REPEATS = 3;
/** The `harness` command as installed. */
const LAUNCHER = join(REPO_ROOT, 'harness', 'launcher.sh');

interface Timing {
  wall: number;
  cpu: number;
}

/** One run each of the harness, the floor and the helper alone. */
interface Trio {
  h: Timing;
  f: Timing;
  a: Timing;
}

/** Runs a command under /usr/bin/time: wall and CPU of it and everything it waited for. */
async function timed(argv: string[], options: { env?: Record<string, string> } = {}): Promise<Timing> {
  const out = join(scratch, `time-${Math.random().toString(36).slice(2)}`);
  await execa('/usr/bin/time', ['-f', '%e %U %S', '-o', out, ...argv], { env: options.env, stdio: ['ignore', 'ignore', 'pipe'] });
  const [wall, user, sys] = (await readFile(out, 'utf8')).trim().split(/\s+/).map(Number) as [number, number, number];
  return { wall, cpu: user + sys };
}

const scratch = await mkdtemp(join(tmpdir(), 'bench-micro-'));
const procMounts: string[] = [];
try {
  const built = await buildImages({ arches: isas });
  // The binaries: one static build per ISA, copied to N files so each is a case of its own.
  const source = join(scratch, 'trivial.c');
  await writeFile(source, TRIVIAL);
  for (const isa of isas) {
    const toolchain = built.images[isa.name]!.toolchain;
    const dir = join(scratch, 'bin', isa.name);
    await mkdir(dir, { recursive: true });
    await execa(toolchain.cc, [...toolchain.cflags, '-static', '-O2', '-o', join(dir, 't'), source]);
    for (let n = 0; n < perIsa; n++) await copyFile(join(dir, 't'), join(dir, `t${n}`));
    await rm(join(dir, 't'));
    for (let n = 0; n < perIsa; n++) await chmod(join(dir, `t${n}`), 0o755);
  }
  // One binary per ISA: the stand-in runs' fixed cost.
  for (const isa of isas) {
    await mkdir(join(scratch, 'one', isa.name), { recursive: true });
    await copyFile(join(scratch, 'bin', isa.name, 't0'), join(scratch, 'one', isa.name, 't0'));
  }
  const matrixFor = (jobs: number | 'auto', binaries = 'bin') => {
    const path = join(scratch, `micro-${binaries}-${jobs}.yaml`);
    return writeFile(path, [
      'name: micro', `arches: [${isas.map((i) => i.name).join(', ')}]`, 'images:', '  - built',
      'suites:', `  static: { path: '${join(scratch, binaries)}/{arch}' }`, `jobs: ${jobs}`, '',
    ].join('\n')).then(() => path);
  };
  // Extraction, ISA checks and the helper build happen here, before anything is timed.
  const prepared = await prepareRun({ matrixPath: await matrixFor(cores), build: true });
  const helper = await sandboxHost();

  // One environment for every line, as the sandbox gives it (so no ISA with a QEMU CPU model).
  const env = guestEnv(isas[0]!);
  if (isas.some((isa) => JSON.stringify(guestEnv(isa)) !== JSON.stringify(env))) throw new Error('choose ISAs whose guests share one environment (no QEMU_CPU model), e.g. aarch64 s390x');
  // Floor roots and helper lowers: the image with the binaries in place; the floor's with /proc.
  const floorLines: string[] = [];
  const served: Array<{ isa: Isa; rootfs: string; guest: string; host: string }> = [];
  const rootOf = new Map<Isa, string>();
  for (const isa of isas) {
    const image = [...prepared.images.values()].find((i) => i.isa === isa)!;
    const root = join(scratch, 'roots', isa.name);
    await cp(image.facts.rootfs, root, { recursive: true, verbatimSymlinks: true });
    await cp(join(scratch, 'bin', isa.name), join(root, GUEST_DIR.slice(1)), { recursive: true });
    rootOf.set(isa, root);
    for (let n = 0; n < perIsa; n++) {
      floorLines.push(`${root} ${GUEST_DIR}/t${n}`);
      served.push({ isa, rootfs: image.facts.rootfs, guest: `${GUEST_DIR}/t${n}`, host: join(scratch, 'bin', isa.name, `t${n}`) });
    }
  }
  // Interleaved like the harness interleaves ISAs.
  const interleave = <T>(lines: T[]) => lines.map((line, i) => ({ line, key: (i % perIsa) * isas.length + Math.floor(i / perIsa) })).sort((a, b) => a.key - b.key).map((e) => e.line);
  // The helper alone: the requests the harness sends (the binary copied in, the slot's own
  // cgroups with the default limits), dealt round-robin to one request file per job slot.
  // As many slots as the harness starts with for jobs: auto, so both run as many cases at once.
  const slots = autoJobs(cores);
  const levels = [...new Set([1, 2, 4, 8, 16, 32, 64].filter((j) => j < cores).concat(cores, cores * 2, cores * 3))];
  const slotCgroups = await Promise.all(Array.from({ length: Math.max(slots, ...levels) }, () => caseLimits(DEFAULT_LIMITS, isas[0]!, machine(), { pid: undefined, alive: true })));
  /** One request file per slot, for `count` slots. */
  const requestFilesFor = async (count: number): Promise<string[]> => {
    const requests = interleave(served).map(({ isa, rootfs, guest, host }, n) => {
      const cgroups = slotCgroups[n % count]!;
      const args = helperArgs({ mountPoint: helper.mountPoint, lowers: [rootfs], isa, rootless: false, tmpfsBytes: DEFAULT_LIMITS.tmpBytes, cgroups: cgroups.dirs, rlimitAs: cgroups.rlimitAs, hostFiles: { [guest]: host }, argv: [guest] });
      return encodeRequest(`c${n}`, servedArgs(env, DEFAULT_LIMITS.outputBytes, false, args), undefined);
    });
    const files: string[] = [];
    for (let slot = 0; slot < count; slot++) {
      files.push(join(scratch, `requests-${count}-${slot}`));
      await writeFile(files[slot]!, requests.filter((_, n) => n % count === slot).join(''));
    }
    return files;
  };
  const requestFiles = new Map<number, string[]>();
  for (const count of new Set([slots, ...levels])) requestFiles.set(count, await requestFilesFor(count));
  const floorList = join(scratch, 'floor.txt');
  await writeFile(floorList, interleave(floorLines).join('\n') + '\n');

  const harness = (jobs: number | 'auto', binaries = 'bin', env: Record<string, string> = {}) => matrixFor(jobs, binaries).then((matrix) =>
    timed([LAUNCHER, 'run', matrix, '--quiet', '--junit', join(scratch, 'junit.xml'), '--json', join(scratch, 'results.json')], { env }));
  // The stand-in's cache: the real cache's entries (images, extracted roots), but sandbox/
  // holds the stand-in under the helper's own name.
  const standInCache = join(scratch, 'stand-in-cache');
  await mkdir(join(standInCache, 'sandbox', 'mnt'), { recursive: true });
  for (const entry of await readdir(cacheRoot())) if (entry !== 'sandbox') await symlink(join(cacheRoot(), entry), join(standInCache, entry));
  await execa('cc', ['-O2', '-Wall', '-o', join(standInCache, 'sandbox', basename(helper.helper)), join(REPO_ROOT, 'bench', 'instant-helper.c')]);
  const nodeAlone = (binaries: string) => harness('auto', binaries, { HARNESS_CACHE: standInCache });
  const floor = (jobs: number) => timed(['xargs', '-a', floorList, '-P', String(jobs), '-L', '1', 'chroot'], { env });
  const helperAloneArgv = (count: number) => ['sh', '-c', 'for f in "$@"; do "$0" --serve $$ < "$f" > /dev/null & done; wait', helper.helper, ...requestFiles.get(count)!];
  const helperAlone = (count: number) => timed(helperAloneArgv(count));

  // The floor's roots get /proc only while it runs: the helper's lowers must not carry it.
  const floorWithProc = async (jobs: number) => {
    for (const root of rootOf.values()) {
      await execa('mount', ['-t', 'proc', 'proc', join(root, 'proc')]);
      procMounts.push(join(root, 'proc'));
    }
    try {
      return await floor(jobs);
    } finally {
      for (const proc of procMounts.splice(0)) await execa('umount', [proc]);
    }
  };
  // Each once untimed, so every timed run is a warm one: the CLI's code cache (its first run
  // after a build writes it), the emulators and binaries in the page cache, the kernel's slabs.
  await harness('auto');
  await floorWithProc(cores);
  await helperAlone(slots);
  console.log(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  // As users run it: jobs: auto.
  const runs: Trio[] = [];
  for (let repeat = 0; repeat < REPEATS; repeat++) runs.push({ h: await harness('auto'), f: await floorWithProc(cores), a: await helperAlone(slots) });
  const medianOfRuns = (pick: (run: Trio) => number) => median(runs.map(pick));
  const h = { wall: medianOfRuns((r) => r.h.wall), cpu: medianOfRuns((r) => r.h.cpu) };
  const f = { wall: medianOfRuns((r) => r.f.wall), cpu: medianOfRuns((r) => r.f.cpu) };
  const a = { wall: medianOfRuns((r) => r.a.wall), cpu: medianOfRuns((r) => r.a.cpu) };
  const startup = await timed([LAUNCHER, '--version']);
  const perCaseMs = (seconds: number) => ((seconds * 1000) / total).toFixed(2);
  const walls = (pick: (run: Trio) => Timing) => runs.map((r) => pick(r).wall.toFixed(2)).join(', ');
  console.log(`${total} trivial cases (${perIsa} per ISA on ${isas.map((i) => i.name).join(', ')}), ${cores} cores, ${REPEATS} runs each, interleaved; medians`);
  console.log(`harness (CLI, jobs: auto = ${autoJobs(cores)}): wall ${h.wall.toFixed(2)} s  cpu ${h.cpu.toFixed(2)} s   (walls ${walls((r) => r.h)})`);
  console.log(`xargs -P ${cores} chroot (floor):   wall ${f.wall.toFixed(2)} s  cpu ${f.cpu.toFixed(2)} s   (walls ${walls((r) => r.f)})`);
  console.log(`${slots} x helper --serve alone:  wall ${a.wall.toFixed(2)} s  cpu ${a.cpu.toFixed(2)} s   (walls ${walls((r) => r.a)})`);
  const ratio = h.wall / f.wall;
  console.log(`harness / floor: ${ratio.toFixed(2)}x wall, ${(h.cpu / f.cpu).toFixed(2)}x cpu (target within 1.5x wall) ${ratio <= 1.5 ? 'OK' : 'MISSED'}`);
  console.log(`  helper alone / floor: ${(a.wall / f.wall).toFixed(2)}x wall (the sandbox's own share, with no Node)`);
  const nodeShare = (h.wall - a.wall) / total * 1000;
  console.log(`Node-side share: ${nodeShare.toFixed(2)} ms wall, ${perCaseMs(h.cpu - a.cpu)} ms cpu per case (target under 0.5 ms) ${nodeShare < 0.5 ? 'OK' : 'MISSED'}`);
  console.log(`  of which start-up (harness --version ${startup.wall.toFixed(2)} s): ${perCaseMs(startup.wall)} ms per case`);
  // Node's side alone, with no sandbox to compete with for the cores.
  await nodeAlone('bin');
  const alone: Array<{ all: Timing; two: Timing }> = [];
  for (let repeat = 0; repeat < REPEATS; repeat++) alone.push({ all: await nodeAlone('bin'), two: await nodeAlone('one') });
  const all = { wall: median(alone.map((r) => r.all.wall)), cpu: median(alone.map((r) => r.all.cpu)) };
  const two = { wall: median(alone.map((r) => r.two.wall)), cpu: median(alone.map((r) => r.two.cpu)) };
  const perCaseOver = (seconds: number) => ((seconds * 1000) / (total - isas.length)).toFixed(2);
  console.log(`Node's side alone (an instant stand-in helper, no sandbox): ${total} cases wall ${all.wall.toFixed(2)} s cpu ${all.cpu.toFixed(2)} s; ${isas.length} cases (the fixed cost) wall ${two.wall.toFixed(2)} s cpu ${two.cpu.toFixed(2)} s; per case ${perCaseOver(all.wall - two.wall)} ms wall, ${perCaseOver(all.cpu - two.cpu)} ms cpu`);

  // Past the core count too: set-up waits on the kernel, so more cases in flight may pay (jobs: auto follows this).
  // Every level once a round, REPEATS rounds: a machine that speeds up or slows down mid-run
  // moves every level alike, so the speed-ups are of medians taken over the same stretch.
  const rounds: Array<Map<number, Trio>> = [];
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    const round = new Map<number, Trio>();
    for (const jobs of levels) round.set(jobs, { h: await harness(jobs), a: await helperAlone(jobs), f: await floorWithProc(jobs) });
    rounds.push(round);
  }
  const wallAt = (jobs: number, pick: keyof Trio) => median(rounds.map((round) => round.get(jobs)![pick].wall));
  console.log(`scaling (speed-up against jobs 1; medians of ${REPEATS} rounds, each level once a round):`);
  const column = (jobs: number, pick: keyof Trio) => `${wallAt(jobs, pick).toFixed(2)} s (${(wallAt(1, pick) / wallAt(jobs, pick)).toFixed(2)}x)`;
  for (const jobs of levels) {
    console.log(`  jobs ${String(jobs).padStart(2)}${jobs > cores ? ` (${jobs / cores}x cores)` : ''}: harness ${column(jobs, 'h')}   helper alone ${column(jobs, 'a')}   floor ${column(jobs, 'f')}`);
    if (jobs === 2) {
      const speedUp = wallAt(1, 'h') / wallAt(2, 'h');
      console.log(`  harness jobs 2 against jobs 1: ${speedUp.toFixed(2)}x (target at least 1.8x) ${speedUp >= 1.8 ? 'OK' : 'MISSED'}`);
    }
  }
  // Where a case's time goes, and what the slots wait on at jobs 1 and 2 (needs perf, linux-perf).
  if (await perfAvailable()) {
    for (const jobs of [1, 2]) console.log(phaseLines(`helper alone, jobs ${jobs}, under perf`, await tracePhases(helperAloneArgv(jobs), helper.helper, scratch)).join('\n'));
  } else console.log('phases: not traced (no perf here: apt-get install linux-perf)');
  console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
} finally {
  for (const proc of procMounts) await execa('umount', [proc], { reject: false });
  const left = (await readFile('/proc/mounts', 'utf8')).split('\n').some((line) => line.split(' ')[1]?.startsWith(scratch));
  if (left) throw new Error(`${scratch}: mounts remain; unmount them before removing it`);
  await rm(scratch, { recursive: true, force: true });
}
