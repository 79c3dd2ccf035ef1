// Checks that an image holds binaries for the ISA it is labelled with, before any test
// runs: a mislabelled image would otherwise fail every case with a baffling exec error.
import { platformString, type Isa } from '../isa.ts';
import { HarnessError } from '../errors.ts';
import { cpuLevelMismatch, elfMismatch, machineName, readElf, NotElfError, type ElfFacts } from '../elf.ts';
import { resolveInRoot } from './in-root.ts';

export const DEFAULT_ENTRY = '/bin/busybox';

export class ImageIsaMismatchError extends HarnessError {
  constructor(readonly ref: string, readonly isa: Isa, readonly entry: string, readonly facts: ElfFacts, cpuLevel?: string) {
    super(cpuLevel
      ? `image ${ref} labelled ${isa.name}: ${entry} ${cpuLevel}`
      : `image ${ref} labelled ${isa.name}: ${entry} is ${machineName(facts.machine)} (e_machine ${facts.machine}), `
        + `ELF${facts.class} ${facts.endianness}-endian; expected ${isa.elf.machineName} ELF${isa.elf.class} ${isa.elf.endianness}-endian`);
    this.name = 'ImageIsaMismatchError';
  }
}

/**
 * Throws ImageIsaMismatchError unless `entry` (symlinks followed inside the rootfs, never
 * to the host) is an ELF for the ISA's machine, class and byte order, and (ARM) its build
 * attributes ask for no more than the ISA's baseline CPU. `ref` names the image
 * in the message (the matrix's reference; the rootfs path by default).
 */
export async function checkImageIsa(rootfs: string, isa: Isa, entry: string = DEFAULT_ENTRY, ref: string = rootfs): Promise<void> {
  const context = `image ${ref} labelled ${isa.name} (${platformString(isa)})`;
  const host = await resolveInRoot(rootfs, entry, { followFinal: true, createParents: false }).catch((error: Error) => {
    throw new HarnessError(`${context}: cannot resolve ${entry} in ${rootfs}: ${error.message}`);
  });
  const facts = await readElf(host).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new HarnessError(`${context}: ${entry} does not exist in ${rootfs}; name the image's entry point if it has no BusyBox`);
    if (error instanceof NotElfError) throw new HarnessError(`${context}: ${entry} is not an ELF binary (${error.message}); name a binary as the entry point`);
    throw error;
  });
  if (elfMismatch(facts, isa)) throw new ImageIsaMismatchError(ref, isa, entry, facts);
  const cpuLevel = await cpuLevelMismatch(host, isa);
  if (cpuLevel) throw new ImageIsaMismatchError(ref, isa, entry, facts, cpuLevel);
}
