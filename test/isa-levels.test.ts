// Pure logic of the nine-ISA table: names (armhf is Alpine's ARMv6 now), launch rules, ARM
// build attributes against a baseline CPU, the SIGILL message, and BusyBox version ranges.
import { describe, expect, it } from 'vitest';
import type { TestCase } from '../harness/case.ts';
import { armAttributesSection, armLevelExcess, parseArmAttributes } from '../harness/elf.ts';
import { directCommand, findIsa, guestLaunch, isaByName, ISA_NAMES, platformString, renamedIsaNotice } from '../harness/isa.ts';
import type { Attempt } from '../harness/results.ts';
import { busyboxCases } from '../harness/suites/busybox/index.ts';
import { parseRows, rowToCase } from '../harness/suites/busybox/rows.ts';
import { isVersionRange, parseBusyboxBanner, versionSkipReason } from '../harness/suites/busybox/version.ts';
import { judge } from '../harness/verdict.ts';
import { compareVersions, sourcesFor } from '../images/sources.ts';

describe('the ISA table', () => {
  it('holds Alpine\'s nine ISAs and mips64el', () => {
    expect(ISA_NAMES).toEqual(['x86_64', 'x86', 'aarch64', 'armhf', 'armv7', 'ppc64le', 's390x', 'riscv64', 'mips64el', 'loongarch64']);
  });

  it('resolves armhf to Alpine\'s ARMv6 port, not to Debian\'s armhf (ARMv7)', () => {
    expect(findIsa('armhf')?.name).toBe('armhf');
    expect(findIsa('linux/arm/v6')?.name).toBe('armhf');
    expect(findIsa('armv6l')?.name).toBe('armhf');
    expect(findIsa('linux/arm/v7')?.name).toBe('armv7');
    expect(findIsa('arm')?.name).toBe('armv7');
    expect(findIsa('loong64')?.name).toBe('loongarch64');
    expect(platformString(isaByName('loongarch64'))).toBe('linux/loong64');
    expect(isaByName('loongarch64').elf.machine).toBe(258);
  });

  it('tells a matrix that names armhf what changed, in one line', () => {
    const notice = renamedIsaNotice('armhf', isaByName('armhf'))!;
    expect(notice).toBe("'armhf' is now Alpine's ARMv6 port (linux/arm/v6, run as arm1176), no longer an alias of armv7: write armv7 for ARMv7 images");
    expect(renamedIsaNotice('armv7', isaByName('armv7'))).toBeUndefined();
    expect(renamedIsaNotice('linux/arm/v6', isaByName('armhf'))).toBeUndefined();
  });

  it('derives how a guest is launched: emulator, CPU model and personality', () => {
    expect(guestLaunch(isaByName('armhf'), 'x86_64')).toEqual({ emulator: 'qemu-arm-static', linux32: true, env: { QEMU_CPU: 'arm1176' } });
    expect(guestLaunch(isaByName('armv7'), 'x86_64')).toEqual({ emulator: 'qemu-arm-static', linux32: true, env: { QEMU_CPU: 'cortex-a7' } });
    expect(guestLaunch(isaByName('loongarch64'), 'x86_64')).toEqual({ emulator: 'qemu-loongarch64-static', linux32: false, env: {} });
    expect(guestLaunch(isaByName('x86'), 'x86_64')).toEqual({ linux32: true, env: {} });
    expect(directCommand(guestLaunch(isaByName('x86'), 'x86_64'), '/b', ['uname', '-m'])).toEqual(['setarch', 'linux32', '/b', 'uname', '-m']);
    expect(directCommand(guestLaunch(isaByName('aarch64'), 'x86_64'), '/b', [])).toEqual(['qemu-aarch64-static', '/b']);
  });

  it('picks musl 1.2.5 (its first loongarch64 release) for loongarch64 only, and the runtime packages per ISA', () => {
    expect(sourcesFor(isaByName('loongarch64')).map((s) => s.file)).toEqual([
      'busybox_1.35.0.orig.tar.bz2', 'musl_1.2.5.orig.tar.gz',
      'libgcc-13-dev-loong64-cross_13.3.0-16cross1_all.deb', 'linux-libc-dev-loong64-cross_6.12.38-1cross1_all.deb',
    ]);
    expect(sourcesFor(isaByName('armhf')).map((s) => s.file)).toEqual([
      'busybox_1.35.0.orig.tar.bz2', 'musl_1.2.3.orig.tar.gz', 'libgcc-12-dev-armel-cross_12.2.0-14cross1_all.deb',
    ]);
    expect(sourcesFor(isaByName('armv7')).map((s) => s.file)).toEqual(['busybox_1.35.0.orig.tar.bz2', 'musl_1.2.3.orig.tar.gz']);
    expect(compareVersions('1.2.10', '1.2.5')).toBeGreaterThan(0);
  });
});

/** A little-endian ELF32 with one .ARM.attributes section holding `tags` (file scope, vendor aeabi). */
function armElf(tags: number[]): Buffer {
  const vendor = Buffer.from('aeabi\0', 'latin1');
  const fileScope = Buffer.concat([Buffer.from([1]), u32(5 + tags.length), Buffer.from(tags)]);
  const subsection = Buffer.concat([u32(4 + vendor.length + fileScope.length), vendor, fileScope]);
  const section = Buffer.concat([Buffer.from('A', 'latin1'), subsection]);
  const header = Buffer.alloc(52);
  header.writeUInt32BE(0x7f454c46, 0);
  header[4] = 1; // ELF32
  header[5] = 1; // little-endian
  header.writeUInt16LE(2, 16); // ET_EXEC
  header.writeUInt16LE(40, 18); // EM_ARM
  const sectionOffset = 52;
  const shoff = sectionOffset + section.length;
  header.writeUInt32LE(shoff, 32);
  header.writeUInt16LE(40, 46); // e_shentsize
  header.writeUInt16LE(2, 48); // e_shnum: the null section and ours
  const shdrs = Buffer.alloc(80);
  shdrs.writeUInt32LE(0x70000003, 40 + 4); // SHT_ARM_ATTRIBUTES
  shdrs.writeUInt32LE(sectionOffset, 40 + 16);
  shdrs.writeUInt32LE(section.length, 40 + 20);
  return Buffer.concat([header, section, shdrs]);
}

function u32(value: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeUInt32LE(value);
  return buf;
}

describe('ARM build attributes', () => {
  // Tag_CPU_name "7-A" (a string to skip), Tag_CPU_arch v7, Tag_ARM_ISA_use, Tag_THUMB_ISA_use Thumb-2, Tag_FP_arch VFPv3-D16, Tag_ABI_VFP_args.
  const armv7 = armElf([5, ...Buffer.from('7-A\0', 'latin1'), 6, 10, 8, 1, 9, 2, 10, 4, 28, 1]);
  // Tag_CPU_name "6KZ", Tag_CPU_arch v6KZ, Thumb-1, VFPv2.
  const armv6 = armElf([5, ...Buffer.from('6KZ\0', 'latin1'), 6, 7, 9, 1, 10, 2]);

  it('reads Tag_CPU_arch, Tag_THUMB_ISA_use and Tag_FP_arch from the section', () => {
    expect(parseArmAttributes(armAttributesSection(armv7)!)).toEqual({ cpuArch: 'v7', thumb: 'Thumb-2', fpArch: 'VFPv3-D16' });
    expect(parseArmAttributes(armAttributesSection(armv6)!)).toEqual({ cpuArch: 'v6KZ', thumb: 'Thumb-1', fpArch: 'VFPv2' });
  });

  it('names what an ARMv7 binary needs beyond the ARMv6 baseline, and nothing for an ARMv6 one', () => {
    const baseline = isaByName('armhf').armBaseline!;
    expect(armLevelExcess({ cpuArch: 'v7', thumb: 'Thumb-2', fpArch: 'VFPv3-D16' }, baseline)).toEqual(['Tag_CPU_arch v7', 'Tag_THUMB_ISA_use Thumb-2', 'Tag_FP_arch VFPv3-D16']);
    expect(armLevelExcess({ cpuArch: 'v6KZ', thumb: 'Thumb-1', fpArch: 'VFPv2' }, baseline)).toEqual([]);
    expect(armLevelExcess({ cpuArch: 'v5TE', thumb: 'Thumb-1' }, baseline)).toEqual([]);
    // v6T2 brings Thumb-2, which an ARM1176 lacks; VFPv3-D16 is within armv7's baseline, VFPv4 is not.
    expect(armLevelExcess({ cpuArch: 'v6T2' }, baseline)).toEqual(['Tag_CPU_arch v6T2']);
    expect(armLevelExcess({ cpuArch: 'v7', fpArch: 'VFPv3-D16' }, isaByName('armv7').armBaseline!)).toEqual([]);
    expect(armLevelExcess({ fpArch: 'VFPv4' }, isaByName('armv7').armBaseline!)).toEqual(['Tag_FP_arch VFPv4']);
    expect(armLevelExcess({ cpuArch: 'v7E-M' }, isaByName('armv7').armBaseline!)).toEqual(['Tag_CPU_arch v7E-M']);
  });

  it('finds no section in an ELF without one', () => {
    const bare = armElf([]);
    bare.writeUInt16LE(1, 48); // only the null section header
    expect(armAttributesSection(bare)).toBeUndefined();
  });
});

describe('a guest that dies of SIGILL', () => {
  const testCase: TestCase = { name: 'x', suite: 's', argv: ['/bin/true'], expect: {}, crossIsa: false };
  const attempt = (over: Partial<Attempt>): Attempt => ({ exitCode: null, signal: null, timedOut: false, stdout: '', stderr: '', durationMs: 1, ...over }) as Attempt;

  it('is told it needs a newer CPU than the ISA\'s baseline, where the table names one', () => {
    expect(judge(testCase, attempt({ signal: 'SIGILL' }), 1000, isaByName('armhf')).message)
      .toBe("illegal instruction: this binary needs a newer CPU than the ISA's baseline (arm1176)");
    expect(judge(testCase, attempt({ exitCode: 132 }), 1000, isaByName('armv7')).message)
      .toBe("exit code: expected 0, got 132 (illegal instruction: this binary needs a newer CPU than the ISA's baseline (cortex-a7))");
  });

  it('keeps the plain signal, named with its ISA, where the table names no baseline CPU', () => {
    expect(judge(testCase, attempt({ signal: 'SIGILL' }), 1000, isaByName('aarch64')).message).toBe('died of SIGILL (aarch64 guest)');
    expect(judge(testCase, attempt({ signal: 'SIGSEGV' }), 1000, isaByName('armhf')).message).toBe('died of SIGSEGV (armhf guest)');
  });
});

describe('BusyBox versions of a row', () => {
  it('reads the version from the banner', () => {
    expect(parseBusyboxBanner('BusyBox v1.35.0 (2022-06-01 00:00:00 UTC) multi-call binary.\n')).toBe('1.35.0');
    expect(parseBusyboxBanner('BusyBox v1.29.3 (2019-01-24 07:45:07 UTC) multi-call binary.')).toBe('1.29.3');
    expect(parseBusyboxBanner('BusyBox v1.37.0.git (2024-01-01) multi-call binary.')).toBe('1.37.0');
    expect(parseBusyboxBanner('sh: busybox: not found')).toBeUndefined();
  });

  it('skips a row outside its range with the reason, and keeps it inside or when the version is unknown', () => {
    expect(versionSkipReason('>=1.31', '1.29.3')).toBe('holds for BusyBox >=1.31; this image has BusyBox 1.29.3');
    expect(versionSkipReason('>=1.31', '1.35.0')).toBeUndefined();
    expect(versionSkipReason('>=1.31 <1.36', '1.36.1')).toBe('holds for BusyBox >=1.31 <1.36; this image has BusyBox 1.36.1');
    expect(versionSkipReason('>=1.31', undefined)).toBeUndefined();
    expect(versionSkipReason(undefined, '1.29.3')).toBeUndefined();
    expect(isVersionRange('>=1.31')).toBe(true);
    expect(isVersionRange('newer')).toBe(false);
  });

  it('expects echo --help to print --help from 1.31 on, and its usage before', () => {
    const echo = (version?: string) => busyboxCases(['echo'], [], 'busybox', version)[0]!.expect;
    expect(echo('1.35.0').stdout).toBe('--help\n');
    expect(echo(undefined).stdout).toBe('--help\n');
    expect(echo('1.30.1').stdout).toBeUndefined();
    expect(new RegExp(echo('1.30.1').stdoutMatches!, 'm').test('BusyBox v1.30.1 (Debian 1:1.30.1-6+b3) multi-call binary.\n\nUsage: echo [-neE] [ARG]...\n')).toBe(true);
  });

  it('reads busybox: from a row and turns it into a skip; a bad range names file:line', () => {
    const rows = parseRows([
      '- name: drifted',
      '  applet: tr',
      "  busybox: '>=1.31'",
      '  cmd: echo a | tr a b',
      '  stdout: "b\\n"',
      '- name: holds everywhere',
      '  applet: tr',
      '  cmd: echo a | tr a b',
      '  stdout: "b\\n"',
    ].join('\n'), 'rows.yaml');
    const present = new Set(['tr']);
    expect(rowToCase(rows[0]!, 'busybox', present, '1.29.3').skip).toBe('holds for BusyBox >=1.31; this image has BusyBox 1.29.3');
    expect(rowToCase(rows[0]!, 'busybox', present, '1.35.0').skip).toBeUndefined();
    expect(rowToCase(rows[1]!, 'busybox', present, '1.29.3').skip).toBeUndefined();
    // A missing applet is the reason that shows, whatever the version.
    expect(rowToCase(rows[0]!, 'busybox', new Set(), '1.29.3').skip).toBe('applet tr not in this BusyBox build');
    expect(() => parseRows("- name: bad\n  applet: tr\n  busybox: 'newer'\n  cmd: 'true'\n  stdout: ''\n", 'rows.yaml'))
      .toThrow("rows.yaml:3: 'busybox' (row 'bad') must be a range of BusyBox versions, e.g. '>=1.31' or '>=1.31 <1.36'");
  });
});
