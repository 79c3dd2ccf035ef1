// Checks a freshly built /bin/busybox before it goes into an image: ELF facts against the
// ISA table, no build path inside, and that it runs (under QEMU user-mode unless native).
import { readFile } from 'node:fs/promises';
import { machine } from 'node:os';
import { elfMismatch, readElf } from '../harness/elf.ts';
import { HarnessError } from '../harness/errors.ts';
import { type Isa, qemuBinary, runsNatively } from '../harness/isa.ts';
import { run } from './run.ts';

/** The command that runs a binary of this ISA on this host, as the image's own kernel would. */
export function runCommand(isa: Isa, binary: string, args: string[], hostMachine: string = machine()): string[] {
  if (runsNatively(isa, hostMachine)) {
    return isa.personality === 'linux32' ? ['setarch', 'linux32', binary, ...args] : [binary, ...args];
  }
  return [qemuBinary(isa), ...(isa.qemuCpu ? ['-cpu', isa.qemuCpu] : []), binary, ...args];
}

export async function verifyBusybox(isa: Isa, binary: string, buildDir: string, signal?: AbortSignal): Promise<void> {
  const facts = await readElf(binary);
  const mismatch = elfMismatch(facts, isa);
  if (mismatch) throw new HarnessError(`${isa.name}: ${binary} is not a ${isa.name} binary: ${mismatch}`);
  if (facts.interpreter) throw new HarnessError(`${isa.name}: ${binary} is dynamic (interpreter ${facts.interpreter}); expected a static BusyBox`);
  if ((await readFile(binary)).includes(buildDir)) throw new HarnessError(`${isa.name}: ${binary} contains the build path ${buildDir}; the build is not reproducible`);
  const argv = runCommand(isa, binary, ['uname', '-m']);
  const said = (await run(argv, { signal }).catch((error: Error) => {
    throw new HarnessError(`${isa.name}: ${binary} does not run: ${error.message}`);
  })).trim();
  if (said !== isa.unameMachine) throw new HarnessError(`${isa.name}: \`${argv.join(' ')}\` printed '${said}', expected '${isa.unameMachine}'`);
}
