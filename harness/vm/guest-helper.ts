// The sandbox helper (sandbox-run.c) built for the guest ISA with its musl toolchain, so a
// case inside the VM gets the same fresh root, /proc, /dev, loopback, hostname and PID-1
// handling as under qemu-user. Cached per ISA and source hash.
import { createHash } from 'node:crypto';
import { access, constants, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { elfMismatch, readElf } from '../elf.ts';
import { HarnessError } from '../errors.ts';
import type { Isa } from '../isa.ts';
import { cacheRoot } from '../paths.ts';
import { SANDBOX_HELPER_SOURCE } from '../sandbox/helper.ts';
import type { Toolchain } from '../suites/suite.ts';

export async function guestHelper(isa: Isa, toolchain: Toolchain, cacheDir: string = cacheRoot()): Promise<string> {
  const source = await readFile(SANDBOX_HELPER_SOURCE);
  const digest = createHash('sha256').update(source).update(toolchain.cc).update(toolchain.cflags.join(' ')).digest('hex').slice(0, 16);
  const dir = join(cacheDir, 'vm');
  const helper = join(dir, `sandbox-run-${isa.name}-${digest}`);
  if (await access(helper, constants.X_OK).then(() => true, () => false)) return helper;
  await mkdir(dir, { recursive: true });
  const partial = `${helper}.${process.pid}.tmp`;
  try {
    const result = await execa(toolchain.cc, [...toolchain.cflags, '-O2', '-static', '-Wall', '-o', partial, SANDBOX_HELPER_SOURCE], { reject: false, all: true });
    if (result.exitCode !== 0) throw new HarnessError(`cannot build the ${isa.name} sandbox helper with ${toolchain.cc}: ${result.all?.split('\n')[0]}; rebuild the ${isa.name} image (harness build-images --arch ${isa.name})`);
    const wrong = elfMismatch(await readElf(partial), isa);
    if (wrong) throw new HarnessError(`${toolchain.cc} built the ${isa.name} sandbox helper, but it ${wrong}: check the toolchain`);
    await rename(partial, helper);
    return helper;
  } finally {
    await rm(partial, { force: true });
  }
}
