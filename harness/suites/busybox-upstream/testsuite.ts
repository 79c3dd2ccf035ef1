// BusyBox's testsuite/ from a source tarball, staged once per (source, .config) into the
// cache as an overlay layer laid out as upstream expects: bindir holding busybox (a link to
// the image's own /bin/busybox) and .config, with testsuite/ below it, so ../busybox and
// ../../busybox resolve. Each case overlays it copy-on-write, so bindir stays writable
// (runtest makes runtest-tempdir-links there). Unpacking runs tar: a host process, like the
// musl suite's compiler, never one in the image.
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { exists, publishAtomically, shortHash } from '../../../images/cache.ts';
import { sha256File } from '../../../images/sources.ts';
import { HarnessError } from '../../errors.ts';
import { cacheRoot } from '../../paths.ts';

/** bindir inside the guest. */
export const GUEST_BINDIR = '/opt/busybox-upstream';
export const GUEST_TESTSUITE = `${GUEST_BINDIR}/testsuite`;
/** Bumped when the layer's layout changes, so old cache entries are not reused. */
const LAYOUT_VERSION = 1;

export interface StagedTestsuite {
  /** Host directory laid out like a guest root: pass as TestCase.layers. */
  layer: string;
  /** What runtest accepts as an applet: each `<name>.tests` and each old-style `<name>/` directory. */
  applets: string[];
}

const staging = new Map<string, Promise<StagedTestsuite>>();

/**
 * The staged testsuite of this tarball and .config, from the cache or unpacked now (once
 * per process for concurrent callers). `sha256`, when given, must match the tarball.
 */
export async function stageTestsuite(tarball: string, config: string, sha256?: string, cacheDir = cacheRoot()): Promise<StagedTestsuite> {
  const got = await sha256File(tarball).catch(() => {
    throw new HarnessError(`busybox-upstream: cannot read the BusyBox source ${tarball}`);
  });
  if (sha256 && got !== sha256) throw new HarnessError(`busybox-upstream: ${tarball}: sha256 ${got}, but the image was built from ${sha256}; delete it and run harness build-images to refetch`);
  const configText = await readFile(config, 'utf8').catch(() => {
    throw new HarnessError(`busybox-upstream: cannot read the BusyBox .config ${config}`);
  });
  const key = shortHash({ tarball: got, config: configText, LAYOUT_VERSION });
  let staged = staging.get(key);
  if (!staged) {
    staged = stage(join(cacheDir, 'busybox-upstream', key), tarball, configText);
    staging.set(key, staged);
    staged.catch(() => staging.delete(key));
  }
  return staged;
}

async function stage(dir: string, tarball: string, configText: string): Promise<StagedTestsuite> {
  if (!(await exists(join(dir, GUEST_TESTSUITE, 'runtest')))) {
    await publishAtomically(dir, async (tmp) => {
      const bindir = join(tmp, GUEST_BINDIR);
      await mkdir(join(bindir, 'testsuite'), { recursive: true });
      // Whatever the top directory is called (busybox-1.35.0/), take its testsuite/.
      const unpacked = await execa('tar', ['-xjf', tarball, '-C', join(bindir, 'testsuite'), '--strip-components=2', '--wildcards', '*/testsuite/*'], { reject: false });
      if (unpacked.exitCode !== 0) throw new HarnessError(`busybox-upstream: ${tarball} has no testsuite/ tar could unpack (${unpacked.stderr.split('\n')[0]}): is it a BusyBox source tarball?`);
      if (!(await exists(join(bindir, 'testsuite', 'runtest')))) throw new HarnessError(`busybox-upstream: ${tarball} has no testsuite/runtest: is it a BusyBox source tarball?`);
      await writeFile(join(bindir, '.config'), configText);
      await symlink('/bin/busybox', join(bindir, 'busybox'));
    });
  }
  return { layer: dir, applets: await listApplets(join(dir, GUEST_TESTSUITE)) };
}

async function listApplets(testsuite: string): Promise<string[]> {
  const names = new Set<string>();
  for (const entry of await readdir(testsuite, { withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.tests')) names.add(entry.name.slice(0, -'.tests'.length));
    else if (entry.isDirectory() && !entry.name.startsWith('.')) names.add(entry.name);
  }
  return [...names].sort();
}
