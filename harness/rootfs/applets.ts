// Which BusyBox applets an image holds: what `busybox --list` prints inside it. An image's
// content is fixed by its digest, so the answer is kept in the cache and `list` and later
// runs boot nothing to learn it again.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Isa } from '../isa.ts';
import { cacheRoot } from '../paths.ts';
import { writeFileAtomic } from '../report/atomic.ts';
import { runInSandbox } from '../sandbox/index.ts';
import { DEFAULT_ENTRY } from './isa-check.ts';

export class ImageDoesNotBootError extends Error {}

/** The sandbox's exit code when the kernel refuses to execute the command. */
const CANNOT_EXECUTE = 126;

/**
 * The applets (empty when it lists nothing; that answer is not kept). The ISA check has found
 * an ELF entry point, so one that cannot be executed, crashes or hangs means the image does
 * not boot: its cases cannot run.
 */
export async function imageApplets(image: { rootfs: string; digest: string }, isa: Isa, ref: string, options: { cacheDir?: string; signal?: AbortSignal } = {}): Promise<string[]> {
  const dir = join(options.cacheDir ?? cacheRoot(), 'applets');
  const file = join(dir, `${image.digest.replace(/[^A-Za-z0-9]/g, '-')}-${isa.name}.txt`);
  const kept = await readFile(file, 'utf8').catch(() => undefined);
  if (kept !== undefined) return kept.split('\n').filter(Boolean);
  const listed = await runInSandbox({ rootfs: image.rootfs, isa, argv: [DEFAULT_ENTRY, '--list'], timeoutMs: 30_000 * isa.timeoutMultiplier, signal: options.signal });
  if (listed.signal !== null || listed.timedOut || listed.exitCode === CANNOT_EXECUTE) {
    const how = listed.timedOut ? 'timed out' : listed.signal ? `died of ${listed.signal}` : `exited ${listed.exitCode}`;
    const said = listed.stderr.trim().split('\n')[0];
    throw new ImageDoesNotBootError(`image ${ref} on ${isa.name} does not boot: \`${DEFAULT_ENTRY} --list\` ${how}${said ? ` (${said})` : ''}`);
  }
  if (listed.exitCode !== 0) return [];
  const applets = listed.stdout.split('\n').map((line) => line.trim()).filter(Boolean);
  // Best effort: a cache that cannot keep it only means asking again next time.
  await writeFileAtomic(file, applets.map((a) => `${a}\n`).join('')).catch(() => undefined);
  return applets;
}
