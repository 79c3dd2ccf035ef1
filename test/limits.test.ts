// Per-case limits on the real kernel under real QEMU: a static musl binary that touches 8 GiB
// on emulated aarch64 stopped at 512 MiB and named "out of memory", a fork bomb stopped by
// pids.max, /tmp filled, a gigabyte of stdout capped; afterwards no mount, process or cgroup
// of ours is left. Plus the pure pieces: cgroup discovery, merging and naming of limits.
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureHandlers } from '../harness/host/binfmt.ts';
import { isaByName } from '../harness/isa.ts';
import { DEFAULT_LIMITS, describeLimitHit, type Limits, mergeLimits } from '../harness/limits.ts';
import { loadMatrix } from '../harness/matrix/load.ts';
import { planJobs } from '../harness/matrix/plan.ts';
import { REPO_ROOT } from '../harness/paths.ts';
import { prepareImage } from '../harness/rootfs/index.ts';
import { limitMechanisms, ownCgroupDirs, ownCgroupLeaks } from '../harness/sandbox/cgroup.ts';
import { type HostSnapshot, runInSandbox, sandboxLeaks, snapshotHost } from '../harness/sandbox/index.ts';
import { judge } from '../harness/verdict.ts';
import { buildImages } from '../images/build.ts';

const MiB = 1024 ** 2;
const aarch64 = isaByName('aarch64');
const x86_64 = isaByName('x86_64');
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('limits.test: real runs skipped: needs root (cgroups, namespaces, binfmt)');

describe('limits: pure pieces', () => {
  it('finds its own v1 and v2 cgroups from /proc/self/cgroup and mountinfo', () => {
    const cgroup = '9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n0::/\n';
    const mountinfo = [
      '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
      '39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
      '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
    ].join('\n');
    expect(ownCgroupDirs(cgroup, mountinfo)).toEqual({
      v2: '/sys/fs/cgroup/unified', memory: '/sys/fs/cgroup/memory/process_api/abc', pids: '/sys/fs/cgroup/pids',
    });
    // A mount rooted below our cgroup's path (another cgroup namespace) does not lead to it.
    expect(ownCgroupDirs('4:memory:/a\n', '35 31 0:32 /b /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory')).toEqual({});
    // Pure v2: one line, one mount.
    expect(ownCgroupDirs('0::/user.slice/me\n', '30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw')).toEqual({ v2: '/sys/fs/cgroup/user.slice/me' });
  });

  it('merges matrix, suite and case limits and names each hit', () => {
    expect(mergeLimits(DEFAULT_LIMITS, { pids: 10 }, { memoryBytes: 512 * MiB, pids: undefined })).toEqual({ ...DEFAULT_LIMITS, pids: 10, memoryBytes: 512 * MiB });
    expect(describeLimitHit({ limit: 'memory', value: 512 * MiB })).toBe('out of memory (limit 512 MiB)');
    expect(describeLimitHit({ limit: 'pids', value: 64 })).toMatch(/process limit \(64 tasks\)/);
    expect(describeLimitHit({ limit: 'tmp', value: 16 * MiB })).toMatch(/writable space.*16 MiB/);
    expect(describeLimitHit({ limit: 'output', value: MiB })).toMatch(/output capped at 1 MiB/);
  });

  it('judges a SIGKILL with a memory hit as out of memory, not as a bare SIGKILL', () => {
    const attempt = { exitCode: null, signal: 'SIGKILL', timedOut: false, durationMs: 1, stdout: '', stderr: '', limitHits: [{ limit: 'memory' as const, value: 512 * MiB }] };
    expect(judge({ name: 'x', suite: 's', argv: ['x'], expect: {} }, attempt, 1000)).toEqual({ passed: false, message: 'out of memory (limit 512 MiB)' });
  });

  it('names a guest that died of a signal with its ISA, and an emulator crash as the emulator\'s', () => {
    const died = { exitCode: null, signal: 'SIGSEGV', timedOut: false, durationMs: 1, stdout: '', stderr: '' };
    const testCase = { name: 'x', suite: 's', argv: ['x'], expect: {} };
    expect(judge(testCase, died, 1000, aarch64).message).toBe('died of SIGSEGV (aarch64 guest)');
    const crashed = { ...died, signal: 'SIGABRT', stderr: "qemu-aarch64-static: ../../accel/tcg/cpu-exec.c:1000: cpu_exec: Assertion `x' failed.\n" };
    expect(judge(testCase, crashed, 1000, aarch64).message).toBe("the emulator crashed (qemu-aarch64-static, aarch64), not the guest: qemu-aarch64-static: ../../accel/tcg/cpu-exec.c:1000: cpu_exec: Assertion `x' failed.");
  });

  it('reads limits: from the matrix and from a suite, with did-you-mean for unknown keys', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'limits-matrix-'));
    try {
      const good = join(dir, 'good.yaml');
      await writeFile(good, 'images: [built]\narches: [aarch64]\nlimits: { memory: 512MiB, pids: 64 }\nsuites:\n  busybox: { limits: { tmp: 16MiB } }\n  image: {}\n');
      const matrix = await loadMatrix(good);
      expect(matrix.limits).toEqual({ ...DEFAULT_LIMITS, memoryBytes: 512 * MiB, pids: 64 });
      const jobs = planJobs(matrix).jobs;
      expect(jobs.find((job) => job.suite.name === 'busybox')!.limits).toEqual<Limits>({ ...DEFAULT_LIMITS, memoryBytes: 512 * MiB, pids: 64, tmpBytes: 16 * MiB });
      expect(jobs.find((job) => job.suite.name === 'image')!.limits.tmpBytes).toBe(DEFAULT_LIMITS.tmpBytes);
      const bad = join(dir, 'bad.yaml');
      await writeFile(bad, 'images: [built]\nlimits: { memroy: 1GiB, pids: -1 }\nsuites: { busybox: {} }\n');
      const error = (await loadMatrix(bad).catch((caught: unknown) => caught)) as Error;
      expect(error.message).toContain("bad.yaml:2: limits.memroy: unknown limit 'memroy' (did you mean 'memory'?)");
      expect(error.message).toMatch(/bad\.yaml:2: limits\.pids: expected a whole number of tasks/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** The highest memory use of any case cgroup of ours, and the lowest MemAvailable, sampled while `work` runs. */
async function sampled<T>(work: Promise<T>): Promise<{ value: T; casePeakBytes: number; minAvailableBytes: number }> {
  const mechanisms = await limitMechanisms();
  const parent = 'dir' in mechanisms.memory ? mechanisms.memory.dir : undefined;
  let casePeakBytes = 0;
  let minAvailableBytes = Infinity;
  let running = true;
  const sampler = (async () => {
    while (running) {
      const available = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
      if (available) minAvailableBytes = Math.min(minAvailableBytes, Number(available[1]) * 1024);
      for (const name of parent ? await readdir(parent).catch(() => []) : []) {
        if (!name.startsWith('case-')) continue;
        const usage = await readFile(join(parent!, name, 'memory.usage_in_bytes'), 'utf8').catch(() => '0');
        casePeakBytes = Math.max(casePeakBytes, Number(usage));
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  try {
    return { value: await work, casePeakBytes, minAvailableBytes };
  } finally {
    running = false;
    await sampler;
  }
}

describe.skipIf(!isRoot)('limits on the real kernel under QEMU', () => {
  let work: string;
  let before: HostSnapshot;
  let allocBinary: string;
  let rootfs: Record<string, string>;

  beforeAll(async () => {
    before = await snapshotHost();
    await ensureHandlers([aarch64]);
    work = await mkdtemp(join(tmpdir(), 'limits-test-'));
    // The built images (cached) give the aarch64 musl toolchain and small BusyBox roots.
    const built = await buildImages({ arches: [aarch64, x86_64] });
    const toolchain = built.images.aarch64!.toolchain;
    allocBinary = join(work, 'alloc-touch');
    await execa(toolchain.cc, [...toolchain.cflags, '-static', '-O2', '-o', allocBinary, join(REPO_ROOT, 'test/fixtures/limits/alloc-touch.c')]);
    rootfs = {};
    for (const isa of [aarch64, x86_64]) {
      const image = built.images[isa.name]!;
      rootfs[isa.name] = (await prepareImage({ kind: 'tarball', path: image.rootfsTarGz, sha512: image.sha512 }, isa)).rootfs;
    }
  });

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    if (!before) return;
    expect(sandboxLeaks(before, await snapshotHost())).toEqual({ mounts: [], processes: [], stagingDirs: [] });
    expect(await ownCgroupLeaks()).toEqual([]);
  });

  it('reports which mechanism enforces memory and pids here', async () => {
    const found = await limitMechanisms();
    // This host: v1 memory and pids hierarchies, no delegated v2 memory controller.
    expect(found.memory.kind).toMatch(/^cgroup[12]$/);
    expect(found.pids.kind).toMatch(/^cgroup[12]$/);
    const own = readFileSync('/proc/self/cgroup', 'utf8');
    const memoryPath = /^\d+:memory:(.*)$/m.exec(own)?.[1];
    if (found.memory.kind === 'cgroup1' && memoryPath) expect(found.memory.dir).toBe(join('/sys/fs/cgroup/memory', memoryPath, `harness-${process.pid}`));
  });

  it('stops an aarch64 guest touching 8 GiB at 512 MiB and calls it out of memory', async () => {
    const limits = { ...DEFAULT_LIMITS, memoryBytes: 512 * MiB };
    const { value: result, casePeakBytes, minAvailableBytes } = await sampled(
      runInSandbox({ rootfs: work, isa: aarch64, argv: ['/alloc-touch'], hostFiles: { '/alloc-touch': allocBinary }, emptyRoot: true, timeoutMs: 120_000, limits }),
    );
    expect(result.signal).toBe('SIGKILL');
    expect(result.timedOut).toBe(false);
    expect(result.limitHits).toContainEqual({ limit: 'memory', value: 512 * MiB });
    expect(result.stdout).toMatch(/touched (64|128|192|256|320|384|448) MiB\n$/);
    expect(judge({ name: 'alloc', suite: 'limits', argv: ['/alloc-touch'], expect: {} }, result, 120_000).message).toBe('out of memory (limit 512 MiB)');
    // The case never held more than its limit, and the host kept most of its memory.
    expect(casePeakBytes).toBeGreaterThan(128 * MiB);
    expect(casePeakBytes).toBeLessThanOrEqual(512 * MiB);
    expect(minAvailableBytes).toBeGreaterThan(2 * 1024 ** 3);
    expect(await ownCgroupLeaks()).toEqual([]);
  });

  it("charges a slot's next case, waiting behind an out-of-memory one, none of its hits, and waits to write other limits", async () => {
    const limits = { ...DEFAULT_LIMITS, memoryBytes: 512 * MiB };
    const started: string[] = [];
    const alloc = runInSandbox({ rootfs: work, isa: aarch64, argv: ['/alloc-touch'], hostFiles: { '/alloc-touch': allocBinary }, emptyRoot: true, timeoutMs: 120_000, limits, slot: 9, onStart: () => started.push('alloc') });
    const after = runInSandbox({ rootfs: rootfs.aarch64!, isa: aarch64, argv: ['/bin/true'], timeoutMs: 30_000, limits, slot: 9, onStart: () => started.push('true') });
    const [oom, next] = await Promise.all([alloc, after]);
    expect(oom.limitHits).toContainEqual({ limit: 'memory', value: 512 * MiB });
    expect(next).toMatchObject({ exitCode: 0, signal: null, limitHits: [] });
    expect(started).toEqual(['alloc', 'true']);
    // Another memory limit than the running case's: written once that one is done, and in force.
    const wide = { ...DEFAULT_LIMITS, memoryBytes: 1024 * MiB };
    const [again, roomier] = await Promise.all([
      runInSandbox({ rootfs: work, isa: aarch64, argv: ['/alloc-touch'], hostFiles: { '/alloc-touch': allocBinary }, emptyRoot: true, timeoutMs: 120_000, limits, slot: 9 }),
      runInSandbox({ rootfs: rootfs.aarch64!, isa: aarch64, argv: ['/bin/sh', '-c', 'cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null; true'], timeoutMs: 30_000, limits: wide, slot: 9 }),
    ]);
    expect(again.limitHits).toContainEqual({ limit: 'memory', value: 512 * MiB });
    expect(roomier).toMatchObject({ exitCode: 0, limitHits: [] });
    expect(await ownCgroupLeaks()).toEqual([]);
  });

  it('stops a fork bomb at pids.max and names the limit', async () => {
    const limits = { ...DEFAULT_LIMITS, pids: 40 };
    const result = await runInSandbox({ rootfs: rootfs.aarch64!, isa: aarch64, argv: ['/bin/sh', '-c', 'bomb() { bomb | bomb & }; bomb; sleep 60'], timeoutMs: 8000, limits });
    expect(result.limitHits).toContainEqual({ limit: 'pids', value: 40 });
    const message = judge({ name: 'bomb', suite: 'limits', argv: ['sh'], expect: {} }, result, 8000).message;
    expect(message).toMatch(/^hit the process limit \(40 tasks\)/);
    // Then the shell either hangs to the timeout or dies of a failed fork: both are fine, the limit is named first.
    expect(await ownCgroupLeaks()).toEqual([]);
  });

  it('caps the writable space (/tmp) and says the case filled it', async () => {
    const limits = { ...DEFAULT_LIMITS, tmpBytes: 16 * MiB };
    const result = await runInSandbox({ rootfs: rootfs.x86_64!, isa: x86_64, argv: ['/bin/sh', '-c', 'dd if=/dev/zero of=/tmp/fill bs=1M count=64 2>&1'], timeoutMs: 30_000, limits });
    expect(result.stdout).toMatch(/No space left on device/);
    expect(result.limitHits).toContainEqual({ limit: 'tmp', value: 16 * MiB });
    expect(judge({ name: 'fill', suite: 'limits', argv: ['sh'], expect: {} }, result, 30_000).message).toMatch(/^filled its writable space.*16 MiB/);
  });

  it('keeps the first MiB of a gigabyte of stdout, drains the rest and says it was capped', async () => {
    const heapBefore = process.memoryUsage().rss;
    const result = await runInSandbox({ rootfs: rootfs.x86_64!, isa: x86_64, argv: ['/bin/sh', '-c', 'dd if=/dev/zero bs=1M count=1024 2>/dev/null; echo done >&2'], timeoutMs: 60_000 });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe('done\n');
    expect(result.stdout).toMatch(/\[harness: output truncated: 1073741824 bytes, kept the first 1048576\]\n$/);
    expect(result.limitHits).toEqual([{ limit: 'output', value: MiB }]);
    expect(process.memoryUsage().rss - heapBefore).toBeLessThan(200 * MiB);
  });
});
