// Debian's kernels for the emulated ISAs, pinned in the ISA table by package, version and
// sha256, fetched once into the cache. apt-get download runs with that architecture's
// package lists in a private lists dir and a private sources list (trixie for riscv64), so
// the machine's own apt sources and lists are never read or changed.
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { sha256File } from '../../images/sources.ts';
import { makeCacheTempDir } from '../cache-temp.ts';
import { HarnessError } from '../errors.ts';
import { type DebianKernel, type Isa, type SystemEmulation, systemEmulation } from '../isa.ts';
import { cacheRoot } from '../paths.ts';
import { unpackKernel } from './boot-image.ts';

const MIRROR = 'http://deb.debian.org/debian';
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

export function kernelsDir(cacheDir: string = cacheRoot()): string {
  return join(cacheDir, 'kernels');
}

/** The overlayfs module beside the kernel: cases in the VM get copy-on-write roots as on the host. */
export const OVERLAY_MODULE = 'overlay.ko';

/** The packaged kernel image of an ISA once fetched, in its entry keyed by package and version. */
function packagedPath(system: SystemEmulation, cacheDir?: string): string {
  return join(kernelsDir(cacheDir), `${system.kernel.package}_${system.kernel.version}`, basename(system.kernel.image));
}

/** What qemu-system boots: the unpacked kernel where the table says so, else the packaged one. */
export function kernelPath(isa: Isa, cacheDir?: string): string | undefined {
  const system = systemEmulation(isa);
  if (!system) return undefined;
  const packaged = packagedPath(system, cacheDir);
  return system.unpacked ? `${packaged}.${system.unpacked.wrap}` : packaged;
}

/** Unpacks the packaged kernel beside it, when the table asks for an unpacked one. */
async function unpackBeside(system: SystemEmulation, packaged: string, bootPath: string): Promise<void> {
  if (system.unpacked) await unpackKernel(packaged, system.unpacked, bootPath, system.kernel.release);
}

export type KernelStatus =
  | { state: 'present'; path: string; kernel: DebianKernel }
  | { state: 'missing'; path: string; kernel: DebianKernel }
  | { state: 'none'; reason: string };

/** Debian 12 ships modules as .ko, Debian 13 as .ko.xz; BusyBox's insmod wants them plain. */
async function extractOverlayModule(root: string, kernel: DebianKernel, target: string): Promise<void> {
  for (const prefix of ['lib', 'usr/lib']) {
    const base = join(root, prefix, 'modules', kernel.release, 'kernel', 'fs', 'overlayfs', 'overlay.ko');
    if (await isFile(base)) return rename(base, target);
    if (await isFile(`${base}.xz`)) {
      await execa('xz', ['-d', `${base}.xz`]);
      return rename(base, target);
    }
  }
  throw new HarnessError(`${kernel.package} holds no overlayfs module for ${kernel.release}: check the kernel pin in harness/isa.ts`);
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isFile(), () => false);
}

export async function kernelStatus(isa: Isa, cacheDir?: string): Promise<KernelStatus> {
  const path = kernelPath(isa, cacheDir);
  const kernel = systemEmulation(isa)?.kernel;
  if (!path || !kernel) return { state: 'none', reason: `Debian has no ${isa.name} kernel that boots under QEMU here (no system facts in the ISA table)` };
  const present = (await isFile(path)) && (await isFile(join(path, '..', OVERLAY_MODULE)));
  return { state: present ? 'present' : 'missing', path, kernel };
}

/** apt options that read and write only a private dir of this suite x architecture. */
export function privateAptOptions(dir: string, debianArch: string): string[] {
  return [
    `-oAPT::Architecture=${debianArch}`,
    `-oAPT::Architectures=${debianArch}`,
    `-oDir::State::Lists=${join(dir, 'lists')}`,
    `-oDir::Cache=${join(dir, 'cache')}`,
    `-oDir::Etc::sourcelist=${join(dir, 'sources.list')}`,
    '-oDir::Etc::sourceparts=-',
    // apt's sandbox user cannot read a private dir under root's home (gpgv then fails).
    '-oAPT::Sandbox::User=root',
    '-q',
  ];
}

async function aptLists(kernel: DebianKernel, debianArch: string, cacheDir: string | undefined, log: (line: string) => void): Promise<string> {
  const dir = join(kernelsDir(cacheDir), 'apt', `${kernel.suite}-${debianArch}`);
  await mkdir(join(dir, 'lists', 'partial'), { recursive: true });
  await mkdir(join(dir, 'cache', 'archives', 'partial'), { recursive: true });
  await writeFile(join(dir, 'sources.list'), `deb [signed-by=${KEYRING}] ${MIRROR} ${kernel.suite} main\n`);
  const listed = await readdir(join(dir, 'lists')).then((names) => names.some((n) => n.includes('_Packages')), () => false);
  if (!listed) {
    log(`kernels: apt-get update of ${kernel.suite} ${debianArch} into ${join(dir, 'lists')}`);
    const update = await execa('apt-get', [...privateAptOptions(dir, debianArch), 'update'], { reject: false, all: true });
    if (update.exitCode !== 0) throw new HarnessError(`apt-get update of ${kernel.suite} ${debianArch} failed: ${update.all?.trim().split('\n').pop()}; check access to ${MIRROR}`);
  }
  return dir;
}

/** Fetches, verifies and unpacks one ISA's kernel into the cache (nothing when it is there). */
export async function ensureKernel(isa: Isa, options: { cacheDir?: string; log?: (line: string) => void } = {}): Promise<string> {
  const log = options.log ?? (() => {});
  const status = await kernelStatus(isa, options.cacheDir);
  if (status.state === 'none') throw new HarnessError(`${isa.name}: ${status.reason}`);
  if (status.state === 'present') return status.path;
  const { kernel } = status;
  const system = systemEmulation(isa)!;
  const packaged = packagedPath(system, options.cacheDir);
  if ((await isFile(packaged)) && (await isFile(join(packaged, '..', OVERLAY_MODULE)))) {
    // Fetched before the table asked for an unpacked kernel: no download needed.
    log(`kernels: unpacking ${basename(packaged)} for a faster boot`);
    await unpackBeside(system, packaged, status.path);
    return status.path;
  }
  const apt = await aptLists(kernel, isa.debianArch, options.cacheDir, log);
  const temp = await makeCacheTempDir(kernelsDir(options.cacheDir), `${isa.name}-kernel`);
  try {
    log(`kernels: apt-get download ${kernel.package}=${kernel.version} (${isa.debianArch})`);
    const download = await execa('apt-get', [...privateAptOptions(apt, isa.debianArch), 'download', `${kernel.package}=${kernel.version}`], { cwd: temp, reject: false, all: true });
    const deb = (await readdir(temp)).find((name) => name.endsWith('.deb'));
    if (download.exitCode !== 0 || !deb) {
      throw new HarnessError(
        `cannot download ${kernel.package}=${kernel.version} for ${isa.name} (${download.all?.trim().split('\n').pop()}); if Debian dropped that version, update the pin in harness/isa.ts`,
      );
    }
    const got = await sha256File(join(temp, deb));
    if (got !== kernel.sha256) throw new HarnessError(`${deb}: sha256 ${got}, but harness/isa.ts pins ${kernel.sha256} for ${isa.name}: update the pin only after checking the package`);
    await execa('dpkg-deb', ['-x', join(temp, deb), join(temp, 'root')]);
    const image = join(temp, 'root', kernel.image);
    if (!(await isFile(image))) throw new HarnessError(`${deb} holds no ${kernel.image}: fix the kernel's image path in harness/isa.ts`);
    const entry = join(temp, 'entry');
    await mkdir(entry);
    await rename(image, join(entry, basename(packaged)));
    await unpackBeside(system, join(entry, basename(packaged)), join(entry, basename(status.path)));
    await extractOverlayModule(join(temp, 'root'), kernel, join(entry, OVERLAY_MODULE));
    await rm(join(packaged, '..'), { recursive: true, force: true });
    await rename(entry, join(packaged, '..'));
    log(`kernels: ${isa.name} ${kernel.release} -> ${status.path}`);
    return status.path;
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}
