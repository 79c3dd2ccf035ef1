// BusyBox's testsuite/ from a source tarball, staged once per (source, .config) into the
// cache as an overlay layer laid out as upstream expects: bindir holding busybox (a link to
// the image's own /bin/busybox) and .config, with testsuite/ below it, so ../busybox and
// ../../busybox resolve. Each case overlays it copy-on-write, so bindir stays writable
// (runtest makes runtest-tempdir-links there). Unpacking runs tar: a host process, like the
// musl suite's compiler, never one in the image.
//
// runtest begins by linking every applet into $bindir/runtest-tempdir-links, one `ln -s` each:
// some 400 execs, every one a QEMU start under emulation (20 s of a one-applet job on aarch64
// on a loaded host, more than most applets' tests). The layer ships those links, made as
// runtest makes them, and runtest's setup skips remaking them when they are there (the one
// change to upstream's files: its link block is wrapped in a test for the marker; the rest
// of runtest and every test are as released). Upstream's own comment there invites it.
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exists, publishAtomically, shortHash } from '../../../images/cache.ts';
import { sha256File } from '../../../images/sources.ts';
import { HarnessError } from '../../errors.ts';
import { cacheRoot } from '../../paths.ts';

/** bindir inside the guest. */
export const GUEST_BINDIR = '/opt/busybox-upstream';
export const GUEST_TESTSUITE = `${GUEST_BINDIR}/testsuite`;
/** Bumped when the layer's layout changes, so old cache entries are not reused. */
const LAYOUT_VERSION = 2;
const LINKS_DIR = 'runtest-tempdir-links';
const LINKS_MARKER = '.staged-by-harness';
/** runtest's link block: from the rm of the links dir to the end of the ln loop. */
const LINK_BLOCK = /^(rm -rf "\$LINKSDIR" 2>\/dev\/null\n[\s\S]*?^for i in \$implemented; do\n[\s\S]*?^done)$/m;

/** runtest with its link block skipped when the links are staged; unchanged when the block is not found (other versions). */
export function patchRuntest(text: string): string {
  return text.replace(LINK_BLOCK, `if [ ! -e "$LINKSDIR/${LINKS_MARKER}" ]; then # links staged by the harness\n$1\nfi`);
}

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
export async function stageTestsuite(tarball: string, config: string, applets: readonly string[], sha256?: string, cacheDir = cacheRoot()): Promise<StagedTestsuite> {
  const got = await sha256File(tarball).catch(() => {
    throw new HarnessError(`busybox-upstream: cannot read the BusyBox source ${tarball}`);
  });
  if (sha256 && got !== sha256) throw new HarnessError(`busybox-upstream: ${tarball}: sha256 ${got}, but the image was built from ${sha256}; delete it and run harness build-images to refetch`);
  const configText = await readFile(config, 'utf8').catch(() => {
    throw new HarnessError(`busybox-upstream: cannot read the BusyBox .config ${config}`);
  });
  const linked = ['busybox', ...applets.filter((applet) => applet !== 'busybox' && !applet.includes('/'))];
  const key = shortHash({ tarball: got, config: configText, linked, LAYOUT_VERSION });
  let staged = staging.get(key);
  if (!staged) {
    staged = stage(join(cacheDir, 'busybox-upstream', key), tarball, configText, linked);
    staging.set(key, staged);
    staged.catch(() => staging.delete(key));
  }
  return staged;
}

async function stage(dir: string, tarball: string, configText: string, linked: readonly string[]): Promise<StagedTestsuite> {
  if (!(await exists(join(dir, GUEST_TESTSUITE, 'runtest')))) {
    await publishAtomically(dir, async (tmp) => {
      const bindir = join(tmp, GUEST_BINDIR);
      await mkdir(join(bindir, 'testsuite'), { recursive: true });
      // Whatever the top directory is called (busybox-1.35.0/), take its testsuite/.
      // Loaded on first use: execa's import costs more than `harness list` may take in all.
      const { execa } = await import('execa');
      const unpacked = await execa('tar', ['-xjf', tarball, '-C', join(bindir, 'testsuite'), '--strip-components=2', '--wildcards', '*/testsuite/*'], { reject: false });
      if (unpacked.exitCode !== 0) throw new HarnessError(`busybox-upstream: ${tarball} has no testsuite/ tar could unpack (${unpacked.stderr.split('\n')[0]}): is it a BusyBox source tarball?`);
      if (!(await exists(join(bindir, 'testsuite', 'runtest')))) throw new HarnessError(`busybox-upstream: ${tarball} has no testsuite/runtest: is it a BusyBox source tarball?`);
      await writeFile(join(bindir, '.config'), configText);
      await symlink('/bin/busybox', join(bindir, 'busybox'));
      const runtest = join(bindir, 'testsuite', 'runtest');
      await writeFile(runtest, patchRuntest(await readFile(runtest, 'utf8')));
      await mkdir(join(bindir, LINKS_DIR));
      for (const applet of linked) await symlink(`${GUEST_BINDIR}/busybox`, join(bindir, LINKS_DIR, applet));
      await writeFile(join(bindir, LINKS_DIR, LINKS_MARKER), '');
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
