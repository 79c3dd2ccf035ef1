// Reads facts off this host (distro, installed packages, apt sources, PATH) for doctor and
// setup. Read-only: nothing here changes the machine.
import { accessSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { access, constants, readdir, readFile } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { cacheRoot } from '../paths.ts';
import { writeFileAtomic } from '../report/atomic.ts';
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

/** The executable `command` (a path, or a name looked up on PATH), as "realpath size mtime"; undefined when there is none. */
function commandIdentity(command: string): string | undefined {
  const candidates = isAbsolute(command) ? [command] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, command));
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      const stats = statSync(path);
      if (stats.isFile()) return `${realpathSync(path)} ${stats.size} ${stats.mtimeMs}`;
    } catch {
      // Not there, or not executable.
    }
  }
  return undefined;
}

// Version lines kept by the binary's path, size and mtime (ccache's default compiler check):
// `list` asks for every ISA's compiler and a run for every ISA's QEMU, which is a dozen
// processes started (and execa loaded) otherwise.
const VERSIONS_FILE = () => join(cacheRoot(), 'tool-versions.json');
let versions: Record<string, string> | undefined;

/** First line of `command --version` (LC_ALL=C), or undefined when it is not installed or fails. */
export async function versionLine(command: string): Promise<string | undefined> {
  const identity = commandIdentity(command);
  if (!identity) return undefined;
  versions ??= (() => {
    try {
      return JSON.parse(readFileSync(VERSIONS_FILE(), 'utf8')) as Record<string, string>;
    } catch {
      return {};
    }
  })();
  const known = versions[identity];
  if (known !== undefined) return known;
  // Loaded on first use: execa's import costs more than `harness list` may take in all.
  const { execa } = await import('execa');
  const line = await execa(command, ['--version'], { env: { LC_ALL: 'C' } }).then((r) => r.stdout.split('\n')[0]?.trim() ?? '', () => undefined);
  if (!line) return undefined;
  versions[identity] = line;
  // Best effort, whole or not at all (another process may write it too: the last one wins).
  await writeFileAtomic(VERSIONS_FILE(), JSON.stringify(versions)).catch(() => undefined);
  return line;
}
