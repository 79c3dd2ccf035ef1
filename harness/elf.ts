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
  /** True when a PT_DYNAMIC segment exists (a static PIE has one too, without DT_NEEDED). */
  hasDynamic: boolean;
  /** The DT_NEEDED libraries, when the dynamic segment lies within the bytes parsed. */
  needed: string[];
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_STRTAB = 5;

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
  let dynamic: { offset: number; size: number } | undefined;
  const loads: Array<{ offset: number; vaddr: number; size: number }> = [];
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (ph + phentsize > buf.length) break;
    const pType = u32(ph);
    const offset = addr(ph + (elfClass === 64 ? 8 : 4));
    const size = addr(ph + (elfClass === 64 ? 32 : 16));
    if (pType === PT_DYNAMIC) dynamic = { offset, size };
    if (pType === PT_LOAD) loads.push({ offset, vaddr: addr(ph + (elfClass === 64 ? 16 : 8)), size });
    if (pType === PT_INTERP) interpreter = buf.subarray(offset, offset + size).toString('latin1').replace(/\0+$/, '');
  }
  const needed = dynamic ? neededLibraries(buf, dynamic, loads, elfClass, addr) : [];
  return { class: elfClass, endianness, type, machine, interpreter, hasDynamic: dynamic !== undefined, needed };
}

/** DT_NEEDED names: string-table offsets, the table found by its load address. */
function neededLibraries(
  buf: Buffer,
  dynamic: { offset: number; size: number },
  loads: ReadonlyArray<{ offset: number; vaddr: number; size: number }>,
  elfClass: 32 | 64,
  addr: (offset: number) => number,
): string[] {
  const entrySize = elfClass === 64 ? 16 : 8;
  const offsets: number[] = [];
  let strtab: number | undefined;
  for (let at = dynamic.offset; at + entrySize <= Math.min(buf.length, dynamic.offset + dynamic.size); at += entrySize) {
    const tag = addr(at);
    const value = addr(at + entrySize / 2);
    if (tag === DT_NULL) break;
    if (tag === DT_NEEDED) offsets.push(value);
    if (tag === DT_STRTAB) strtab = value;
  }
  const segment = strtab === undefined ? undefined : loads.find((load) => strtab! >= load.vaddr && strtab! < load.vaddr + load.size);
  if (!segment) return offsets.map((offset) => `(library at string offset ${offset})`);
  const base = segment.offset + (strtab! - segment.vaddr);
  return offsets.map((offset) => {
    const start = base + offset;
    const end = buf.indexOf(0, start);
    return buf.subarray(start, end < 0 ? buf.length : end).toString('latin1');
  });
}

/** Why a binary is not static ("needs /lib/ld-musl-aarch64.so.1, libz.so.1"), or undefined when it is. */
export function notStaticReason(facts: ElfFacts): string | undefined {
  const needs = [...(facts.interpreter ? [facts.interpreter] : []), ...facts.needed];
  return needs.length ? `needs ${needs.join(', ')}` : undefined;
}

/** Reads enough of a file to parse its ELF header and program headers (all of it for `whole`: DT_NEEDED may lie anywhere). */
export async function readElf(path: string, whole = false): Promise<ElfFacts> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const buf = Buffer.alloc(whole ? size : Math.min(size, 64 * 1024));
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
