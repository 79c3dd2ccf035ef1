// What an image's BusyBox says about itself, asked once per image inside the sandbox: the
// applets it lists and the version its banner names. Suites read these from ImageFacts.
import type { Isa } from './isa.ts';
import { runInSandbox } from './sandbox/index.ts';

export interface BusyboxFacts {
  /** What `busybox --list` printed (empty when there is no BusyBox). */
  applets: string[];
  /** From the banner's first line, "BusyBox v1.35.0 (...) multi-call binary.". */
  version?: string;
}

/** The version in a BusyBox banner line, e.g. '1.36.1' from "BusyBox v1.36.1 (2024-06-10 07:11:47 UTC)". */
export function bannerVersion(text: string): string | undefined {
  return /^BusyBox v(\d+\.\d+(?:\.\d+)?)/m.exec(text)?.[1];
}

export async function busyboxFacts(rootfs: string, isa: Isa, signal?: AbortSignal): Promise<BusyboxFacts> {
  const run = (argv: string[]) => runInSandbox({ rootfs, isa, argv, timeoutMs: 30_000 * isa.timeoutMultiplier, signal });
  const [listed, banner] = await Promise.all([run(['/bin/busybox', '--list']), run(['/bin/busybox', '--help'])]);
  if (listed.exitCode !== 0) return { applets: [] };
  const version = bannerVersion(banner.stdout + banner.stderr);
  return { applets: listed.stdout.split('\n').map((line) => line.trim()).filter(Boolean), ...(version && { version }) };
}
