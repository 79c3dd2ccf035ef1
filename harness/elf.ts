// Reads the few ELF header facts that say which ISA a binary is for, and whether it is
// static. Pure: works on a Buffer, so tests need no files.
import { closeSync, openSync, readSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { HarnessError } from './errors.ts';
import type { ArmLevel, Endianness, Isa } from './isa.ts';

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
  /** The DT_NEEDED libraries (from parseElf: those whose entries and names lie within its buffer). */
  needed: string[];
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_STRTAB = 5;

export class NotElfError extends HarnessError {}

/** Bytes of an ELF file by offset: fewer than asked at its end. */
interface ElfBytes {
  at(offset: number, length: number): Buffer;
}

/** A table or string bigger than this is a corrupt header, not a reason to read that much. */
const MAX_PART_BYTES = 1 << 20;
/** A library name longer than this is cut (no real one comes close). */
const MAX_NAME_BYTES = 4096;

/** Parses the facts from a buffer holding the file, or its start (then `needed` lists what lies within it). */
export function parseElf(buf: Buffer): ElfFacts {
  return parseElfBytes({ at: (offset, length) => buf.subarray(offset, offset + length) });
}

function parseElfBytes(bytes: ElfBytes): ElfFacts {
  const head = bytes.at(0, 64);
  if (head.length < 52 || head.readUInt32BE(0) !== 0x7f454c46) throw new NotElfError('not an ELF file');
  const elfClass = head[4] === 2 ? 64 : head[4] === 1 ? 32 : undefined;
  const endianness = head[5] === 1 ? 'little' : head[5] === 2 ? 'big' : undefined;
  if (!elfClass || !endianness) throw new NotElfError(`bad ELF ident (class ${head[4]}, data ${head[5]})`);
  if (elfClass === 64 && head.length < 64) throw new NotElfError(`truncated ELF64 header (${head.length} of 64 bytes)`);
  const fields = elfFields(elfClass, endianness);
  const type = fields.u16(head, 16);
  const machine = fields.u16(head, 18);
  const phoff = fields.addr(head, elfClass === 64 ? 32 : 28);
  const phentsize = fields.u16(head, elfClass === 64 ? 54 : 42);
  const phnum = fields.u16(head, elfClass === 64 ? 56 : 44);
  // Each program header is read up to its p_filesz field: a smaller e_phentsize is corrupt.
  const phMinimum = elfClass === 64 ? 40 : 20;
  if (phnum > 0 && phentsize < phMinimum) throw new NotElfError(`bad e_phentsize ${phentsize} (a program header needs at least ${phMinimum} bytes)`);
  const table = bytes.at(phoff, Math.min(phnum * phentsize, MAX_PART_BYTES));
  let interpreter: string | undefined;
  let dynamic: { offset: number; size: number } | undefined;
  const loads: Load[] = [];
  for (let i = 0; i < phnum; i++) {
    const ph = i * phentsize;
    if (ph + phentsize > table.length) break;
    const pType = fields.u32(table, ph);
    const offset = fields.addr(table, ph + (elfClass === 64 ? 8 : 4));
    const size = fields.addr(table, ph + (elfClass === 64 ? 32 : 16));
    if (pType === PT_DYNAMIC) dynamic = { offset, size };
    if (pType === PT_LOAD) loads.push({ offset, vaddr: fields.addr(table, ph + (elfClass === 64 ? 16 : 8)), size });
    if (pType === PT_INTERP) interpreter = bytes.at(offset, Math.min(size, MAX_NAME_BYTES)).toString('latin1').replace(/\0+$/, '');
  }
  const needed = dynamic ? neededLibraries(bytes, dynamic, loads, elfClass, fields) : [];
  return { class: elfClass, endianness, type, machine, interpreter, hasDynamic: dynamic !== undefined, needed };
}

interface Load {
  offset: number;
  vaddr: number;
  size: number;
}

/** Readers of the header's fields, in the file's class and byte order. */
function elfFields(elfClass: 32 | 64, endianness: Endianness) {
  const le = endianness === 'little';
  const u16 = (buf: Buffer, o: number) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (buf: Buffer, o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const addr = (buf: Buffer, o: number) => (elfClass === 64 ? Number(le ? buf.readBigUInt64LE(o) : buf.readBigUInt64BE(o)) : u32(buf, o));
  return { u16, u32, addr };
}

/** DT_NEEDED names: string-table offsets, the table found by its load address. */
function neededLibraries(bytes: ElfBytes, dynamic: { offset: number; size: number }, loads: readonly Load[], elfClass: 32 | 64, fields: ReturnType<typeof elfFields>): string[] {
  const entrySize = elfClass === 64 ? 16 : 8;
  const section = bytes.at(dynamic.offset, Math.min(dynamic.size, MAX_PART_BYTES));
  const offsets: number[] = [];
  let strtab: number | undefined;
  for (let at = 0; at + entrySize <= section.length; at += entrySize) {
    const tag = fields.addr(section, at);
    const value = fields.addr(section, at + entrySize / 2);
    if (tag === DT_NULL) break;
    if (tag === DT_NEEDED) offsets.push(value);
    if (tag === DT_STRTAB) strtab = value;
  }
  const segment = strtab === undefined ? undefined : loads.find((load) => strtab! >= load.vaddr && strtab! < load.vaddr + load.size);
  if (!segment) return offsets.map((offset) => `(library at string offset ${offset})`);
  const base = segment.offset + (strtab! - segment.vaddr);
  return offsets.map((offset) => {
    const name = bytes.at(base + offset, MAX_NAME_BYTES);
    const end = name.indexOf(0);
    return name.subarray(0, end < 0 ? name.length : end).toString('latin1');
  });
}

/** Why a binary is not static ("needs /lib/ld-musl-aarch64.so.1, libz.so.1"), or undefined when it is. */
export function notStaticReason(facts: ElfFacts): string | undefined {
  const needs = [...(facts.interpreter ? [facts.interpreter] : []), ...facts.needed];
  return needs.length ? `needs ${needs.join(', ')}` : undefined;
}

/** The first bytes read of a file: its ELF and program headers, which almost always lie within them. */
const HEAD_BYTES = 4096;

/**
 * Reads the parts of a file that the facts come from: its headers, then its interpreter and
 * dynamic section where they lie (a static binary: one read). The reads are synchronous: a
 * static suite checks every binary before it runs, and four thread-pool hops a file (open,
 * stat, read, close) cost more than the reads themselves. Still async to its callers, so a
 * failure is a rejection.
 */
export async function readElf(path: string): Promise<ElfFacts> {
  const fd = openSync(path, 'r');
  try {
    const read = (offset: number, length: number) => {
      // A corrupt header's offset may lie past any file (or past what a number holds exactly).
      if (!Number.isSafeInteger(offset) || length <= 0) return Buffer.alloc(0);
      const buf = Buffer.allocUnsafe(length);
      return buf.subarray(0, readSync(fd, buf, 0, length, offset));
    };
    const head = read(0, HEAD_BYTES);
    return parseElfBytes({ at: (offset, length) => (offset + length <= head.length ? head.subarray(offset, offset + length) : read(offset, length)) });
  } finally {
    closeSync(fd);
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
  3: 'Intel 80386', 8: 'MIPS', 21: 'PowerPC64', 22: 'IBM S/390', 40: 'ARM', 62: 'x86-64', 183: 'AArch64', 243: 'RISC-V', 258: 'LoongArch',
};

export function machineName(machine: number): string {
  return MACHINE_NAMES[machine] ?? `machine ${machine}`;
}

// ARM build attributes (.ARM.attributes, "Addenda to, and Errata in, the ABI for the Arm
// Architecture"): which CPU a binary was built for, as `readelf -A` shows it.
const SHT_ARM_ATTRIBUTES = 0x70000003;
const TAG_FILE = 1;
const TAG_CPU_ARCH = 6;
const TAG_THUMB_ISA_USE = 9;
const TAG_FP_ARCH = 10;

/** Tag_CPU_arch values, by number. */
export const ARM_CPU_ARCHS = [
  'Pre-v4', 'v4', 'v4T', 'v5T', 'v5TE', 'v5TEJ', 'v6', 'v6KZ', 'v6T2', 'v6K', 'v7', 'v6-M', 'v6S-M', 'v7E-M', 'v8',
  'v8-R', 'v8-M.baseline', 'v8-M.mainline', 'v8.1-A', 'v8.2-A', 'v8.3-A', 'v8.1-M.mainline', 'v9',
] as const;
export const ARM_THUMB_USES = ['none', 'Thumb-1', 'Thumb-2', 'Thumb (as the CPU arch allows)'] as const;
export const ARM_FP_ARCHS = ['none', 'VFPv1', 'VFPv2', 'VFPv3', 'VFPv3-D16', 'VFPv4', 'VFPv4-D16', 'FP-ARMv8', 'FPv5/FP-D16 for ARMv8'] as const;

/** What an ARM binary says it needs; a tag it leaves out is undefined (it needs nothing of that kind). */
export interface ArmAttributes {
  cpuArch?: string;
  thumb?: string;
  fpArch?: string;
}

/** Parses the contents of a .ARM.attributes section: the "aeabi" vendor's file-scope tags. */
export function parseArmAttributes(section: Buffer): ArmAttributes {
  if (section[0] !== 0x41) throw new NotElfError(`.ARM.attributes format '${String.fromCharCode(section[0] ?? 0)}', expected 'A'`);
  const found: ArmAttributes = {};
  let offset = 1;
  while (offset + 4 <= section.length) {
    const length = section.readUInt32LE(offset);
    if (length < 4) break;
    const end = Math.min(offset + length, section.length);
    const vendorEnd = section.indexOf(0, offset + 4);
    const vendor = section.subarray(offset + 4, vendorEnd).toString('latin1');
    if (vendor === 'aeabi') readAeabiSubsection(section, vendorEnd + 1, end, found);
    offset = end;
  }
  return found;
}

function readAeabiSubsection(buf: Buffer, start: number, end: number, found: ArmAttributes): void {
  let offset = start;
  while (offset + 5 <= end) {
    const scope = buf[offset]!;
    const size = buf.readUInt32LE(offset + 1);
    const next = Math.min(offset + size, end);
    if (scope === TAG_FILE) readTags(buf, offset + 5, next, found);
    if (size < 5) break;
    offset = next;
  }
}

function readTags(buf: Buffer, start: number, end: number, found: ArmAttributes): void {
  let offset = start;
  const uleb = () => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = buf[offset++] ?? 0;
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(byte & 0x80) || offset >= end) return value;
    }
  };
  const skipString = () => {
    const nul = buf.indexOf(0, offset);
    offset = nul === -1 || nul >= end ? end : nul + 1;
  };
  while (offset < end) {
    const tag = uleb();
    // Tag_CPU_raw_name, Tag_CPU_name and Tag_conformance are strings; Tag_compatibility is a
    // number then a string; other tags below 32 are numbers, and above it odd tags are strings.
    if (tag === 4 || tag === 5 || tag === 67) skipString();
    else if (tag === 32) { uleb(); skipString(); }
    else if (tag > 32 && tag % 2 === 1) skipString();
    else {
      const value = uleb();
      if (tag === TAG_CPU_ARCH) found.cpuArch = ARM_CPU_ARCHS[value] ?? `arch ${value}`;
      if (tag === TAG_THUMB_ISA_USE) found.thumb = ARM_THUMB_USES[value] ?? `thumb ${value}`;
      if (tag === TAG_FP_ARCH) found.fpArch = ARM_FP_ARCHS[value] ?? `fp ${value}`;
    }
  }
}

/** The .ARM.attributes section of a whole ELF file, or undefined when it has none. */
export function armAttributesSection(buf: Buffer): Buffer | undefined {
  const facts = parseElf(buf);
  if (facts.class !== 32 || facts.endianness !== 'little') return undefined;
  const shoff = buf.readUInt32LE(32);
  const shentsize = buf.readUInt16LE(46);
  const shnum = buf.readUInt16LE(48);
  for (let i = 0; i < shnum; i++) {
    const sh = shoff + i * shentsize;
    if (sh + 40 > buf.length) break;
    if (buf.readUInt32LE(sh + 4) !== SHT_ARM_ATTRIBUTES) continue;
    const offset = buf.readUInt32LE(sh + 16);
    return buf.subarray(offset, offset + buf.readUInt32LE(sh + 20));
  }
  return undefined;
}

/** The ARM build attributes of a file (read whole: entry points are a few MB at most), or undefined when it has none. */
export async function readArmAttributes(path: string): Promise<ArmAttributes | undefined> {
  const section = armAttributesSection(await readFile(path));
  return section && parseArmAttributes(section);
}

/** A-profile order of Tag_CPU_arch: v6K and v6KZ are one level; an M-profile arch runs on no A-profile baseline. */
const CPU_ARCH_RANK: Record<string, number> = {
  'Pre-v4': 0, v4: 1, v4T: 2, v5T: 3, v5TE: 4, v5TEJ: 5, v6: 6, v6KZ: 7, v6K: 7, v6T2: 8, v7: 10, v8: 14,
  'v8-R': 14, 'v8.1-A': 15, 'v8.2-A': 16, 'v8.3-A': 17, v9: 20,
};
/** VFPv3-D16 is VFPv3 less half the registers, and so on. */
const FP_ARCH_RANK: Record<string, number> = {
  none: 0, VFPv1: 1, VFPv2: 2, 'VFPv3-D16': 3, VFPv3: 4, 'VFPv4-D16': 5, VFPv4: 6, 'FPv5/FP-D16 for ARMv8': 7, 'FP-ARMv8': 8,
};
const THUMB_RANK: Record<string, number> = { none: 0, 'Thumb-1': 1, 'Thumb-2': 2, 'Thumb (as the CPU arch allows)': 0 };

/** What in `needs` is beyond `baseline` (each as "Tag value, baseline value"), or an empty list when the baseline runs it. */
export function armLevelExcess(needs: ArmAttributes, baseline: ArmLevel): string[] {
  const beyond = (rank: Record<string, number>, value: string | undefined, limit: string) =>
    value !== undefined && (rank[value] ?? Infinity) > (rank[limit] ?? -1);
  const excess: string[] = [];
  if (beyond(CPU_ARCH_RANK, needs.cpuArch, baseline.cpuArch)) excess.push(`Tag_CPU_arch ${needs.cpuArch}`);
  if (beyond(THUMB_RANK, needs.thumb, baseline.thumb)) excess.push(`Tag_THUMB_ISA_use ${needs.thumb}`);
  if (beyond(FP_ARCH_RANK, needs.fpArch, baseline.fpArch)) excess.push(`Tag_FP_arch ${needs.fpArch}`);
  return excess;
}

/** "v7, Thumb-2, VFPv3-D16": the attributes as readelf -A names them. */
export function describeArmAttributes(attributes: ArmAttributes): string {
  return [attributes.cpuArch ?? 'no CPU arch', attributes.thumb ?? 'no Thumb', attributes.fpArch ?? 'no FP'].join(', ');
}

/**
 * Describes how a file's ARM build attributes exceed the ISA's baseline CPU (both levels
 * named), or returns undefined when they do not, or when the ISA names no ARM baseline.
 */
export async function cpuLevelMismatch(path: string, isa: Isa): Promise<string | undefined> {
  const baseline = isa.armBaseline;
  if (!baseline) return undefined;
  const needs = await readArmAttributes(path);
  if (!needs) return undefined;
  const excess = armLevelExcess(needs, baseline);
  if (!excess.length) return undefined;
  const level = needs.cpuArch ? `ARM${needs.cpuArch}` : 'a newer ARM';
  return `needs ${level} (${describeArmAttributes(needs)}: ${excess.join(', ')}), but ${isa.name}'s baseline is ${baseline.name} `
    + `(${describeArmAttributes(baseline)}; QEMU CPU ${isa.qemuCpu ?? 'default'})`;
}
