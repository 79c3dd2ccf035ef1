// Reads facts off this host (distro, installed packages, apt sources, PATH) for doctor and
// setup. Read-only: nothing here changes the machine.
import { accessSync, statSync } from 'node:fs';
import { access, constants, readdir, readFile } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { memoByFile } from '../file-memo.ts';
import { type AptEntry, describeEntry, parseAptSources } from './apt-sources.ts';
import { type HostDistro, parseDpkgInstalled, parseOsRelease } from './packages.ts';

/** apt's configuration dir: sources.list and sources.list.d/ below it. */
export const APT_DIR = '/etc/apt';

export async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

/** The distro from /etc/os-release and dpkg; undefined where there is no dpkg (not Debian-like). */
export async function hostDistro(): Promise<HostDistro | undefined> {
  const osRelease = parseOsRelease(await readFile('/etc/os-release', 'utf8').catch(() => ''));
  // Loaded on first use: execa's import costs more than `harness list` may take in all.
  const { execa } = await import('execa');
  const dpkg = await execa('dpkg', ['--print-architecture'], { reject: false });
  if (dpkg.exitCode !== 0) return undefined;
  return { id: osRelease.ID ?? '', codename: osRelease.VERSION_CODENAME ?? '', debianArch: dpkg.stdout.trim() };
}

/** Which of these packages dpkg has installed. */
export async function installedPackages(packages: readonly string[]): Promise<Set<string>> {
  if (packages.length === 0) return new Set();
  // dpkg-query exits 1 when some package is unknown; its output still lists the known ones.
  const { execa } = await import('execa');
  const result = await execa('dpkg-query', ['-W', '-f=${Package} ${Status}\n', ...packages], { reject: false });
  return parseDpkgInstalled(result.stdout);
}

/** Every entry apt reads below aptDir: sources.list, then sources.list.d/*.list and *.sources in name order. */
export async function aptEntries(aptDir: string = APT_DIR): Promise<AptEntry[]> {
  const partsDir = join(aptDir, 'sources.list.d');
  const names = await readdir(partsDir).catch(() => [] as string[]);
  const files = [join(aptDir, 'sources.list'), ...names.filter((n) => /\.(list|sources)$/.test(n)).sort().map((n) => join(partsDir, n))];
  const entries: AptEntry[] = [];
  for (const file of files) entries.push(...parseAptSources(await readFile(file, 'utf8').catch(() => ''), file));
  return entries;
}

/** The enabled deb-src entries apt reads, one line each (`file: deb-src uri suites components`). */
export async function aptDebSrcEntries(aptDir: string = APT_DIR): Promise<string[]> {
  return (await aptEntries(aptDir)).filter((e) => e.enabled && e.types.includes('deb-src')).map(describeEntry);
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

/** The executable `command` (a path, or a name looked up on PATH); undefined when there is none. */
function executablePath(command: string): string | undefined {
  const candidates = isAbsolute(command) ? [command] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, command));
  return candidates.find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return statSync(path).isFile();
    } catch {
      return false; // Not there, or not executable.
    }
  });
}

/**
 * First line of `command --version` (LC_ALL=C), or undefined when it is not installed or
 * fails. Kept while the binary is unchanged (ccache's compiler check): `list` asks for every
 * ISA's compiler and a run for every ISA's QEMU, a dozen processes started otherwise. Kept by
 * the name found on PATH, not its symlink's target: the line names the command it was run as.
 */
export async function versionLine(command: string): Promise<string | undefined> {
  const path = executablePath(command);
  if (!path) return undefined;
  return memoByFile('tool-versions', path, async () => {
    // Loaded on first use: execa's import costs more than `harness list` may take in all.
    const { execa } = await import('execa');
    return execa(command, ['--version'], { env: { LC_ALL: 'C' } }).then((r) => r.stdout.split('\n')[0]?.trim() || undefined, () => undefined);
  });
}
