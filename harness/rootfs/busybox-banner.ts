// The version of an image's BusyBox, from the banner it prints when run without arguments.
import type { Isa } from '../isa.ts';
import { runInSandbox } from '../sandbox/index.ts';
import { parseBusyboxBanner } from '../suites/busybox/version.ts';

/** "1.35.0" from /bin/busybox's banner, or undefined when it prints none. */
export async function readBusyboxVersion(rootfs: string, isa: Isa, signal?: AbortSignal): Promise<string | undefined> {
  const result = await runInSandbox({ rootfs, isa, argv: ['/bin/busybox'], timeoutMs: 30_000 * isa.timeoutMultiplier, signal });
  return parseBusyboxBanner(`${result.stdout}\n${result.stderr}`);
}
