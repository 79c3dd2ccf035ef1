// Kernels unpacked for a faster boot (harness/vm/boot-image.ts): the wrappers' bytes (pure),
// the payload found past a false xz magic, and then real boots of Debian's armv7 and
// mips64el kernels from the unpacked images under qemu-system, with a case that passes, one
// that the helper's own timeout stops (the VM's /init runs no watchdog).
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageForTest } from './built-images.ts';
import { parseElf } from '../harness/elf.ts';
import { findOnPath } from '../harness/host/probe.ts';
import { type Isa, isaByName, systemEmulation } from '../harness/isa.ts';
import { prepareRun } from '../harness/run.ts';
import { prepareImage } from '../harness/rootfs/index.ts';
import { elf64, uImage, unpackKernel, xzCandidates } from '../harness/vm/boot-image.ts';
import { guestHelper } from '../harness/vm/guest-helper.ts';
import { runBatchInVm } from '../harness/vm/index.ts';
import { ensureKernel, kernelPath } from '../harness/vm/kernels.ts';

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'boot-image-test-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('unpacked kernel images', () => {
  const payload = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff));

  it('writes a Linux ARM uImage header that U-Boot and qemu read: sizes, addresses and both CRC32s', () => {
    const image = uImage(payload, 0x40208000, '6.1.0-50-armmp-lpae');
    const header = Buffer.from(image.subarray(0, 64));
    expect(header.readUInt32BE(0)).toBe(0x27051956);
    expect(header.readUInt32BE(12)).toBe(payload.length);
    expect([header.readUInt32BE(16), header.readUInt32BE(20)]).toEqual([0x40208000, 0x40208000]);
    expect(header.readUInt32BE(24)).toBe(zlib.crc32(payload));
    expect([...header.subarray(28, 32)]).toEqual([5, 2, 2, 0]); // Linux, ARM, kernel, uncompressed
    expect(header.toString('latin1', 32, 51)).toBe('6.1.0-50-armmp-lpae');
    const hcrc = header.readUInt32BE(4);
    header.writeUInt32BE(0, 4);
    expect(zlib.crc32(header)).toBe(hcrc);
    expect(image.subarray(64).equals(payload)).toBe(true);
  });

  it('wraps a raw kernel in an ELF64 that the harness own ELF reader takes: one segment, entered at its load address', () => {
    const elf = elf64(payload, 0xffffffff80100000n, { machine: 8, flags: 0x80000001 });
    expect(parseElf(elf)).toMatchObject({ class: 64, endianness: 'little', type: 2, machine: 8, hasDynamic: false });
    expect(elf.readBigUInt64LE(24)).toBe(0xffffffff80100000n);
    expect(elf.readUInt32LE(48)).toBe(0x80000001);
    expect(elf.readBigUInt64LE(64 + 16)).toBe(0xffffffff80100000n);
    expect(elf.subarray(Number(elf.readBigUInt64LE(64 + 8))).equals(payload)).toBe(true);
  });

  it('finds the payload past a false xz magic and ignores what follows the stream', async () => {
    const xz = (await execa('xz', ['-c', '--check=crc32'], { input: payload, encoding: 'buffer' })).stdout;
    const fake = Buffer.concat([Buffer.from('decompressor code'), Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2, 3]), Buffer.alloc(100), Buffer.from(xz), Buffer.from([0x88, 0x13, 0, 0]), Buffer.alloc(64)]);
    expect(xzCandidates(fake)).toHaveLength(2);
    const kernel = join(scratch, 'zImage');
    await writeFile(kernel, fake);
    await unpackKernel(kernel, { wrap: 'uimage', loadAddress: 0x40208000 }, join(scratch, 'zImage.uimage'), 'test');
    expect((await readFile(join(scratch, 'zImage.uimage'))).subarray(64).equals(payload)).toBe(true);
    expect((await readdir(scratch)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('refuses a kernel without an xz payload in one line naming it, and writes nothing', async () => {
    const kernel = join(scratch, 'plain');
    await writeFile(kernel, Buffer.alloc(4096, 1));
    await expect(unpackKernel(kernel, { wrap: 'uimage', loadAddress: 0x40208000 }, join(scratch, 'plain.uimage'), 'x')).rejects.toThrow(`${kernel}: no xz payload found`);
    expect((await readdir(scratch)).filter((n) => n.startsWith('plain'))).toEqual(['plain']);
  });
});

async function bootSkipReason(isa: Isa): Promise<string> {
  if (process.getuid?.() !== 0) return 'needs root (namespaces in the guest helper build, image extraction)';
  const packaged = kernelPath(isa)!.replace(/\.(uimage|elf64)$/, '');
  if (!(await readFile(packaged).then(() => true, () => false))) return `the ${isa.name} kernel is not fetched: run harness setup --system --arch ${isa.name}`;
  if (!(await findOnPath(systemEmulation(isa)!.qemuSystem))) return `${systemEmulation(isa)!.qemuSystem} is missing: run harness setup --system`;
  return (await imageForTest(isa)).why ?? '';
}

for (const name of ['armv7', 'mips64el']) {
  const isa = isaByName(name);
  const reason = await bootSkipReason(isa);
  if (reason) console.warn(`${name} unpacked-kernel boot skipped: ${reason}`);
  describe.skipIf(reason)(`${name} boots its unpacked Debian kernel under qemu-system`, () => {
    it('reaches /init, runs a case, and stops a hanging case by the helper timeout', async () => {
      const kernel = await ensureKernel(isa);
      expect(kernel).toMatch(systemEmulation(isa)!.unpacked!.wrap === 'uimage' ? /\.uimage$/ : /\.elf64$/);
      const built = (await imageForTest(isa)).image!;
      const { rootfs } = await prepareImage({ kind: 'tarball', path: built.rootfsTarGz, sha512: built.sha512 }, isa);
      const helper = await guestHelper(isa, built.toolchain);
      const template = (await prepareRun({ filters: { arches: [name], suites: ['busybox'] }, build: false })).cases[0]!.testCase;
      const vmCase = (argv: string[], timeoutMs: number) => ({ testCase: { ...template, argv, files: [], stdin: undefined }, timeoutMs, rootfs });
      const started = performance.now();
      const vm = await runBatchInVm({ isa, kernel, busybox: `${rootfs}/bin/busybox`, helper, cases: [vmCase(['/bin/sh', '-c', 'uname -r; echo $((6 * 7))'], 30_000), vmCase(['/bin/sleep', '300'], 1000)] });
      expect(vm.kernel).toBe(systemEmulation(isa)!.kernel.release);
      expect(vm.bootMs).toBeGreaterThan(0);
      const [ran, hung] = vm.outcomes;
      expect(ran).toEqual({ attempt: expect.objectContaining({ exitCode: 0, signal: null, timedOut: false, stdout: `${vm.kernel}\n42\n`, stderr: '' }) });
      // 1 s, times the VM's multiplier: killed by the helper in the guest, not by the batch's budget.
      expect(hung).toEqual({ attempt: expect.objectContaining({ exitCode: null, signal: 'SIGKILL', timedOut: true }) });
      expect('attempt' in hung! && hung.attempt.durationMs).toBeLessThan(10_000);
      expect(performance.now() - started).toBeLessThan(120_000);
    }, 300_000);
  });
}
