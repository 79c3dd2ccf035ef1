// harness doctor and harness setup: the report on this real host, the table format, and the
// package and apt logic setup builds its commands from.
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { type DoctorReport, doctorExitCode, formatDoctorReport, kernelRow, runDoctor } from '../harness/host/doctor.ts';
import {
  compilerPackages,
  installCommand,
  missingPackages,
  parseDpkgInstalled,
  parseOsRelease,
  shellCommand,
  wantedPackages,
} from '../harness/host/packages.ts';
import { hostDistro } from '../harness/host/probe.ts';
import { manualSetupAdvice, runSetup } from '../harness/host/setup.ts';
import { ISAS, isaByName, qemuBinary, runsNatively } from '../harness/isa.ts';

const isRoot = process.getuid?.() === 0;
const isDebian = existsSync('/usr/bin/dpkg');
if (!isRoot || !isDebian) console.warn('doctor.test: the real setup run is skipped: it needs root on Debian/Ubuntu');

const bookwormAmd64 = { id: 'debian', codename: 'bookworm', debianArch: 'amd64' };

async function firstLineOf(file: string, args: string[]): Promise<string | undefined> {
  const result = await execa(file, args, { reject: false });
  return result.exitCode === 0 ? result.stdout.split('\n')[0]?.trim() : undefined;
}

describe('runDoctor on this host', () => {
  it('reports each QEMU version and cross compiler as the host has them', async () => {
    const report = await runDoctor({ hostMachine: 'x86_64' });
    const row = (check: string) => report.rows.find((r) => r.check === check);
    for (const isa of ISAS) {
      const clang = isa.compiler.kind === 'clang';
      const gccVersion = await firstLineOf(clang ? 'clang-19' : `${isa.gccTriplet}-gcc`, ['--version']);
      const gccRow = row(`${isa.name}: ${clang ? 'clang' : 'cross gcc'}`);
      expect(gccRow?.ok, `${isa.name} compiler`).toBe(gccVersion !== undefined);
      if (gccVersion) expect(gccRow?.detail).toBe(gccVersion);
      else expect(gccRow?.fix).toMatch(/^apt-get install -y --no-install-recommends \S+( \S+)*$/);
      expect(row(`${isa.name}: kernel headers`) === undefined, `${isa.name} headers row`).toBe(clang);

      if (runsNatively(isa, 'x86_64')) {
        expect(row(`${isa.name}: emulation`)?.ok).toBe(true);
        continue;
      }
      const qemuLine = await firstLineOf(`/usr/bin/${qemuBinary(isa)}`, ['--version']);
      const qemuRow = row(`${isa.name}: qemu`);
      expect(qemuRow?.ok, `${isa.name} qemu`).toBe(qemuLine !== undefined);
      if (qemuLine) expect(qemuLine).toContain(`version ${qemuRow?.detail.split(' ').pop()}`);
      expect(row(`${isa.name}: binfmt handler`)).toBeDefined();
    }
    expect(formatDoctorReport(report)).toContain('x86_64: cross gcc');
    expect(doctorExitCode(report)).toBe(report.rows.some((r) => r.required && !r.ok) ? 2 : 0);
  });

  it('checks only the ISAs asked for', async () => {
    const report = await runDoctor({ arches: [isaByName('s390x')], hostMachine: 'x86_64' });
    const isaChecks = report.rows.map((r) => r.check).filter((c) => /^\w+: /.test(c) && !/^(tool|source): /.test(c));
    expect(new Set(isaChecks.map((c) => c.split(':')[0]))).toEqual(new Set(['s390x']));
  });
});

describe('doctor report format and exit code (pure)', () => {
  const report: DoctorReport = {
    rows: [
      { check: 'kernel', ok: true, detail: '6.1.0', required: true },
      { check: 's390x: cross gcc', ok: false, detail: 's390x-linux-gnu-gcc not found', fix: 'apt-get install -y --no-install-recommends gcc-s390x-linux-gnu', required: true },
      { check: 'tool: skopeo', ok: false, detail: 'not found (optional)', fix: 'apt-get install -y --no-install-recommends skopeo', required: false },
    ],
  };

  it('aligns the details, marks each row and prints each fix under its row', () => {
    const lines = formatDoctorReport(report).split('\n');
    expect(lines[0]).toMatch(/^✓ kernel {12}6\.1\.0$/);
    expect(lines[1]).toMatch(/^✗ s390x: cross gcc  s390x-linux-gnu-gcc not found$/);
    expect(lines[2]).toBe(`${' '.repeat(20)}fix: apt-get install -y --no-install-recommends gcc-s390x-linux-gnu`);
    expect(lines[3]).toMatch(/^- tool: skopeo {6}not found \(optional\)$/);
    expect(lines[4]).toContain('fix: apt-get install -y --no-install-recommends skopeo');
    expect(lines.at(-1)).toBe('1 required check failed; 1 optional missing (-)');
  });

  it('exits 2 when a required check fails, 0 when only optional ones do', () => {
    expect(doctorExitCode(report)).toBe(2);
    expect(doctorExitCode({ rows: report.rows.filter((r) => r.check !== 's390x: cross gcc') })).toBe(0);
  });

  it('wants a kernel that gives QEMU the P flag (5.12)', () => {
    expect(kernelRow('5.11.22').ok).toBe(false);
    expect(kernelRow('5.11.22').fix).toContain('5.12');
    expect(kernelRow('5.12.0').ok).toBe(true);
    expect(kernelRow('6.1.0-13-amd64').ok).toBe(true);
  });
});

describe('setup packages and commands (pure)', () => {
  it('installs exactly the missing packages, sorted, without recommends', () => {
    const wanted = wantedPackages([isaByName('aarch64'), isaByName('s390x')], bookwormAmd64);
    expect(wanted).toContain('gcc-aarch64-linux-gnu');
    expect(wanted).toContain('linux-libc-dev-s390x-cross');
    expect(wanted).not.toContain('gcc-riscv64-linux-gnu');
    const installed = new Set(wanted.filter((p) => !['qemu-user-static', 'gcc-s390x-linux-gnu', 'linux-libc-dev-s390x-cross'].includes(p)));
    expect(installCommand(missingPackages(wanted, installed))).toEqual([
      'apt-get', 'install', '-y', '--no-install-recommends', 'gcc-s390x-linux-gnu', 'linux-libc-dev-s390x-cross', 'qemu-user-static',
    ]);
    expect(installCommand(missingPackages(wanted, new Set(wanted)))).toBeNull();
  });

  it('takes the host arch compiler from gcc', () => {
    const x86_64 = isaByName('x86_64');
    expect(compilerPackages(x86_64, bookwormAmd64)).toEqual(['gcc']);
    expect(compilerPackages(x86_64, { debianArch: 'arm64' })).toEqual(['gcc-x86-64-linux-gnu']);
    expect(compilerPackages(isaByName('loongarch64'), bookwormAmd64)).toEqual(['clang-19', 'lld-19', 'llvm-19']);
    // No Debian key on Ubuntu: no Debian sources are added there (the pinned sources come by URL).
    expect(wantedPackages([], { ...bookwormAmd64, id: 'ubuntu', codename: 'noble' })).not.toContain('debian-archive-keyring');
  });

  it('parses dpkg-query status and os-release', () => {
    expect(parseDpkgInstalled('make install ok installed\nskopeo deinstall ok config-files\nlibc6:amd64 install ok installed\n'))
      .toEqual(new Set(['make', 'libc6']));
    expect(parseOsRelease('ID=ubuntu\nVERSION_CODENAME="noble"\n# c\n')).toEqual({ ID: 'ubuntu', VERSION_CODENAME: 'noble' });
  });

  it('tells a host without apt what to do instead', () => {
    const advice = manualSetupAdvice([isaByName('riscv64')], 'harness setup knows Debian and Ubuntu only (this host: fedora)');
    expect(advice).toContain('riscv64-linux-gnu-gcc');
    expect(advice).toContain('mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc');
    expect(advice).not.toContain('\n');
  });

  it('quotes shell words only where needed', () => {
    expect(shellCommand(['echo', '-1', "it's", 'a b'])).toBe(`echo -1 'it'\\''s' 'a b'`);
  });
});

describe.skipIf(!isRoot || !isDebian)('runSetup on this host (root, Debian)', () => {
  it('a second run installs nothing, fetches nothing and says so', async () => {
    await runSetup();
    const log: string[] = [];
    const second = await runSetup({ log: (line) => log.push(line) });
    expect(second).toMatchObject({ installed: [], debSrcAdded: false, fetched: [] });
    expect(log).toContain(`packages: all ${wantedPackages(ISAS, (await hostDistro())!).length} wanted packages are installed; nothing to install`);
    expect(second.handlers.filter((h) => !h.native).every((h) => h.flags.includes('F'))).toBe(true);
    const doctor = await runDoctor();
    expect(doctor.rows.filter((r) => r.required && !r.ok)).toEqual([]);
  });
});
