// Reads facts off this host (distro, installed packages, apt sources, PATH) for doctor and
// setup. Read-only: nothing here changes the machine.
import { access, constants, readdir, readFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { type HostDistro, debSrcEntries, parseDpkgInstalled, parseOsRelease } from './packages.ts';

export const APT_SOURCES_LIST = '/etc/apt/sources.list';
export const APT_SOURCES_DIR = '/etc/apt/sources.list.d';

export async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

/** The distro from /etc/os-release and dpkg; undefined where there is no dpkg (not Debian-like). */
export async function hostDistro(): Promise<HostDistro | undefined> {
  const osRelease = parseOsRelease(await readFile('/etc/os-release', 'utf8').catch(() => ''));
  const dpkg = await execa('dpkg', ['--print-architecture'], { reject: false });
  if (dpkg.exitCode !== 0) return undefined;
  return { id: osRelease.ID ?? '', codename: osRelease.VERSION_CODENAME ?? '', debianArch: dpkg.stdout.trim() };
}

/** Which of these packages dpkg has installed. */
export async function installedPackages(packages: readonly string[]): Promise<Set<string>> {
  if (packages.length === 0) return new Set();
  // dpkg-query exits 1 when some package is unknown; its output still lists the known ones.
  const result = await execa('dpkg-query', ['-W', '-f=${Package} ${Status}\n', ...packages], { reject: false });
  return parseDpkgInstalled(result.stdout);
}

/** Every deb-src entry apt reads (sources.list, *.list and *.sources), as `file: entry`. */
export async function aptDebSrcEntries(): Promise<string[]> {
  const names = await readdir(APT_SOURCES_DIR).catch(() => [] as string[]);
  const files = [APT_SOURCES_LIST, ...names.filter((n) => /\.(list|sources)$/.test(n)).sort().map((n) => join(APT_SOURCES_DIR, n))];
  const entries: string[] = [];
  for (const file of files) {
    for (const entry of debSrcEntries(await readFile(file, 'utf8').catch(() => ''))) entries.push(`${file}: ${entry}`);
  }
  return entries;
}

/** The absolute path of a command found on PATH, like `command -v`. */
export async function findOnPath(command: string, path: string = process.env.PATH ?? ''): Promise<string | undefined> {
  // sbin dirs too: doctor may run as a user whose PATH lacks them, while setup runs as root.
  const dirs = [...path.split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean);
  for (const dir of dirs) {
    const candidate = join(dir, command);
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
  }
  return undefined;
}

/** First line of `argv --version`, or undefined when it does not run. */
export async function versionLine(argv: readonly string[]): Promise<string | undefined> {
  const [file, ...args] = argv;
  if (!file) return undefined;
  const result = await execa(file, [...args, '--version'], { reject: false });
  return result.exitCode === 0 ? result.stdout.split('\n')[0]?.trim() : undefined;
}
