// Reads the few ELF header facts that say which ISA a binary is for, and whether it is
// static. Pure: works on a Buffer, so tests need no files.
import { open } from 'node:fs/promises';
import type { Endianness, Isa } from './isa.ts';

export interface ElfFacts {
  class: 32 | 64;
  endianness: Endianness;
  /** e_type: 2 = EXEC, 3 = DYN (PIE or shared object). */
  type: number;
  machine: number;
  /** PT_INTERP path, if the program asks for a dynamic loader. */
  interpreter?: string;
  /** True when a PT_DYNAMIC segment exists (DT_NEEDED entries may follow). */
  hasDynamic: boolean;
}

const PT_DYNAMIC = 2;
const PT_INTERP = 3;

export class NotElfError extends Error {}

export function parseElf(buf: Buffer): ElfFacts {
  if (buf.length < 52 || buf.readUInt32BE(0) !== 0x7f454c46) throw new NotElfError('not an ELF file');
  const elfClass = buf[4] === 2 ? 64 : buf[4] === 1 ? 32 : undefined;
  const endianness = buf[5] === 1 ? 'little' : buf[5] === 2 ? 'big' : undefined;
  if (!elfClass || !endianness) throw new NotElfError(`bad ELF ident (class ${buf[4]}, data ${buf[5]})`);
  const le = endianness === 'little';
  const u16 = (o: number) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const addr = (o: number) => (elfClass === 64 ? Number(le ? buf.readBigUInt64LE(o) : buf.readBigUInt64BE(o)) : u32(o));

  const type = u16(16);
  const machine = u16(18);
  const phoff = addr(elfClass === 64 ? 32 : 28);
  const phentsize = u16(elfClass === 64 ? 54 : 42);
  const phnum = u16(elfClass === 64 ? 56 : 44);
  let interpreter: string | undefined;
  let hasDynamic = false;
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (ph + phentsize > buf.length) break;
    const pType = u32(ph);
    if (pType === PT_DYNAMIC) hasDynamic = true;
    if (pType === PT_INTERP) {
      const offset = addr(ph + (elfClass === 64 ? 8 : 4));
      const size = addr(ph + (elfClass === 64 ? 32 : 16));
      interpreter = buf.subarray(offset, offset + size).toString('latin1').replace(/\0+$/, '');
    }
  }
  return { class: elfClass, endianness, type, machine, interpreter, hasDynamic };
}

/** Reads enough of a file to parse its ELF header and program headers. */
export async function readElf(path: string): Promise<ElfFacts> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const buf = Buffer.alloc(Math.min(size, 64 * 1024));
    await handle.read(buf, 0, buf.length, 0);
    return parseElf(buf);
  } finally {
    await handle.close();
  }
}

/** Describes how an ELF differs from what an ISA claims, or returns undefined when it matches. */
export function elfMismatch(facts: ElfFacts, isa: Isa): string | undefined {
  const problems: string[] = [];
  if (facts.machine !== isa.elf.machine) problems.push(`e_machine ${facts.machine} (${machineName(facts.machine)}), expected ${isa.elf.machine} (${isa.elf.machineName})`);
  if (facts.class !== isa.elf.class) problems.push(`ELF${facts.class}, expected ELF${isa.elf.class}`);
  if (facts.endianness !== isa.elf.endianness) problems.push(`${facts.endianness}-endian, expected ${isa.elf.endianness}-endian`);
  return problems.length ? problems.join('; ') : undefined;
}

const MACHINE_NAMES: Record<number, string> = {
  3: 'Intel 80386', 8: 'MIPS', 21: 'PowerPC64', 22: 'IBM S/390', 40: 'ARM', 62: 'x86-64', 183: 'AArch64', 243: 'RISC-V',
};

export function machineName(machine: number): string {
  return MACHINE_NAMES[machine] ?? `machine ${machine}`;
}
