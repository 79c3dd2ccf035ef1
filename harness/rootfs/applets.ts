// What an image's BusyBox is: the applets `busybox --list` prints inside it, the version its
// banner names, and which of its applet links are wrong. An image's content is fixed by its
// digest, so the answer is kept in the cache and `list` and later runs boot nothing (and walk
// no link) to learn it again.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Isa } from '../isa.ts';
import { cacheRoot } from '../paths.ts';
import { writeFileAtomic } from '../report/atomic.ts';
import { runInSandbox } from '../sandbox/index.ts';
import { parseBusyboxBanner } from '../suites/busybox/version.ts';
import { appletLinkProblems } from '../suites/image/checks.ts';
import { DEFAULT_ENTRY } from './isa-check.ts';

export class ImageDoesNotBootError extends Error {}

/** The sandbox's exit code when the kernel refuses to execute the command. */
const CANNOT_EXECUTE = 126;

export interface ImageBusybox {
  /** Empty when the entry point lists none. */
  applets: string[];
  /** "1.35.0" from /bin/busybox's banner; absent when it prints none. */
  version?: string;
  /** The image suite's findings on the links to BusyBox (checks.ts appletLinkProblems). */
  linkProblems: string[];
}

/**
 * The image's applets, BusyBox version and applet-link findings (an empty applet list is not
 * kept: the links are then not judged). The ISA check has found
 * an ELF entry point, so one that cannot be executed, crashes or hangs means the image does
 * not boot: its cases cannot run.
 */
export async function imageBusybox(image: { rootfs: string; digest: string }, isa: Isa, ref: string, options: { cacheDir?: string; signal?: AbortSignal } = {}): Promise<ImageBusybox> {
  const dir = join(options.cacheDir ?? cacheRoot(), 'applets');
  const file = join(dir, `${image.digest.replace(/[^A-Za-z0-9]/g, '-')}-${isa.name}.json`);
  const kept = await readFile(file, 'utf8').then((text) => JSON.parse(text) as Partial<ImageBusybox> & Pick<ImageBusybox, 'applets'>, () => undefined);
  if (kept?.linkProblems) return kept as ImageBusybox;
  // A record kept before link findings were: completed once.
  if (kept) return keep(file, { ...kept, linkProblems: appletLinkProblems(image.rootfs, kept.applets) });
  const timeoutMs = 30_000 * isa.timeoutMultiplier;
  const [listed, banner] = await Promise.all([
    runInSandbox({ rootfs: image.rootfs, isa, argv: [DEFAULT_ENTRY, '--list'], timeoutMs, signal: options.signal }),
    runInSandbox({ rootfs: image.rootfs, isa, argv: ['/bin/busybox'], timeoutMs, signal: options.signal }),
  ]);
  if (listed.signal !== null || listed.timedOut || listed.exitCode === CANNOT_EXECUTE) {
    const how = listed.timedOut ? 'timed out' : listed.signal ? `died of ${listed.signal}` : `exited ${listed.exitCode}`;
    const said = listed.stderr.trim().split('\n')[0];
    throw new ImageDoesNotBootError(`image ${ref} on ${isa.name} does not boot: \`${DEFAULT_ENTRY} --list\` ${how}${said ? ` (${said})` : ''}`);
  }
  const version = parseBusyboxBanner(`${banner.stdout}\n${banner.stderr}`);
  const applets = listed.exitCode === 0 ? listed.stdout.split('\n').map((line) => line.trim()).filter(Boolean) : [];
  const found: ImageBusybox = { applets, ...(version && { version }), linkProblems: applets.length ? appletLinkProblems(image.rootfs, applets) : [] };
  return applets.length ? keep(file, found) : found;
}

/** Best effort: a cache that cannot keep it only means asking again next time. */
async function keep(file: string, found: ImageBusybox): Promise<ImageBusybox> {
  await writeFileAtomic(file, JSON.stringify(found)).catch(() => undefined);
  return found;
}
