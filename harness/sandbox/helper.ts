// Builds sandbox-run.c once per source version into the cache. A C helper instead of a
// shell script of mount/ip/chroot calls: a clone per case (served, server.ts) instead of
// about fifteen execs (numbers in index.ts).
import { createHash } from 'node:crypto';
import { access, constants, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HarnessError } from '../errors.ts';
import { cacheRoot } from '../paths.ts';
import { removeDeadStagingDirs } from './leaks.ts';

export const SANDBOX_HELPER_SOURCE = fileURLToPath(new URL('sandbox-run.c', import.meta.url));

export interface SandboxHost {
  /** The built helper binary. */
  helper: string;
  /** Empty directory each run mounts its private tmpfs on (inside its own mount namespace). */
  mountPoint: string;
}

let built: Promise<SandboxHost> | undefined;

/** The helper and its mount point, built on first use (and after any change of the source). */
export function sandboxHost(): Promise<SandboxHost> {
  built ??= buildHelper();
  // Don't cache a failure: the user may install gcc and retry in the same process.
  built.catch(() => (built = undefined));
  return built;
}

async function buildHelper(): Promise<SandboxHost> {
  // Once per process, before its first case: what a SIGKILLed run could not remove itself.
  await removeDeadStagingDirs();
  const source = await readFile(SANDBOX_HELPER_SOURCE);
  const digest = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const dir = join(cacheRoot(), 'sandbox');
  const helper = join(dir, `sandbox-run-${digest}`);
  const mountPoint = join(dir, 'mnt');
  await mkdir(mountPoint, { recursive: true });
  if (await access(helper, constants.X_OK).then(() => true, () => false)) return { helper, mountPoint };
  // Build beside the target and rename: concurrent harness processes never see half a binary.
  const partial = `${helper}.${process.pid}.tmp`;
  try {
    // Static: no dynamic loader at each of the thousands of starts.
    // Loaded on first use: execa's import costs more than `harness list` may take in all.
    const { execa } = await import('execa');
    await execa('cc', ['-O2', '-static', '-Wall', '-o', partial, SANDBOX_HELPER_SOURCE]);
    await rename(partial, helper);
  } catch (error) {
    await rm(partial, { force: true });
    const reason = (error as { shortMessage?: string }).shortMessage ?? String(error);
    throw new HarnessError(`cannot build the sandbox helper from ${SANDBOX_HELPER_SOURCE} (${reason.split('\n')[0]}): apt-get install gcc libc6-dev`);
  }
  return { helper, mountPoint };
}
