// Pure parts of triage: the VM console protocol (frames found through kernel noise, garbled
// streams refused), the qemu-system argv from the ISA table, the `emulator` key of known
// failures, the suggested known-failure entries and the emulator-only counts. No QEMU.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isaByName, ISAS, systemEmulation, systemQemuArgv } from '../harness/isa.ts';
import { loadMatrix, MatrixError } from '../harness/matrix/load.ts';
import { junitXml } from '../harness/report/junit.ts';
import { exitCodeFor, formatSummaryTable, summarize } from '../harness/report/summary.ts';
import type { CaseResult, RunResults } from '../harness/results.ts';
import { suggestKnownFailures } from '../harness/triage/index.ts';
import { caseScript, initScript, parseConsole, shellQuote } from '../harness/vm/protocol.ts';
import { systemIsas, systemPackages } from '../harness/vm/host.ts';

const NONCE = 'a1b2c3';

function frames(index: number, stream: string, bytes: Buffer): string[] {
  const sha = createHash('sha256').update(bytes).digest('hex');
  const data = bytes.toString('base64').match(/.{1,76}/g) ?? [];
  return [`@@${NONCE} ${index} ${stream} begin ${sha} ${bytes.length}`, ...data.map((d) => `@@${NONCE} ${index} ${stream} d ${d}`), `@@${NONCE} ${index} ${stream} end`];
}

function caseFrames(index: number, stdout: string, stderr: string, status = 'exit 0'): string[] {
  return [
    `@@${NONCE} ${index} status ${status}`,
    `@@${NONCE} ${index} ms 120`,
    ...frames(index, 'stdout', Buffer.from(stdout)),
    ...frames(index, 'stderr', Buffer.from(stderr)),
    `@@${NONCE} ${index} done`,
  ];
}

describe('the VM console protocol', () => {
  it('reads each case back whatever the kernel prints around and before the frames', () => {
    const lines = [
      '[    0.000000] Booting Linux on physical CPU 0x0',
      `#1 SMP Debian 6.@@${NONCE} - boot 291 6.1.0-50-s390x\r`,
      ...caseFrames(0, 'tv_nsec 123456789\n'.repeat(20), ''),
      '[    3.1] random: crng init done',
      ...caseFrames(1, '', 'oops\n', 'exit 3'),
      `@@${NONCE} - end`,
      '[    4.0] reboot: Power down',
    ];
    const report = parseConsole(lines.join('\n'), NONCE);
    expect(report.boot).toEqual({ uptimeMs: 2910, kernel: '6.1.0-50-s390x' });
    expect(report.ended).toBe(true);
    expect(report.cases.get(0)).toEqual({ status: 'exit 0', durationMs: 120, stdout: 'tv_nsec 123456789\n'.repeat(20), stderr: '' });
    expect(report.cases.get(1)).toMatchObject({ status: 'exit 3', stdout: '', stderr: 'oops\n' });
  });

  it('refuses a stream the console garbled, and ignores frames of another boot', () => {
    const good = caseFrames(0, 'x'.repeat(200), '');
    const garbled = good.map((line) => (line.includes(' stdout d ') && !line.includes('garbled') ? line.replace(/d (.{10})/, 'd $1[ 2.0] noise') : line));
    const report = parseConsole([...garbled, ...caseFrames(1, 'y', '').map((l) => l.replace(NONCE, 'ffffff'))].join('\n'), NONCE);
    expect(report.cases.get(0)?.garbled).toMatch(/stdout failed its checksum/);
    expect(report.cases.has(1)).toBe(false);
    expect(report.boot).toBeUndefined();
  });

  it('writes a case script that quotes every word and an /init that runs each case under its timeout', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(caseScript({ A: 'a b' }, ['--hostname', 'harness', '--', '/bin/sh', '-c', 'echo $HOME'])).toBe(
      `exec /harness/sandbox-run --env 'A=a b' --hostname harness -- /bin/sh -c 'echo $HOME'\n`,
    );
    const init = initScript(NONCE, [0, 1]);
    expect(init).toContain('run_case 0\nrun_case 1\n');
    expect(init).toContain('switch_root /stage2 /init');
    expect(init).toContain(`echo "@@${NONCE} - end"`);
  });
});

describe('the ISA table: full-system emulation facts', () => {
  it('gives every emulated ISA with a Debian kernel its pinned package, and lists the packages setup --system installs', () => {
    for (const isa of systemIsas(ISAS, 'x86_64')) {
      const system = systemEmulation(isa)!;
      expect(system.kernel.sha256, isa.name).toMatch(/^[0-9a-f]{64}$/);
      expect(system.kernel.image, isa.name).toContain(system.kernel.release);
    }
    expect(systemIsas(ISAS, 'x86_64').map((isa) => isa.name)).toEqual(['aarch64', 'armv7', 'ppc64le', 's390x', 'riscv64', 'mips64el']);
    expect(systemPackages(ISAS, 'x86_64')).toEqual(['cpio', 'opensbi', 'qemu-system-arm', 'qemu-system-mips', 'qemu-system-misc', 'qemu-system-ppc', 'xz-utils']);
  });

  it('derives the qemu-system argv from the facts', () => {
    expect(systemQemuArgv(isaByName('s390x'), { kernel: 'K', initrd: 'I', memoryMb: 512, append: ['quiet'] })).toEqual([
      'qemu-system-s390x', '-M', 's390-ccw-virtio', '-m', '512', '-nographic', '-monitor', 'none', '-no-reboot', '-net', 'none',
      '-kernel', 'K', '-initrd', 'I', '-append', 'console=ttysclp0 quiet',
    ]);
    expect(() => systemQemuArgv(isaByName('x86_64'), { kernel: 'K', initrd: 'I', memoryMb: 512, append: [] })).toThrow(/no full-system emulation facts/);
  });
});

describe('known failures that claim to be emulator bugs', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'triage-logic-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads emulator: true, and refuses anything but a boolean with its line', async () => {
    const good = join(dir, 'good.yaml');
    await writeFile(good, "images: [built]\nsuites: { musl: {} }\nknown_failures:\n  - { test: 'musl/file-times*', arch: s390x, emulator: true, reason: 'qemu' }\n");
    expect((await loadMatrix(good)).knownFailures[0]).toMatchObject({ test: 'musl/file-times*', emulator: true });
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, "images: [built]\nsuites: { musl: {} }\nknown_failures:\n  - { test: 'musl/x', emulator: yes, reason: 'qemu' }\n");
    const error = await loadMatrix(bad).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(MatrixError);
    expect((error as Error).message).toMatch(/bad\.yaml:4: known_failures\[0\]\.emulator: expected true or false; got "yes"/);
  });
});

describe('emulator-only in the reports', () => {
  const base = { image: 'built', imageDigest: 'sha256:1', flaky: false, startedAt: '2026-12-01T10:00:00.000Z', durationMs: 5 };
  const attempt = { exitCode: 1, signal: null, timedOut: false, durationMs: 5, stdout: 'mtime nsec 0\n', stderr: '' };
  const evidence = 'fails under qemu-user 7.2.22, passes under qemu-system 7.2.22 with Linux 6.1.0-50-s390x s390x';
  const results: CaseResult[] = [
    { ...base, suite: 'musl', case: 'file-times', isa: 's390x', verdict: 'emulator-only', message: `emulator-only: ${evidence}\nunder qemu-user: stdout differs:\n--- expected`, attempts: [attempt], triage: { outcome: 'emulator-only', evidence, qemuUserVersion: '7.2.22' } },
    { ...base, suite: 'musl', case: 'file-times', isa: 'aarch64', verdict: 'passed', attempts: [] },
  ];
  const run: RunResults = {
    schemaVersion: 1,
    properties: { harnessVersion: '0', kernel: '6', hostMachine: 'x86_64', startedAt: base.startedAt, finishedAt: base.startedAt, matrix: 'm.yaml', isas: {}, images: {} },
    results,
  };

  it('is counted apart from failed and passed, and does not fail the run', () => {
    const { totals } = summarize(run);
    expect(totals).toMatchObject({ total: 2, passed: 1, failed: 0, emulatorOnly: 1 });
    expect(exitCodeFor(run)).toBe(0);
    expect(formatSummaryTable(summarize(run))).toMatch(/emulator-only/);
    expect(junitXml(run)).toContain(`<skipped message="emulator-only: ${evidence}"/>`);
  });

  it('suggests a known-failure entry with the reason and the evidence', () => {
    expect(suggestKnownFailures(run)).toBe([
      'known_failures:',
      `  # ${evidence}`,
      "  - test: 'musl/file-times'",
      '    arch: s390x',
      '    image: built',
      '    emulator: true',
      "    reason: 'qemu-user 7.2.22 s390x: stdout differs:'",
    ].join('\n'));
  });
});
