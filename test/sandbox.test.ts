// The sandbox on the real kernel with real QEMU: Alpine 3.20.3 minirootfs images, binfmt
// F-flag handlers, namespaces, overlayfs, timeouts and cleanup.
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, readlink, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureHandlers } from '../harness/host/binfmt.ts';
import { isaByName } from '../harness/isa.ts';
import { REPO_ROOT } from '../harness/paths.ts';
import {
  type HostSnapshot,
  guestEnv,
  hasLeaks,
  parseHelperStatus,
  runInSandbox,
  type SandboxRunOptions,
  sandboxLeaks,
  snapshotHost,
} from '../harness/sandbox/index.ts';
import { pruneOtherHelpers } from '../harness/sandbox/helper.ts';
import { capChunks } from '../harness/sandbox/output.ts';
import { descendantsOf } from './fixtures/processes.ts';

const TARBALLS = '/work/shared/alpine-minirootfs/3.20.3';
const IMAGE_ISAS = ['aarch64', 'armv7', 'x86_64'] as const;
const isRoot = process.getuid?.() === 0;
const haveTarballs = existsSync(TARBALLS);
const skipReason = !haveTarballs ? `Alpine tarballs absent (${TARBALLS})` : !isRoot ? 'needs root (binfmt registration)' : '';
if (skipReason) console.warn(`sandbox tests skipped: ${skipReason}`);

/** Command lines containing `text` of processes below this one (other work on the machine has its own sleepers). */
async function descendantsRunning(text: string): Promise<string[]> {
  const lines = (await descendantsOf(process.pid)).map(({ pid, cmd }) => `${pid} ${cmd.join(' ').trim()}`);
  return lines.filter((line) => line.slice(line.indexOf(' ') + 1).includes(text));
}

const tarball = (isa: string) => join(TARBALLS, `alpine-minirootfs-3.20.3-${isa}.tar.gz`);

describe('pure pieces', () => {
  it('parses helper status lines', () => {
    expect(parseHelperStatus('exit 3\n')).toEqual({ exitCode: 3, signal: null });
    expect(parseHelperStatus('signal 9\n')).toEqual({ exitCode: null, signal: 'SIGKILL' });
    expect(parseHelperStatus('error mount overlay: Invalid argument\n')).toEqual({ error: 'mount overlay: Invalid argument' });
    expect(parseHelperStatus('')).toHaveProperty('error');
  });
  it('puts QEMU_CPU in the guest env only for emulated ISAs that name one', () => {
    expect(guestEnv(isaByName('armv7'), {}, 'x86_64').QEMU_CPU).toBe('cortex-a7');
    expect(guestEnv(isaByName('aarch64'), {}, 'x86_64')).not.toHaveProperty('QEMU_CPU');
    expect(guestEnv(isaByName('x86_64'), { TZ: 'UTC' }, 'x86_64')).toEqual({ PATH: expect.any(String), HOME: '/root', TERM: 'dumb', TZ: 'UTC' });
  });
  it('caps output and says so', () => {
    expect(capChunks([Buffer.from('abcdef')], 6, 4)).toMatch(/^abcd\n\[harness: output truncated: 6 bytes/);
    expect(capChunks([Buffer.from('abc')], 3, 4)).toBe('abc');
  });
  it('reports only new mounts, helper processes and staging dirs', () => {
    const before: HostSnapshot = { mounts: ['a'], helperProcesses: new Map([[1, '/x/sandbox-run-ab']]), stagingDirs: ['harness-case-1'] };
    const after: HostSnapshot = { mounts: ['a', 'b'], helperProcesses: new Map([[1, '/x/sandbox-run-ab'], [2, '/x/sandbox-run-ab']]), stagingDirs: ['harness-case-1'] };
    expect(sandboxLeaks(before, after)).toEqual({ mounts: ['b'], processes: ['2 /x/sandbox-run-ab'], stagingDirs: [] });
    expect(hasLeaks(sandboxLeaks(before, before))).toBe(false);
  });
});

describe.skipIf(!!skipReason)(`sandbox on the real kernel${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let work: string;
  let before: HostSnapshot;
  const rootfs: Record<string, string> = {};
  const run = (isa: string, argv: string[], extra: Partial<SandboxRunOptions> = {}) =>
    runInSandbox({ rootfs: rootfs[isa]!, isa: isaByName(isa), argv, timeoutMs: 30_000, ...extra });
  const sh = (isa: string, script: string, extra: Partial<SandboxRunOptions> = {}) => run(isa, ['/bin/sh', '-c', script], extra);

  beforeAll(async () => {
    before = await snapshotHost();
    await ensureHandlers(IMAGE_ISAS.map((name) => isaByName(name)));
    work = await mkdtemp(join(tmpdir(), 'sandbox-test-'));
    for (const isa of IMAGE_ISAS) {
      rootfs[isa] = join(work, isa);
      await mkdir(rootfs[isa]!);
      await execa('tar', ['-xzf', tarball(isa), '-C', rootfs[isa]!, '--numeric-owner']);
    }
  });

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    const leaks = sandboxLeaks(before, await snapshotHost());
    expect(leaks).toEqual({ mounts: [], processes: [], stagingDirs: [] });
  });

  it.each([
    ['aarch64', 'aarch64'],
    ['armv7', 'armv7l'],
    ['x86_64', 'x86_64'],
  ])('%s: uname -m says what the ISA table says', async (isa) => {
    const result = await run(isa, ['uname', '-m']);
    expect(result).toMatchObject({ exitCode: 0, signal: null, timedOut: false, stdout: `${isaByName(isa).unameMachine}\n` });
  });

  it('runs a pipeline under emulation', async () => {
    const result = await sh('aarch64', "echo b a | tr ' ' '\\n' | sort | head -1");
    expect(result).toMatchObject({ exitCode: 0, stdout: 'a\n' });
  });

  it('gives the guest its own PID namespace: ps lists init and the guest only', async () => {
    const result = await sh('aarch64', 'echo $$; ps -o pid,args');
    const [pid, header, ...rows] = result.stdout.trim().split('\n');
    expect(Number(pid)).toBeLessThanOrEqual(2);
    expect(header).toMatch(/PID/);
    // ash execs the last command of -c itself, so ps may be the guest's pid 2.
    expect(rows.map((row) => Number(row.trim().split(/\s+/)[0])).every((p) => p <= 3)).toBe(true);
    expect(rows.length).toBeLessThanOrEqual(3);
    expect(rows[0]).toMatch(/^\s*1 init$/);
  });

  it('starts the guest in its working directory, over a shared read-only layer it can write over copy-on-write', async () => {
    const layer = join(work, 'layer');
    await mkdir(join(layer, 'opt', 'suite'), { recursive: true });
    await writeFile(join(layer, 'opt', 'suite', 'data'), 'from the layer\n');
    const script = 'pwd; cat data; echo changed > data; cat data; mkdir made';
    for (let i = 0; i < 2; i++) {
      expect(await sh('aarch64', script, { cwd: '/opt/suite', layers: [layer] })).toMatchObject({ exitCode: 0, stdout: '/opt/suite\nfrom the layer\nchanged\n' });
    }
    expect(existsSync(join(layer, 'opt', 'suite', 'made'))).toBe(false);
    const missing = await run('x86_64', ['/bin/true'], { cwd: '/no/such/dir' });
    expect(missing).toMatchObject({ exitCode: 126 });
    expect(missing.stderr).toMatch(/cannot change to the working directory \/no\/such\/dir/);
  });

  it('sends stderr where stdout goes when asked (2>&1, in the order written), without a shell: busybox --help', async () => {
    const mixed = await sh('aarch64', 'echo one; echo two >&2; echo three', { stderrToStdout: true });
    expect(mixed).toMatchObject({ exitCode: 0, stdout: 'one\ntwo\nthree\n', stderr: '' });
    const usage = await run('armv7', ['busybox', 'cat', '--help'], { stderrToStdout: true });
    expect(usage.stdout).toMatch(/^BusyBox v[^\n]* multi-call binary\.\n\nUsage: cat /);
    expect(usage.stderr).toBe('');
    expect((await run('armv7', ['busybox', 'cat', '--help'])).stdout).toBe('');
  });

  it("gives /tmp a real root's mode 1777 over an image that says otherwise, and the guest the harness's umask", async () => {
    const layer = join(work, 'tmp-0700');
    await mkdir(join(layer, 'tmp'), { recursive: true });
    await chmod(join(layer, 'tmp'), 0o700);
    const umask = (await readFile('/proc/self/status', 'utf8')).match(/^Umask:\s*(\d+)$/m)![1];
    const result = await sh('aarch64', 'stat -c %a /tmp; umask; touch /tmp/made; stat -c %a /tmp/made', { layers: [layer] });
    expect(result).toMatchObject({ exitCode: 0, stdout: `1777\n${umask}\n${(0o666 & ~parseInt(umask!, 8)).toString(8)}\n` });
  });

  it('sets the hostname and exit code', async () => {
    expect(await sh('x86_64', 'hostname; exit 7')).toMatchObject({ exitCode: 7, stdout: 'harness\n' });
  });

  it('has only loopback, up, and a guest can listen and connect on 127.0.0.1', async () => {
    const links = await sh('aarch64', "ip -o link | awk '{print $2, $3}'; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
    expect(links.stdout).toMatch(/^lo: <LOOPBACK,UP,LOWER_UP>\nlo\n$/);
    const chat = await sh('aarch64', 'nc -l -p 5555 > /tmp/got & sleep 1; echo ping | nc 127.0.0.1 5555; wait; cat /tmp/got');
    expect(chat).toMatchObject({ exitCode: 0, stdout: 'ping\n' });
  });

  it('keeps writes to /etc and /tmp out of the next case and off the host rootfs', async () => {
    const write = await sh('aarch64', 'echo leak > /etc/leak; echo leak > /tmp/leak; rm /etc/hostname; cat /etc/leak /tmp/leak');
    expect(write).toMatchObject({ exitCode: 0, stdout: 'leak\nleak\n' });
    const next = await sh('aarch64', 'ls /etc/leak /tmp/leak 2>&1; cat /etc/hostname');
    expect(next.stdout).toMatch(/No such file.*\n.*No such file.*\nlocalhost\n$/);
    expect(existsSync(join(rootfs.aarch64!, 'etc/leak'))).toBe(false);
    expect(existsSync(join(rootfs.aarch64!, 'etc/hostname'))).toBe(true);
  });

  it('places files and hostFiles, and feeds stdin', async () => {
    const hostFile = join(work, 'probe.sh');
    await writeFile(hostFile, '#!/bin/sh\necho probe "$@"\n');
    await chmod(hostFile, 0o755);
    const result = await sh('armv7', 'cat /tmp/in.txt; /usr/local/bin/probe x; stat -c %a /etc/mode; tr a-z A-Z', {
      files: [
        { path: '/tmp/in.txt', content: 'in file\n' },
        { path: '/etc/mode', content: Buffer.from('bin').toString('base64'), encoding: 'base64', mode: 0o600 },
      ],
      hostFiles: { '/usr/local/bin/probe': hostFile },
      stdin: 'from stdin\n',
    });
    expect(result).toMatchObject({ exitCode: 0, stdout: 'in file\nprobe x\n600\nFROM STDIN\n' });
  });

  it('names a hostFiles entry whose host file is missing, and the next case runs as before', async () => {
    const missing = join(work, 'never-built');
    await expect(sh('aarch64', 'true', { hostFiles: { '/opt/probe': missing } }))
      .rejects.toThrow(`sandbox: hostFiles['/opt/probe']: ${missing} does not exist: build it first or fix the path`);
    expect(await sh('aarch64', 'echo after')).toMatchObject({ exitCode: 0, stdout: 'after\n' });
  });

  it('reads /dev/null as stdin when none is given', async () => {
    expect(await sh('x86_64', 'wc -c; readlink /proc/self/fd/0')).toMatchObject({ stdout: '0\n/dev/null\n' });
  });

  it.each([
    ['sleep 100', 'sleep 100'],
    ['a backgrounded child', 'sleep 100 & sleep 100'],
  ])('kills %s on timeout, whole tree', async (_name, script) => {
    const started = Date.now();
    const result = await sh('aarch64', script, { timeoutMs: 1500 });
    expect(result).toMatchObject({ timedOut: true, exitCode: null, signal: 'SIGKILL' });
    expect(Date.now() - started).toBeLessThan(1500 + 1000);
    expect(sandboxLeaks(before, await snapshotHost()).processes).toEqual([]);
    expect(await descendantsRunning('sleep 100')).toEqual([]);
  });

  it("runs a slot's cases one after another, the next sent early: its timeout counts from its start, and a stop before then drops it unstarted", async () => {
    const started: number[] = [];
    const onStart = () => started.push(performance.now());
    const first = run('aarch64', ['sleep', '1'], { slot: 5, onStart });
    // Its second is within its 1 s only counted from its own start, after the first's second.
    const next = run('aarch64', ['sleep', '0.3'], { slot: 5, timeoutMs: 1000, onStart });
    const [a, b] = await Promise.all([first, next]);
    expect(a).toMatchObject({ exitCode: 0, timedOut: false });
    expect(b).toMatchObject({ exitCode: 0, timedOut: false });
    expect(started).toHaveLength(2);
    expect(started[1]! - started[0]!).toBeGreaterThanOrEqual(a.durationMs - 50);

    const controller = new AbortController();
    let droppedStarted = false;
    const running = run('aarch64', ['sleep', '1'], { slot: 5 });
    const dropped = run('aarch64', ['/bin/true'], { slot: 5, signal: controller.signal, onStart: () => (droppedStarted = true) });
    setTimeout(() => controller.abort(new Error('stopped by the test')), 200);
    await expect(dropped).rejects.toThrow('stopped by the test');
    expect(droppedStarted).toBe(false);
    expect(await running).toMatchObject({ exitCode: 0, timedOut: false });
    expect(await run('aarch64', ['/bin/true'], { slot: 5 })).toMatchObject({ exitCode: 0 });
  });

  it("runs a slot's waiting case on a new helper when the slot's helper dies before it started it", async () => {
    const first = run('aarch64', ['sleep', '37'], { slot: 6 });
    const next = run('aarch64', ['echo', 'after'], { slot: 6 });
    let helperPid: number | undefined;
    for (let tries = 0; tries < 100 && helperPid === undefined; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      for (const helper of (await descendantsOf(process.pid)).filter((p) => p.cmd.includes('--serve'))) {
        if ((await descendantsOf(helper.pid)).some((p) => p.cmd.includes('37'))) helperPid = helper.pid;
      }
    }
    expect(helperPid).toBeDefined();
    process.kill(helperPid!, 'SIGKILL');
    await expect(first).rejects.toThrow('the sandbox helper ended without a status');
    expect(await next).toMatchObject({ exitCode: 0, stdout: 'after\n' });
  });

  it('cancels on an AbortSignal and cleans up', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('Ctrl-C')), 500);
    await expect(sh('x86_64', 'sleep 100', { signal: controller.signal, files: [{ path: '/tmp/x', content: 'x' }] })).rejects.toThrow('Ctrl-C');
    expect(hasLeaks(sandboxLeaks(before, await snapshotHost()))).toBe(false);
  });

  it('copy fallback gives the same private view', async () => {
    const result = await sh('aarch64', 'echo x > /etc/leak; uname -m', { copyRootfs: true });
    expect(result).toMatchObject({ exitCode: 0, stdout: 'aarch64\n' });
    expect(existsSync(join(rootfs.aarch64!, 'etc/leak'))).toBe(false);
  });

  describe('emptyRoot with static binaries', () => {
    // No target libc here (only the cross compilers): a freestanding binary, raw syscalls.
    const syscall = {
      aarch64: { cc: 'aarch64-linux-gnu-gcc', nr: { uname: 160, write: 64, exit: 93 },
        asm: 'register long x8 asm("x8")=n, x0 asm("x0")=a, x1 asm("x1")=b, x2 asm("x2")=c; asm volatile("svc 0":"+r"(x0):"r"(x8),"r"(x1),"r"(x2):"memory"); return x0;' },
      x86: { cc: 'i686-linux-gnu-gcc', nr: { uname: 122, write: 4, exit: 1 },
        asm: 'long r; asm volatile("int $0x80":"=a"(r):"a"(n),"b"(a),"c"(b),"d"(c):"memory"); return r;' },
    } as const;
    const source = (s: (typeof syscall)[keyof typeof syscall]) => `
static long sys(long n, long a, long b, long c) { ${s.asm} }
void _start(void) {
  static char u[6 * 65]; char *m = u + 4 * 65; int len = 0;
  sys(${s.nr.uname}, (long)u, 0, 0);
  while (m[len]) len++;
  m[len++] = '\\n';
  sys(${s.nr.write}, 1, (long)"static ", 7); sys(${s.nr.write}, 1, (long)m, len); sys(${s.nr.exit}, 0, 0, 0);
  for (;;) {}
}
`;
    for (const [isa, spec] of Object.entries(syscall)) {
      const cc = spec.cc;
      const haveCc = existsSync(`/usr/bin/${cc}`);
      it.skipIf(!haveCc)(`${isa}: a static binary runs alone in an empty root${haveCc ? '' : ` (skipped: ${cc} absent)`}`, async () => {
        const c = join(work, `static-${isa}.c`);
        const binary = join(work, `static-${isa}`);
        await writeFile(c, source(spec));
        await execa(cc, ['-static', '-nostdlib', '-ffreestanding', '-fno-stack-protector', '-O1', '-o', binary, c]);
        const result = await runInSandbox({
          rootfs: rootfs.aarch64!,
          isa: isaByName(isa),
          argv: ['/probe'],
          hostFiles: { '/probe': binary },
          emptyRoot: true,
          timeoutMs: 30_000,
        });
        expect(result).toMatchObject({ exitCode: 0, stdout: `static ${isaByName(isa).unameMachine}\n` });
        const missing = await runInSandbox({ rootfs: rootfs.aarch64!, isa: isaByName(isa), argv: ['/bin/sh'], emptyRoot: true, timeoutMs: 30_000 });
        expect(missing).toMatchObject({ exitCode: 127, stderr: expect.stringMatching(/cannot run \/bin\/sh/) });
      });
    }
  });

  it('runs rootless as nobody (user namespace, rootfs extracted by that user)', async () => {
    const home = join(work, 'nobody');
    await mkdir(join(home, 'rootfs'), { recursive: true });
    await chown(home, 65534, 65534);
    await chown(join(home, 'rootfs'), 65534, 65534);
    await chmod(work, 0o755);
    const script = join(home, 'run.mts');
    await writeFile(
      script,
      `import { runInSandbox } from ${JSON.stringify(join(REPO_ROOT, 'harness/sandbox/index.ts'))};
import { isaByName } from ${JSON.stringify(join(REPO_ROOT, 'harness/isa.ts'))};
const r = await runInSandbox({ rootfs: ${JSON.stringify(join(home, 'rootfs'))}, isa: isaByName('aarch64'), timeoutMs: 30000,
  argv: ['/bin/sh', '-c', 'id -u; uname -m; hostname; echo w > /etc/w && cat /etc/w; ip -o link | cut -d: -f2'] });
console.log(JSON.stringify(r));`,
    );
    const asNobody = ['--reuid=65534', '--regid=65534', '--clear-groups', 'env', `HOME=${home}`, `HARNESS_CACHE=${join(home, 'cache')}`];
    await execa('setpriv', [...asNobody, 'tar', '-xzf', tarball('aarch64'), '-C', join(home, 'rootfs')]);
    const child = await execa('setpriv', [...asNobody, join(REPO_ROOT, 'node_modules/.bin/tsx'), script], { reject: false });
    expect(child.stderr).toBe('');
    const result = JSON.parse(child.stdout.trim().split('\n').pop()!);
    expect(result).toMatchObject({ exitCode: 0, stdout: '0\naarch64\nharness\nw\n lo\n' });
    expect(existsSync(join(home, 'rootfs/etc/w'))).toBe(false);
  });

  it('benchmark: per-case overhead against a bare chroot (printed, not asserted)', async () => {
    const rounds = 20;
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const lines: string[] = [];
    for (const isa of ['aarch64', 'x86_64']) {
      const bare: number[] = [];
      const sandboxed: number[] = [];
      for (let i = 0; i < rounds; i++) {
        let t = performance.now();
        await execa('chroot', [rootfs[isa]!, '/bin/true']);
        bare.push(performance.now() - t);
        t = performance.now();
        const result = await run(isa, ['/bin/true']);
        sandboxed.push(performance.now() - t);
        expect(result.exitCode).toBe(0);
      }
      lines.push(`${isa} /bin/true: chroot median ${median(bare).toFixed(1)} ms, runInSandbox median ${median(sandboxed).toFixed(1)} ms`);
    }
    console.log(`sandbox benchmark (${rounds} interleaved runs, execa from node):\n  ${lines.join('\n  ')}`);
    expect(lines).toHaveLength(2);
  });
});

describe('builds of other helper versions in the cache', () => {
  it('go once a new one is built, unless running, used lately, or being written by a live process', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'helper-prune-test-'));
    const build = (digit: string) => join(dir, `sandbox-run-${digit.repeat(16)}`);
    const month = Date.now() / 1000 - 30 * 24 * 3600;
    try {
      for (const path of [build('a'), build('b'), build('c'), build('d')]) await writeFile(path, '');
      await execa('cp', ['/bin/sleep', build('e')]);
      await writeFile(`${build('f')}.999999999.tmp`, '');
      await writeFile(`${build('f')}.${process.pid}.tmp`, '');
      await writeFile(join(dir, 'mnt-notes'), '');
      for (const path of [build('b'), build('c'), build('e'), join(dir, 'mnt-notes')]) await utimes(path, month, month);
      const running = execa(build('e'), ['30']);
      // Its exe link names the file once exec is done.
      for (let tries = 0; tries < 100 && !(await readlink(`/proc/${running.pid}/exe`).catch(() => '')).endsWith(build('e')); tries++) await new Promise((resolve) => setTimeout(resolve, 20));
      try {
        const removed = await pruneOtherHelpers(dir, build('a'));
        // a: the one kept; b, c: unused for a month; d: used today; e: running; f: a dead and a live process's partial builds.
        expect(removed.sort()).toEqual([`sandbox-run-${'b'.repeat(16)}`, `sandbox-run-${'c'.repeat(16)}`, `sandbox-run-${'f'.repeat(16)}.999999999.tmp`]);
        expect((await readdir(dir)).sort()).toEqual(['mnt-notes', `sandbox-run-${'a'.repeat(16)}`, `sandbox-run-${'d'.repeat(16)}`, `sandbox-run-${'e'.repeat(16)}`, `sandbox-run-${'f'.repeat(16)}.${process.pid}.tmp`].sort());
      } finally {
        running.kill('SIGKILL');
        await running.catch(() => undefined);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
