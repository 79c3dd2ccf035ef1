// The musl suite: its probe table and cases (pure), then the real thing: every probe
// compiled with the ISA's musl toolchain from the image build, checked as a static ELF for
// the ISA, and run under qemu-user in the sandbox, in an Alpine root and in an empty root.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import PQueue from 'p-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestCase } from '../harness/case.ts';
import { elfMismatch, readElf } from '../harness/elf.ts';
import { ensureHandlers } from '../harness/host/binfmt.ts';
import { type Isa, isaByName } from '../harness/isa.ts';
import { runCase } from '../harness/run-case.ts';
import { type HostSnapshot, sandboxLeaks, snapshotHost } from '../harness/sandbox/index.ts';
import { compilePrograms, PROBES_DIR, programKey } from '../harness/suites/musl/compile.ts';
import { EMPTY_ROOT_SUFFIX, muslSuite, probeCases, readExpectedOutputs } from '../harness/suites/musl/index.ts';
import { guestPath, PROBES, programNames } from '../harness/suites/musl/probes.ts';
import { judge } from '../harness/verdict.ts';
import { imagesForTest } from './built-images.ts';

const TARBALLS = '/work/shared/alpine-minirootfs/3.20.3';
/**
 * x86_64 and aarch64 must pass; s390x (big-endian), armv7 and x86 (32-bit: time64) run too
 * when their toolchains are built.
 */
const RUN_ISAS = ['x86_64', 'aarch64', 's390x', 'armv7', 'x86'];
/** Static binaries need no matching userland: ISAs without a tarball run in the aarch64 root. */
const FALLBACK_ROOT_ISA = 'aarch64';
/**
 * Probe cases known to fail under qemu-user 7.2, per ISA. s390x: QEMU's stat/fstat/fstatat
 * translation returns tv_nsec 0 (the host file has the nanoseconds the guest set).
 */
const KNOWN_FAILURES: Record<string, string[]> = {
  s390x: ['file-times', `file-times${EMPTY_ROOT_SUFFIX}`],
};

const isRoot = process.getuid?.() === 0;
const tarball = (isa: string) => join(TARBALLS, `alpine-minirootfs-3.20.3-${isa}.tar.gz`);
const images = await imagesForTest(RUN_ISAS);
const toolchains = new Map([...images].map(([name, { image }]) => [name, image?.toolchain]));
const kernelSkip = !isRoot ? 'needs root (namespaces, binfmt)' : !existsSync(tarball(FALLBACK_ROOT_ISA)) ? `Alpine tarballs absent (${TARBALLS})` : '';
if (kernelSkip) console.warn(`musl-suite.test: real runs skipped: ${kernelSkip}`);
for (const [name, { why }] of images) {
  if (why) console.warn(`musl-suite.test: ${name} skipped: ${why}`);
}

/** The parent PID from /proc/<pid>/stat, or undefined once the process is gone. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

describe('musl suite: probes and cases', () => {
  const isa = isaByName('aarch64');
  const fakeBinaries = new Map(programNames().map((name) => [name, `/host/${name}`]));

  it('has at least 25 probes with unique names, each with a source and, when crossIsa, an expected output', async () => {
    const names = PROBES.map((p) => p.name);
    expect(names.length).toBeGreaterThanOrEqual(25);
    expect(new Set(names).size).toBe(names.length);
    const sources = (await readdir(PROBES_DIR)).filter((f) => f.endsWith('.c')).map((f) => f.slice(0, -2)).sort();
    expect(sources).toEqual([...programNames()].sort());
    const expected = readExpectedOutputs();
    expect([...expected.keys()].sort()).toEqual(PROBES.filter((p) => p.crossIsa).map((p) => p.name).sort());
    for (const [name, output] of expected) expect(output, name).toMatch(/\S\n$/);
  });

  it('makes each probe a case in the image and one in an empty root, carrying its binary and helpers', async () => {
    const cases = probeCases(isa, { binaries: fakeBinaries }, readExpectedOutputs());
    expect(cases).toHaveLength(2 * PROBES.length);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
    const dns = cases.filter((c) => c.name.startsWith('dns-lookup'));
    expect(dns.map((c) => [c.name, c.emptyRoot ?? false])).toEqual([['dns-lookup', false], [`dns-lookup${EMPTY_ROOT_SUFFIX}`, true]]);
    for (const c of dns) {
      expect(c.hostFiles).toEqual({ [guestPath('dns-lookup')]: '/host/dns-lookup', [guestPath('dns-responder')]: '/host/dns-responder' });
      expect(c.argv).toEqual([guestPath('dns-lookup'), guestPath('dns-responder')]);
      expect(c.files?.map((f) => f.path)).toContain('/etc/resolv.conf');
    }
    const passwd = cases.filter((c) => c.name.startsWith('passwd'));
    expect(passwd.map((c) => c.files?.map((f) => f.path) ?? [])).toEqual([[], ['/etc/passwd', '/etc/group']]);
    for (const c of cases) {
      expect(c).toMatchObject({ suite: 'musl', expect: { exitCode: 0 } });
      expect(c.skip).toBeUndefined();
      expect(c.crossIsa ? c.expect.stdout : c.expect.stdoutMatches).toBeTruthy();
    }
  });

  it('passes the ISA row to the layout probe and expects what follows from it', async () => {
    const expected = readExpectedOutputs();
    const layout = (name: string) => probeCases(isaByName(name), { binaries: fakeBinaries }, expected).find((c) => c.name === 'layout')!;
    expect(layout('s390x').argv.slice(1)).toEqual(['big', '64']);
    expect(layout('armv7').argv.slice(1)).toEqual(['little', '32']);
    const armv7 = new RegExp(layout('armv7').expect.stdoutMatches!, 'm');
    expect(armv7.test('endian little\nbits 32\nsizeof short 2 int 4 long 4 long long 8 pointer 4 size_t 4\nsizeof off_t 8 time_t 8\noffsetof mixed: s 2 i 4 l 8\nISA-specific: x\n')).toBe(true);
    expect(armv7.test('endian little\nbits 64\nsizeof short 2 int 4 long 8 long long 8 pointer 8 size_t 8\nsizeof off_t 8 time_t 8\noffsetof mixed: s 2 i 4 l 8\nISA-specific: x\n')).toBe(false);
  });

  it('skips every case, with the reason, when the ISA has no toolchain', async () => {
    const cases = await muslSuite.cases({ isa, image: { ref: 'built', digest: 'sha256:0', rootfs: '/nowhere', applets: [], defaultCmd: ['/bin/sh'] }, settings: {} });
    expect(cases).toHaveLength(2 * PROBES.length);
    for (const c of cases) expect(c.skip).toMatch(/no musl toolchain for aarch64/);
  });

  it('keys the probe cache by source, compiler, flags and a rebuilt libc', () => {
    const base = programKey('int main(){}', 'h', { cc: '/a/musl-gcc', cflags: [] });
    expect(programKey('int main(){}', 'h', { cc: '/a/musl-gcc', cflags: [] })).toBe(base);
    expect(programKey('int main(){return 1;}', 'h', { cc: '/a/musl-gcc', cflags: [] })).not.toBe(base);
    expect(programKey('int main(){}', 'h2', { cc: '/a/musl-gcc', cflags: [] })).not.toBe(base);
    expect(programKey('int main(){}', 'h', { cc: '/b/musl-gcc', cflags: [] })).not.toBe(base);
    expect(programKey('int main(){}', 'h', { cc: '/a/musl-gcc', cflags: ['-mlong-double-64'] })).not.toBe(base);
    // A sysroot rebuilt in place (a musl bisect's) keys its probes by its libc too.
    const rebuilt = programKey('int main(){}', 'h', { cc: '/a/musl-gcc', cflags: [], libcDigest: '1' });
    expect(rebuilt).not.toBe(base);
    expect(programKey('int main(){}', 'h', { cc: '/a/musl-gcc', cflags: [], libcDigest: '2' })).not.toBe(rebuilt);
  });
});

describe.skipIf(!!kernelSkip)(`musl probes on the real kernel${kernelSkip ? ` (skipped: ${kernelSkip})` : ''}`, () => {
  let work: string;
  let before: HostSnapshot;
  const roots = new Map<string, string>();

  beforeAll(async () => {
    before = await snapshotHost();
    work = await mkdtemp(join(tmpdir(), 'musl-suite-test-'));
    await ensureHandlers(RUN_ISAS.filter((name) => toolchains.get(name)).map((name) => isaByName(name)));
  });

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    // Other suites' tests may run sandboxes on this host meanwhile: only our children count.
    const leaks = sandboxLeaks(before, await snapshotHost());
    const ours = leaks.processes.filter((line) => parentOf(Number(line.split(' ')[0])) === process.pid);
    expect({ mounts: leaks.mounts, processes: ours }).toEqual({ mounts: [], processes: [] });
  });

  /** The Alpine minirootfs of the ISA (or the fallback's), extracted once. */
  async function rootFor(isa: Isa): Promise<string> {
    const rootIsa = existsSync(tarball(isa.name)) ? isa.name : FALLBACK_ROOT_ISA;
    let root = roots.get(rootIsa);
    if (!root) {
      root = join(work, `root-${rootIsa}`);
      await mkdir(root);
      await execa('tar', ['-xzf', tarball(rootIsa), '-C', root, '--numeric-owner']);
      roots.set(rootIsa, root);
    }
    return root;
  }

  describe.each(RUN_ISAS)('%s', (name) => {
    const isa = isaByName(name);
    const toolchain = toolchains.get(name);
    let cases: TestCase[] = [];

    it.skipIf(!toolchain)(`compiles every probe to a static ${isa.elf.machineName} ELF${toolchain ? '' : ' (skipped: no toolchain)'}`, async () => {
      const outDir = join(work, `probes-${name}`);
      const report = await compilePrograms(programNames(), { isa, toolchain: toolchain!, outDir });
      console.log(`musl ${name}: compiled ${report.compiled.length} programs in ${(report.durationMs / 1000).toFixed(1)} s`);
      expect(report.compiled).toEqual([...programNames()].sort());
      for (const [program, path] of report.binaries) {
        const facts = await readElf(path);
        expect(elfMismatch(facts, isa), program).toBeUndefined();
        expect({ program, interpreter: facts.interpreter, dynamic: facts.hasDynamic }).toEqual({ program, interpreter: undefined, dynamic: false });
      }
      const again = await compilePrograms(programNames(), { isa, toolchain: toolchain!, outDir });
      expect(again.compiled).toEqual([]);
      expect(again.binaries).toEqual(report.binaries);
      cases = probeCases(isa, { binaries: report.binaries }, readExpectedOutputs());
    });

    it.skipIf(!toolchain)(`passes every probe under ${isa.qemuTarget} in the image and in an empty root${toolchain ? '' : ' (skipped: no toolchain)'}`, async () => {
      expect(cases.length).toBe(2 * PROBES.length);
      const rootfs = await rootFor(isa);
      const queue = new PQueue({ concurrency: 2 });
      const started = performance.now();
      const failed: string[] = [];
      const durations: number[] = [];
      await Promise.all(
        cases.map((c) =>
          queue.add(async () => {
            const timeoutMs = (c.timeoutSeconds ?? 30) * isa.timeoutMultiplier * 1000;
            const result = await runCase(c, { rootfs, isa }, timeoutMs);
            durations.push(result.durationMs);
            const verdict = judge(c, result, timeoutMs);
            if (!verdict.passed) {
              failed.push(c.name);
              console.warn(`musl ${name}: ${c.name} FAILED: ${verdict.message}\nstderr: ${result.stderr}`);
            }
          }),
        ),
      );
      const slowest = Math.max(...durations);
      console.log(`musl ${name}: ${cases.length - failed.length}/${cases.length} passed in ${((performance.now() - started) / 1000).toFixed(1)} s (slowest case ${slowest.toFixed(0)} ms)`);
      expect(failed.sort()).toEqual([...(KNOWN_FAILURES[name] ?? [])].sort());
    });
  });
});
