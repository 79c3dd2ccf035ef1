// Checks a freshly built /bin/busybox before it goes into an image: ELF facts against the
// ISA table (ARM: its build attributes within the baseline CPU), no build path inside, and
// that it runs on the baseline CPU (under QEMU user-mode unless native).
import { readFile } from 'node:fs/promises';
import { machine } from 'node:os';
import { cpuLevelMismatch, elfMismatch, readElf } from '../harness/elf.ts';
import { HarnessError } from '../harness/errors.ts';
import { type Isa, directCommand, guestLaunch } from '../harness/isa.ts';
import { run } from './run.ts';

export async function verifyBusybox(isa: Isa, binary: string, buildDir: string, signal?: AbortSignal): Promise<void> {
  const facts = await readElf(binary);
  const mismatch = elfMismatch(facts, isa);
  if (mismatch) throw new HarnessError(`${isa.name}: ${binary} is not a ${isa.name} binary: ${mismatch}`);
  if (facts.interpreter) throw new HarnessError(`${isa.name}: ${binary} is dynamic (interpreter ${facts.interpreter}); expected a static BusyBox`);
  if ((await readFile(binary)).includes(buildDir)) throw new HarnessError(`${isa.name}: ${binary} contains the build path ${buildDir}; the build is not reproducible`);
  const cpuLevel = await cpuLevelMismatch(binary, isa);
  if (cpuLevel) throw new HarnessError(`${isa.name}: ${binary} ${cpuLevel}`);
  // As the image's own kernel would run it: on the ISA's baseline CPU, with its personality.
  const launch = guestLaunch(isa, machine());
  const argv = directCommand(launch, binary, ['uname', '-m']);
  const said = (await run(argv, { env: launch.env, signal }).catch((error: Error) => {
    throw new HarnessError(`${isa.name}: ${binary} does not run: ${error.message}`);
  })).trim();
  if (said !== isa.unameMachine) throw new HarnessError(`${isa.name}: \`${argv.join(' ')}\` printed '${said}', expected '${isa.unameMachine}'`);
}
