// Leaked cgroup parents, for real. A `harness run` SIGKILLed mid-case with its process group,
// or a library user ended by a SIGTERM it does not handle, runs no exit handler: the remover
// it started in a session of its own removes its harness-<pid> cgroups. Where that remover
// was killed too, the parents stay; the next run removes them at start, and leaves alone a
// live harness's parent, a dead run's parent that still holds a task, and anything not named
// as the harness names its cgroups.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isaByName } from '../harness/isa.ts';
import { REPO_ROOT } from '../harness/paths.ts';
import { CGROUP_PREFIX, limitMechanisms } from '../harness/sandbox/cgroup.ts';
import { buildImages } from '../images/build.ts';
import { descendantsOf } from './fixtures/processes.ts';

const x86_64 = isaByName('x86_64');
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('cgroup-sweep.test: skipped: needs root (cgroups, namespaces)');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}
const procsOf = async (cgroup: string) => (await readFile(join(cgroup, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n').filter(Boolean);

describe.skipIf(!isRoot)('cgroup parents left by a SIGKILLed run', () => {
  let work: string;
  /** The cgroups the harness makes its parents in (this process's own, per hierarchy). */
  let owns: string[] = [];
  const made: string[] = [];
  let busy: ReturnType<typeof execa> | undefined;

  /** A matrix running one static x86_64 binary (natively: no emulator needed) from `dir`. */
  const matrixFor = async (name: string, source: string) => {
    const dir = join(work, name, x86_64.name);
    await mkdir(dir, { recursive: true });
    const toolchain = (await buildImages({ arches: [x86_64] })).images.x86_64!.toolchain;
    await writeFile(join(work, `${name}.c`), source);
    await execa(toolchain.cc, [...toolchain.cflags, '-static', '-O2', '-o', join(dir, name), join(work, `${name}.c`)]);
    const matrix = join(work, `${name}.yaml`);
    await writeFile(matrix, `arches: [x86_64]\nimages: [built]\nsuites:\n  static: { path: './${name}/{arch}' }\ntimeouts: { case: 2m }\n`);
    return matrix;
  };
  /** `harness run` in a process group of its own, as a CI job runs it (and kills it). */
  const harnessRun = (matrix: string, name: string) =>
    execa('node', [join(REPO_ROOT, 'harness/bin.mjs'), 'run', matrix, '-q', '--json', join(work, `${name}.json`), '--junit', join(work, `${name}.xml`)], { reject: false, cwd: work, detached: true });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cgroup-sweep-'));
    const mechanisms = await limitMechanisms();
    owns = [...new Set([mechanisms.memory, mechanisms.pids].flatMap((m) => ('dir' in m ? [dirname(m.dir)] : [])))];
  });

  afterAll(async () => {
    busy?.kill('SIGKILL');
    await busy?.catch(() => undefined);
    for (const dir of made.reverse()) await rmdir(dir).catch(() => undefined);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('a run SIGKILLed with its process group, and a library user SIGTERMed with no handler, leave no cgroups: their removers remove them', async () => {
    expect(owns.length, 'no cgroup hierarchy delegates memory or pids here').toBeGreaterThan(0);
    const sleeper = await matrixFor('sleeper', '#include <unistd.h>\nint main(void) { sleep(60); return 0; }\n');
    const killed = harnessRun(sleeper, 'group-killed');
    const parents = owns.map((own) => join(own, `${CGROUP_PREFIX}${killed.pid!}`));
    await waitFor('the run\'s case to hold its task', async () => {
      for (const parent of parents) {
        const cases = (await readdir(parent).catch(() => [] as string[])).filter((n) => n.startsWith('case-'));
        if (!(await Promise.all(cases.map((n) => procsOf(join(parent, n))))).some((procs) => procs.length)) return undefined;
      }
      return true;
    });
    process.kill(-killed.pid!, 'SIGKILL');
    expect((await killed).signal).toBe('SIGKILL');
    await waitFor('the killed run\'s parents to go', async () => (parents.some(existsSync) ? undefined : true), 5000);

    // In-process, as the tests and any program using the library run it: its cgroups, then a
    // SIGTERM, whose default action ends the process without its exit handlers.
    const script = [
      `const { caseLimits } = await import(${JSON.stringify(join(REPO_ROOT, 'harness/sandbox/cgroup.ts'))});`,
      `const { DEFAULT_LIMITS } = await import(${JSON.stringify(join(REPO_ROOT, 'harness/limits.ts'))});`,
      `const { isaByName } = await import(${JSON.stringify(join(REPO_ROOT, 'harness/isa.ts'))});`,
      `await caseLimits(DEFAULT_LIMITS, isaByName('x86_64'), 'x86_64', { pid: undefined, alive: true });`,
      `console.log('made'); setInterval(() => {}, 1000);`,
    ].join('\n');
    const user = execa('node', ['--import', 'tsx', '--input-type=module', '-e', script], { reject: false, cwd: REPO_ROOT });
    const userParents = owns.map((own) => join(own, `${CGROUP_PREFIX}${user.pid!}`));
    // Ended the moment its parents exist: its remover must be running by then (it once started after them).
    await waitFor('the library user\'s cgroups', async () => (userParents.every(existsSync) ? true : undefined), 60_000, 1);
    user.kill('SIGTERM');
    expect((await user).signal).toBe('SIGTERM');
    await waitFor('the library user\'s parents to go', async () => (userParents.some(existsSync) ? undefined : true), 5000);
  });

  it('removes a killed run\'s parents at the next start, and nothing else', async () => {
    expect(owns.length, 'no cgroup hierarchy delegates memory or pids here').toBeGreaterThan(0);
    const sleeper = await matrixFor('sleeper', '#include <unistd.h>\nint main(void) { sleep(60); return 0; }\n');
    const quick = await matrixFor('quick', 'int main(void) { return 0; }\n');

    // A run killed in the middle of its case: its harness-<pid> (with case-<n>) stays behind.
    const killed = harnessRun(sleeper, 'killed');
    const pid = killed.pid!;
    const parents = owns.map((own) => join(own, `${CGROUP_PREFIX}${pid}`));
    await waitFor('the case cgroup of the first run, with its task', async () => {
      for (const parent of parents) {
        const cases = (await readdir(parent).catch(() => [] as string[])).filter((n) => n.startsWith('case-'));
        if (!cases.length || !(await procsOf(join(parent, cases[0]!))).length) return undefined;
      }
      return true;
    });
    // SIGKILL to the run's process group and to its remover: every process of it, as a runner
    // that kills a job's whole cgroup does. No exit handler runs, and nothing removes the parents.
    const removers = (await descendantsOf(pid)).filter((proc) => proc.cmd[1] === '--remove-cgroups');
    expect(removers).toHaveLength(1);
    for (const remover of removers) process.kill(remover.pid, 'SIGKILL');
    process.kill(-pid, 'SIGKILL');
    expect((await killed).signal).toBe('SIGKILL');
    // Its case's processes are gone with it; the cgroups are not: nothing removed them.
    await waitFor('the killed run\'s case to empty', async () => {
      for (const parent of parents) for (const name of await readdir(parent)) if (name.startsWith('case-') && (await procsOf(join(parent, name))).length) return undefined;
      return true;
    }, 30_000);
    for (const parent of parents) expect(existsSync(parent), parent).toBe(true);

    // Beside it: this live harness's own parent, a dead run's parent that still holds a task,
    // and cgroups named otherwise (made by this test, so it may make and remove them).
    const live = owns.map((own) => join(own, `${CGROUP_PREFIX}${process.pid}`));
    for (const dir of live) expect(existsSync(dir), dir).toBe(true);
    const exited = execa('true');
    const gone = exited.pid!;
    await exited;
    busy = execa('sleep', ['600']);
    const busyParents = owns.map((own) => join(own, `${CGROUP_PREFIX}${gone}`));
    const strangers = owns.flatMap((own) => [`${CGROUP_PREFIX}0${gone}`, `${CGROUP_PREFIX}${gone}x`, CGROUP_PREFIX].map((name) => join(own, name)));
    for (const parent of busyParents) {
      await mkdir(join(parent, 'case-1'), { recursive: true });
      made.push(parent, join(parent, 'case-1'));
      await writeFile(join(parent, 'case-1', 'cgroup.procs'), String(busy.pid));
    }
    for (const dir of strangers) {
      await mkdir(dir);
      made.push(dir);
    }

    // The next run sweeps at start, and passes.
    const nextRun = harnessRun(quick, 'next');
    const nextPid = nextRun.pid!;
    const next = await nextRun;
    expect(next.exitCode, next.stderr).toBe(0);
    for (const parent of parents) expect(existsSync(parent), `${parent} (the killed run's)`).toBe(false);
    for (const dir of live) expect(existsSync(dir), `${dir} (a live harness's)`).toBe(true);
    for (const parent of busyParents) {
      expect(existsSync(join(parent, 'case-1')), `${parent} (a dead run's, with a task)`).toBe(true);
      expect(await procsOf(join(parent, 'case-1'))).toEqual([String(busy.pid)]);
    }
    for (const dir of strangers) expect(existsSync(dir), `${dir} (not a harness name)`).toBe(true);
    // And the next run left nothing of its own.
    for (const own of owns) expect(existsSync(join(own, `${CGROUP_PREFIX}${nextPid}`))).toBe(false);
  });
});
