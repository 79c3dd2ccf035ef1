// A self-decompressing kernel (ARM zImage, MIPS zboot vmlinuz) spends seconds of its boot
// under TCG unpacking its own xz payload: half of armv7's boot, measured. So the payload is
// unpacked once, on the host, when the kernel is fetched, and wrapped in the form that
// qemu-system loads and starts as it is: a Linux uImage for ARM (qemu passes the DTB in r2
// as for a zImage), an ELF for MIPS Malta (qemu loads nothing else there).
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import * as zlib from 'node:zlib';
import { execa } from 'execa';
import { parseElf } from '../elf.ts';
import { HarnessError } from '../errors.ts';
import type { UnpackedKernel } from '../isa.ts';

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/** Every offset where an xz stream may start (the magic also occurs in the decompressor's code). */
export function xzCandidates(image: Buffer): number[] {
  const offsets: number[] = [];
  for (let at = image.indexOf(XZ_MAGIC); at >= 0; at = image.indexOf(XZ_MAGIC, at + 1)) offsets.push(at);
  return offsets;
}

function crc32(data: Buffer): number {
  // zlib.crc32 came with Node 20.15; the rest of the harness runs on any Node 20.
  if (typeof zlib.crc32 !== 'function') throw new HarnessError(`unpacking an ARM kernel for qemu-system needs Node >= 20.15 (zlib.crc32); this is Node ${process.version}`);
  return zlib.crc32(data);
}

/** The legacy U-Boot image header (include/image.h): 64 bytes, big-endian, CRC32s of header and data. */
export function uImage(payload: Buffer, loadAddress: number, name: string): Buffer {
  const header = Buffer.alloc(64);
  header.writeUInt32BE(0x27051956, 0); // ih_magic
  header.writeUInt32BE(payload.length, 12); // ih_size (ih_hcrc at 4 and ih_time at 8 stay 0 for now)
  header.writeUInt32BE(loadAddress, 16); // ih_load
  header.writeUInt32BE(loadAddress, 20); // ih_ep: an ARM Image starts at its first byte
  header.writeUInt32BE(crc32(payload), 24); // ih_dcrc
  header.writeUInt8(5, 28); // ih_os: IH_OS_LINUX, so qemu boots it as Linux (r0 0, r1 machine, r2 DTB)
  header.writeUInt8(2, 29); // ih_arch: IH_ARCH_ARM
  header.writeUInt8(2, 30); // ih_type: IH_TYPE_KERNEL
  header.writeUInt8(0, 31); // ih_comp: IH_COMP_NONE
  header.write(name.slice(0, 31), 32, 'latin1');
  header.writeUInt32BE(crc32(header), 4);
  return Buffer.concat([header, payload]);
}

const ELF_HEADER_SIZE = 64;
const PROGRAM_HEADER_SIZE = 56;
const PAGE = 0x1000;

/**
 * A little-endian ELF64 executable of one PT_LOAD segment holding the raw kernel at its link
 * address, entered there. e_machine and e_flags are copied from the kernel's own ELF wrapper.
 */
export function elf64(payload: Buffer, loadAddress: bigint, like: { machine: number; flags: number }): Buffer {
  const header = Buffer.alloc(PAGE);
  header.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0); // ELFCLASS64, ELFDATA2LSB, EV_CURRENT
  header.writeUInt16LE(2, 16); // ET_EXEC
  header.writeUInt16LE(like.machine, 18);
  header.writeUInt32LE(1, 20);
  header.writeBigUInt64LE(loadAddress, 24); // e_entry
  header.writeBigUInt64LE(BigInt(ELF_HEADER_SIZE), 32); // e_phoff
  header.writeUInt32LE(like.flags, 48);
  header.writeUInt16LE(ELF_HEADER_SIZE, 52);
  header.writeUInt16LE(PROGRAM_HEADER_SIZE, 54);
  header.writeUInt16LE(1, 56); // e_phnum
  const ph = ELF_HEADER_SIZE;
  header.writeUInt32LE(1, ph); // PT_LOAD
  header.writeUInt32LE(7, ph + 4); // RWX
  header.writeBigUInt64LE(BigInt(PAGE), ph + 8); // p_offset
  header.writeBigUInt64LE(loadAddress, ph + 16); // p_vaddr
  header.writeBigUInt64LE(loadAddress, ph + 24); // p_paddr
  header.writeBigUInt64LE(BigInt(payload.length), ph + 32); // p_filesz
  header.writeBigUInt64LE(BigInt(payload.length), ph + 40); // p_memsz
  header.writeBigUInt64LE(BigInt(PAGE), ph + 48); // p_align
  return Buffer.concat([header, payload]);
}

/** The first xz stream in the image that decompresses whole; xz ignores what follows it. */
async function decompressPayload(imagePath: string, image: Buffer): Promise<Buffer> {
  for (const start of xzCandidates(image)) {
    const unpacked = await execa('xz', ['-dc', '--single-stream'], { input: image.subarray(start), encoding: 'buffer', reject: false, stripFinalNewline: false });
    if (unpacked.exitCode === 0 && unpacked.stdout.length > 0) return Buffer.from(unpacked.stdout);
  }
  throw new HarnessError(`${imagePath}: no xz payload found; the ISA table's 'unpacked' entry does not fit this kernel: remove it to boot the packaged image as it is`);
}

/** e_machine and e_flags of the kernel's own ELF wrapper, read by the harness's ELF reader. */
function elfMachineAndFlags(image: Buffer, imagePath: string): { machine: number; flags: number } {
  let facts: ReturnType<typeof parseElf>;
  try {
    facts = parseElf(image);
  } catch (error) {
    throw new HarnessError(`${imagePath}: not an ELF kernel (${(error as Error).message}), so it cannot be rewrapped as one`);
  }
  if (facts.class !== 64 || facts.endianness !== 'little') throw new HarnessError(`${imagePath}: not a little-endian ELF64 kernel, so it cannot be rewrapped as one`);
  return { machine: facts.machine, flags: image.readUInt32LE(48) };
}

/** Writes the unpacked, wrapped kernel to target (atomically: a temp file renamed over it). */
export async function unpackKernel(imagePath: string, how: UnpackedKernel, target: string, name: string): Promise<void> {
  const image = await readFile(imagePath);
  const payload = await decompressPayload(imagePath, image);
  const wrapped = how.wrap === 'uimage'
    ? uImage(payload, how.loadAddress, name)
    : elf64(payload, BigInt(how.loadAddress), elfMachineAndFlags(image, imagePath));
  const temp = `${target}.tmp-${process.pid}`;
  try {
    await writeFile(temp, wrapped);
    await rename(temp, target);
  } finally {
    await rm(temp, { force: true });
  }
}
