// What the host needs from apt, derived from the ISA table, and the commands that install
// it. Pure: doctor and setup share it, and tests check it without apt.
import type { Isa } from '../isa.ts';

/** A command the harness or the image build runs, and the Debian package that provides it. */
export interface HostTool {
  command: string;
  debianPackage: string;
  required: boolean;
  purpose: string;
}

export const HOST_TOOLS: readonly HostTool[] = [
  { command: 'unshare', debianPackage: 'util-linux', required: true, purpose: 'namespaces per case' },
  { command: 'setarch', debianPackage: 'util-linux', required: true, purpose: '32-bit personality' },
  { command: 'mount', debianPackage: 'mount', required: true, purpose: 'overlay and binfmt_misc mounts' },
  { command: 'chroot', debianPackage: 'coreutils', required: true, purpose: 'run a case in its rootfs' },
  { command: 'make', debianPackage: 'make', required: true, purpose: 'musl and BusyBox builds' },
  // BusyBox builds its Kconfig and applet tables with the host compiler (HOSTCC=gcc).
  { command: 'gcc', debianPackage: 'gcc', required: true, purpose: 'HOSTCC of the BusyBox build' },
  { command: 'tar', debianPackage: 'tar', required: true, purpose: 'unpacking sources and images' },
  // BusyBox compresses its usage texts with the host bzip2; its source is a .tar.bz2.
  { command: 'bzip2', debianPackage: 'bzip2', required: true, purpose: 'BusyBox source and usage texts' },
  { command: 'xz', debianPackage: 'xz-utils', required: true, purpose: 'image tarballs' },
  { command: 'zstd', debianPackage: 'zstd', required: false, purpose: 'zstd-compressed images and layers' },
  { command: 'xmllint', debianPackage: 'libxml2-utils', required: false, purpose: 'JUnit schema checks in tests' },
  { command: 'skopeo', debianPackage: 'skopeo', required: false, purpose: 'pulling images by registry reference' },
  { command: 'umoci', debianPackage: 'umoci', required: false, purpose: 'unpacking OCI image layouts' },
  { command: 'chromium', debianPackage: 'chromium', required: false, purpose: 'HTML report tests in a real browser' },
  { command: 'openssl', debianPackage: 'openssl', required: false, purpose: 'a private CA in the HTTPS download test' },
];

/** Packages with no command to probe, needed by the build or the tests. */
export const EXTRA_PACKAGES: readonly string[] = [
  'qemu-user-static',
  // Headers and crt files for HOSTCC; gcc only recommends it, and setup installs without recommends.
  'libc6-dev',
  'python3-junitparser',
  // The registry the tests push the project's OCI image to (harness check by registry reference).
  'docker-registry',
];

export interface HostDistro {
  /** os-release ID, e.g. 'debian' or 'ubuntu'. */
  id: string;
  codename: string;
  /** `dpkg --print-architecture`, e.g. 'amd64'. */
  debianArch: string;
}

/** clang and lld build the images of ISAs Debian 12 has no cross GCC for (lld 16 lacks most LoongArch relocations). */
export const CLANG_MAJOR = 19;
const CLANG_PACKAGES = [`clang-${CLANG_MAJOR}`, `lld-${CLANG_MAJOR}`, `llvm-${CLANG_MAJOR}`];

/**
 * The packages that provide the ISA's compiler: `${gccTriplet}-gcc` (on a host of the same
 * Debian arch the native `gcc`: there is no cross package for one's own arch), or clang and lld.
 */
export function compilerPackages(isa: Isa, host: Pick<HostDistro, 'debianArch'>): string[] {
  if (isa.compiler.kind === 'clang') return CLANG_PACKAGES;
  return [isa.debianArch === host.debianArch ? 'gcc' : isa.compiler.package];
}

/**
 * Kernel UAPI headers under /usr/<gccTriplet>/include, copied into the musl sysroot; none for
 * a clang-built ISA, whose headers come pinned from a newer Debian suite (images/sources.ts).
 */
export function uapiHeadersPackage(isa: Isa): string | undefined {
  return isa.compiler.kind === 'gcc' ? `linux-libc-dev-${isa.debianArch}-cross` : undefined;
}

export function uapiHeadersDir(isa: Isa): string {
  return `/usr/${isa.gccTriplet}/include/linux`;
}

/** Every package setup wants for these ISAs, sorted and without duplicates. */
export function wantedPackages(isas: readonly Isa[], host: HostDistro): string[] {
  const wanted = new Set<string>([...HOST_TOOLS.map((t) => t.debianPackage), ...EXTRA_PACKAGES]);
  for (const isa of isas) {
    for (const pkg of compilerPackages(isa, host)) wanted.add(pkg);
    const headers = uapiHeadersPackage(isa);
    if (headers) wanted.add(headers);
  }
  return [...wanted].sort();
}

export function missingPackages(wanted: readonly string[], installed: ReadonlySet<string>): string[] {
  return wanted.filter((pkg) => !installed.has(pkg));
}

/** argv of the apt-get install of exactly these packages, or null when there is nothing to install. */
export function installCommand(packages: readonly string[]): string[] | null {
  if (packages.length === 0) return null;
  return ['apt-get', 'install', '-y', '--no-install-recommends', ...[...new Set(packages)].sort()];
}

/** Names of the installed packages in `dpkg-query -W -f='${Package} ${Status}\n'` output. */
export function parseDpkgInstalled(output: string): Set<string> {
  const installed = new Set<string>();
  for (const line of output.split('\n')) {
    const [name, ...status] = line.trim().split(/\s+/);
    if (name && status.join(' ') === 'install ok installed') installed.add(name.replace(/:.*$/, ''));
  }
  return installed;
}

/** KEY=value pairs of /etc/os-release, quotes removed. */
export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match?.[1]) fields[match[1]] = (match[2] ?? '').replace(/^(["'])(.*)\1$/, '$2');
  }
  return fields;
}

/** Shell form of an argv, for messages a user copies. */
export function shellCommand(argv: readonly string[]): string {
  return argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}
