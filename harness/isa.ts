// The one table of ISA facts. Everything else (builds, binfmt, ELF checks, sandbox,
// matrices) reads it; a new ISA is a new row here and nowhere else.

import { HarnessError } from './errors.ts';
import { didYouMean } from './did-you-mean.ts';

export type Endianness = 'little' | 'big';

/** An ARM CPU level in the terms of the `.ARM.attributes` tags (see harness/elf.ts for the value names). */
export interface ArmLevel {
  /** What people call it, e.g. 'ARMv6'. */
  name: string;
  /** Tag_CPU_arch, e.g. 'v6KZ'. */
  cpuArch: string;
  /** Tag_THUMB_ISA_use: 'Thumb-1' or 'Thumb-2'. */
  thumb: string;
  /** Tag_FP_arch, e.g. 'VFPv2'. */
  fpArch: string;
}

export interface Isa {
  /** Alpine's name, the harness's canonical one. */
  name: string;
  /** Other names users type: Docker arch, Debian arch, QEMU target, uname. */
  aliases: string[];
  /** OCI/Docker platform. */
  platform: { os: 'linux'; architecture: string; variant?: string };
  debianArch: string;
  /** QEMU user-mode target: the emulator is qemu-<target>-static. */
  qemuTarget: string;
  /** GNU triplet: Debian's cross tools and kernel headers live under /usr/<gccTriplet>. */
  gccTriplet: string;
  /**
   * How the images are compiled: Debian's cross GCC (`${gccTriplet}-gcc`, from `package`),
   * or clang-16 with lld-16 for `target` where Debian has no cross GCC for the ISA.
   */
  compiler: { kind: 'gcc'; package: string } | { kind: 'clang'; target: string };
  /** musl's name for the arch, as in /lib/ld-musl-<muslArch>.so.1. */
  muslArch: string;
  /** The first musl release that supports the ISA, where later than the harness's default musl. */
  minimumMusl?: string;
  /** Extra flags for musl and for everything compiled against it. */
  cflags: string[];
  elf: { machine: number; machineName: string; class: 32 | 64; endianness: Endianness };
  /** binfmt_misc magic and mask (from Debian's qemu-user-static definitions). */
  binfmt: { magic: string; mask: string };
  /** Linux personality its own machines run with: 'linux32' means PER_LINUX32. */
  personality: 'linux' | 'linux32';
  /** QEMU_CPU, where the emulator's default CPU is not the ISA's baseline: the oldest CPU the port targets. */
  qemuCpu?: string;
  /** For ARM: the most that the baseline CPU runs, as ARM build attributes (readelf -A) name it. */
  armBaseline?: ArmLevel;
  /** What `uname -m` prints inside the image. */
  unameMachine: string;
  /** Host machines (uname -m) that run this ISA's binaries without an emulator. */
  nativeOn: string[];
  /** Emulation is slower; per-case timeouts are multiplied by this. */
  timeoutMultiplier: number;
}

/** A kernel from Debian's packages, pinned: the package, its version and its sha256. */
export interface DebianKernel {
  /** Debian suite that has it (riscv64 has none in bookworm). */
  suite: 'bookworm' | 'trixie';
  package: string;
  version: string;
  sha256: string;
  /** The kernel image inside the package. */
  image: string;
  /** `uname -r` of the kernel. */
  release: string;
}

/**
 * A self-decompressing kernel, unpacked on the host once (harness/vm/boot-image.ts) and
 * wrapped so that qemu-system starts the kernel proper at its load address.
 */
export type UnpackedKernel =
  /** ARM: a Linux uImage, which qemu loads at loadAddress and enters with the DTB in r2. */
  | { wrap: 'uimage'; loadAddress: number }
  /** MIPS Malta: an ELF64 of one segment at loadAddress (hex: beyond a double's precision), entered there. */
  | { wrap: 'elf64'; loadAddress: string };

/** How qemu-system boots this ISA with a Debian kernel and an initramfs (checked on QEMU 7.2). */
export interface SystemEmulation {
  qemuSystem: string;
  /** Debian packages that provide qemu-system and its firmware. */
  packages: string[];
  machine: string;
  cpu?: string;
  /** The kernel's console device (console=...). */
  console: string;
  /** Further QEMU arguments the machine needs. */
  args: string[];
  kernel: DebianKernel;
  /** How the kernel's xz payload is unpacked at fetch time for a faster boot; absent: booted as packaged. */
  unpacked?: UnpackedKernel;
  /** A case under qemu-system runs slower than under qemu-user: its timeout is also multiplied by this. */
  timeoutMultiplier: number;
}

const DEBIAN_6_1 = { suite: 'bookworm', version: '6.1.176-1' } as const;

const ELF_HEADER_64_LE = '\\x7f\\x45\\x4c\\x46\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00';
/** 32-bit ARM: armhf and armv7 share the qemu-arm handler; the CPU comes from QEMU_CPU. */
const ARM_BINFMT = {
  magic: '\\x7f\\x45\\x4c\\x46\\x01\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\x28\\x00',
  mask: '\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff',
};
const ELF_MASK_LE = '\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff';

export const ISAS: readonly Isa[] = [
  {
    name: 'x86_64',
    aliases: ['amd64', 'x86-64', 'x64'],
    platform: { os: 'linux', architecture: 'amd64' },
    debianArch: 'amd64',
    qemuTarget: 'x86_64',
    gccTriplet: 'x86_64-linux-gnu',
    compiler: { kind: 'gcc', package: 'gcc-x86-64-linux-gnu' },
    muslArch: 'x86_64',
    cflags: [],
    elf: { machine: 62, machineName: 'x86-64', class: 64, endianness: 'little' },
    binfmt: { magic: `${ELF_HEADER_64_LE}\\x3e\\x00`, mask: `${ELF_MASK_LE}\\xff\\xff` },
    personality: 'linux',
    unameMachine: 'x86_64',
    nativeOn: ['x86_64'],
    timeoutMultiplier: 1,
  },
  {
    name: 'x86',
    aliases: ['i386', 'i686', '386', 'i486'],
    platform: { os: 'linux', architecture: '386' },
    debianArch: 'i386',
    qemuTarget: 'i386',
    gccTriplet: 'i686-linux-gnu',
    compiler: { kind: 'gcc', package: 'gcc-i686-linux-gnu' },
    muslArch: 'i386',
    cflags: [],
    elf: { machine: 3, machineName: 'Intel 80386', class: 32, endianness: 'little' },
    binfmt: {
      magic: '\\x7f\\x45\\x4c\\x46\\x01\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\x03\\x00',
      mask: '\\xff\\xff\\xff\\xff\\xff\\xfe\\xfe\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff',
    },
    personality: 'linux32',
    unameMachine: 'i686',
    nativeOn: ['x86_64', 'i686'],
    timeoutMultiplier: 1,
  },
  {
    name: 'aarch64',
    aliases: ['arm64', 'arm64v8', 'armv8'],
    platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
    debianArch: 'arm64',
    qemuTarget: 'aarch64',
    gccTriplet: 'aarch64-linux-gnu',
    compiler: { kind: 'gcc', package: 'gcc-aarch64-linux-gnu' },
    muslArch: 'aarch64',
    cflags: [],
    elf: { machine: 183, machineName: 'AArch64', class: 64, endianness: 'little' },
    binfmt: { magic: `${ELF_HEADER_64_LE}\\xb7\\x00`, mask: `${ELF_MASK_LE}\\xff\\xff` },
    personality: 'linux',
    unameMachine: 'aarch64',
    nativeOn: ['aarch64'],
    timeoutMultiplier: 3,
  },
  {
    name: 'armhf',
    aliases: ['arm32v6', 'armv6', 'armv6l'],
    platform: { os: 'linux', architecture: 'arm', variant: 'v6' },
    debianArch: 'armhf',
    qemuTarget: 'arm',
    gccTriplet: 'arm-linux-gnueabihf',
    compiler: { kind: 'gcc', package: 'gcc-arm-linux-gnueabihf' },
    muslArch: 'armhf',
    // Alpine's armhf: ARMv6KZ in ARM mode with VFPv2 hard float (Raspberry Pi 1 and Zero).
    // Debian's armhf compiler defaults to ARMv7 and Thumb-2, so every compile says so.
    cflags: ['-march=armv6kz', '-mfpu=vfp', '-mfloat-abi=hard', '-marm'],
    elf: { machine: 40, machineName: 'ARM', class: 32, endianness: 'little' },
    binfmt: ARM_BINFMT,
    personality: 'linux32',
    qemuCpu: 'arm1176',
    armBaseline: { name: 'ARMv6', cpuArch: 'v6KZ', thumb: 'Thumb-1', fpArch: 'VFPv2' },
    unameMachine: 'armv6l',
    nativeOn: [],
    timeoutMultiplier: 3,
  },
  {
    name: 'armv7',
    aliases: ['arm32v7', 'arm', 'armv7l'],
    platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
    debianArch: 'armhf',
    qemuTarget: 'arm',
    gccTriplet: 'arm-linux-gnueabihf',
    compiler: { kind: 'gcc', package: 'gcc-arm-linux-gnueabihf' },
    muslArch: 'armhf',
    cflags: [],
    elf: { machine: 40, machineName: 'ARM', class: 32, endianness: 'little' },
    binfmt: ARM_BINFMT,
    personality: 'linux32',
    // Debian's armhf compiler targets ARMv7-A with VFPv3-D16 and Thumb-2: a Cortex-A7 is
    // the smallest CPU that runs it, as an armv7 Alpine box would.
    qemuCpu: 'cortex-a7',
    armBaseline: { name: 'ARMv7', cpuArch: 'v7', thumb: 'Thumb-2', fpArch: 'VFPv3-D16' },
    unameMachine: 'armv7l',
    nativeOn: [],
    timeoutMultiplier: 3,
  },
  {
    name: 'ppc64le',
    aliases: ['ppc64el', 'powerpc64le'],
    platform: { os: 'linux', architecture: 'ppc64le' },
    debianArch: 'ppc64el',
    qemuTarget: 'ppc64le',
    gccTriplet: 'powerpc64le-linux-gnu',
    compiler: { kind: 'gcc', package: 'gcc-powerpc64le-linux-gnu' },
    muslArch: 'powerpc64le',
    // musl supports only a 64-bit long double on powerpc64; Debian's GCC defaults to IBM 128-bit.
    cflags: ['-mlong-double-64'],
    elf: { machine: 21, machineName: 'PowerPC64', class: 64, endianness: 'little' },
    binfmt: {
      magic: `${ELF_HEADER_64_LE}\\x15\\x00`,
      mask: '\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfc\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\x00',
    },
    personality: 'linux',
    unameMachine: 'ppc64le',
    nativeOn: ['ppc64le'],
    timeoutMultiplier: 4,
  },
  {
    name: 's390x',
    aliases: ['s390', 'ibmz'],
    platform: { os: 'linux', architecture: 's390x' },
    debianArch: 's390x',
    qemuTarget: 's390x',
    gccTriplet: 's390x-linux-gnu',
    compiler: { kind: 'gcc', package: 'gcc-s390x-linux-gnu' },
    muslArch: 's390x',
    cflags: [],
    elf: { machine: 22, machineName: 'IBM S/390', class: 64, endianness: 'big' },
    binfmt: {
      magic: '\\x7f\\x45\\x4c\\x46\\x02\\x02\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\x16',
      mask: '\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfc\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff',
    },
    personality: 'linux',
    unameMachine: 's390x',
    nativeOn: ['s390x'],
    timeoutMultiplier: 5,
  },
  {
    name: 'riscv64',
    aliases: ['riscv', 'rv64'],
    platform: { os: 'linux', architecture: 'riscv64' },
    debianArch: 'riscv64',
    qemuTarget: 'riscv64',
    gccTriplet: 'riscv64-linux-gnu',
    compiler: { kind: 'gcc', package: 'gcc-riscv64-linux-gnu' },
    muslArch: 'riscv64',
    cflags: [],
    elf: { machine: 243, machineName: 'RISC-V', class: 64, endianness: 'little' },
    binfmt: { magic: `${ELF_HEADER_64_LE}\\xf3\\x00`, mask: `${ELF_MASK_LE}\\xff\\xff` },
    personality: 'linux',
    unameMachine: 'riscv64',
    nativeOn: ['riscv64'],
    timeoutMultiplier: 5,
  },
  {
    name: 'mips64el',
    aliases: ['mips64le', 'mipsel64'],
    platform: { os: 'linux', architecture: 'mips64le' },
    debianArch: 'mips64el',
    qemuTarget: 'mips64el',
    gccTriplet: 'mips64el-linux-gnuabi64',
    compiler: { kind: 'gcc', package: 'gcc-mips64el-linux-gnuabi64' },
    muslArch: 'mips64el',
    cflags: [],
    elf: { machine: 8, machineName: 'MIPS R3000', class: 64, endianness: 'little' },
    binfmt: {
      magic: `${ELF_HEADER_64_LE}\\x08\\x00`,
      mask: '\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xfe\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff',
    },
    personality: 'linux',
    // The kernel reports the family, not the byte order.
    unameMachine: 'mips64',
    nativeOn: ['mips64'],
    timeoutMultiplier: 5,
  },
  {
    name: 'loongarch64',
    aliases: ['loong64', 'la64'],
    platform: { os: 'linux', architecture: 'loong64' },
    debianArch: 'loong64',
    qemuTarget: 'loongarch64',
    gccTriplet: 'loongarch64-linux-gnu',
    // Debian 12 has no loongarch64 GCC; clang-16 and lld-16 have the target.
    compiler: { kind: 'clang', target: 'loongarch64-linux-musl' },
    muslArch: 'loongarch64',
    minimumMusl: '1.2.5',
    // clang 19 enables the LSX vector unit by default; QEMU 7.2 emulates none.
    cflags: ['-mno-lsx'],
    elf: { machine: 258, machineName: 'LoongArch', class: 64, endianness: 'little' },
    // Debian's /usr/share/binfmts/qemu-loongarch64.
    binfmt: {
      magic: `${ELF_HEADER_64_LE}\\x02\\x01`,
      mask: '\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfc\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff',
    },
    personality: 'linux',
    unameMachine: 'loongarch64',
    nativeOn: ['loongarch64'],
    timeoutMultiplier: 5,
  },
];

export const ISA_NAMES: readonly string[] = ISAS.map((isa) => isa.name);

export function platformString(isa: Isa): string {
  const { os, architecture, variant } = isa.platform;
  return variant ? `${os}/${architecture}/${variant}` : `${os}/${architecture}`;
}

/**
 * Finds an ISA by any of its names (Alpine, alias, Docker platform, Debian arch, QEMU target,
 * triplet). A row's own name wins over another row's alias: `armhf` is Alpine's ARMv6 port
 * although Debian calls its ARMv7 port armhf.
 */
export function findIsa(name: string): Isa | undefined {
  const wanted = name.trim().toLowerCase();
  const tiers: Array<(isa: Isa) => string[]> = [
    (isa) => [isa.name],
    (isa) => [...isa.aliases, platformString(isa)],
    (isa) => [isa.debianArch, isa.qemuTarget, isa.gccTriplet],
  ];
  for (const namesOf of tiers) {
    const found = ISAS.find((isa) => namesOf(isa).some((known) => known.toLowerCase() === wanted));
    if (found) return found;
  }
  return undefined;
}

/**
 * What a matrix that names `requested` for `isa` should be told, because the name meant
 * another ISA before: `armhf` was an alias of armv7 until Alpine's ARMv6 port got its row.
 */
export function renamedIsaNotice(requested: string, isa: Isa): string | undefined {
  if (requested.trim().toLowerCase() !== 'armhf' || isa.name !== 'armhf') return undefined;
  return `'armhf' is now Alpine's ARMv6 port (${platformString(isa)}, run as ${isa.qemuCpu}), no longer an alias of armv7: write armv7 for ARMv7 images`;
}

/** The ISA a mistyped name most likely meant (by its name or an alias), if any is close. */
function nearestIsa(name: string): string | undefined {
  const byName = new Map(ISAS.flatMap((isa) => [isa.name, ...isa.aliases].map((known) => [known.toLowerCase(), isa.name] as const)));
  const guess = didYouMean(name.trim().toLowerCase(), [...byName.keys()]);
  return guess === undefined ? undefined : byName.get(guess);
}

export class UnknownIsaError extends HarnessError {
  constructor(readonly requested: string) {
    const guess = nearestIsa(requested);
    super(`unknown ISA '${requested}'${guess ? ` (did you mean '${guess}'?)` : ''}; known: ${ISA_NAMES.join(', ')}`);
    this.name = 'UnknownIsaError';
  }
}

export function isaByName(name: string): Isa {
  const isa = findIsa(name);
  if (!isa) throw new UnknownIsaError(name);
  return isa;
}

/** True when the host runs this ISA's binaries itself, so no QEMU handler is needed. */
export function runsNatively(isa: Isa, hostMachine: string): boolean {
  return isa.nativeOn.includes(hostMachine);
}

export function qemuBinary(isa: Isa): string {
  return `qemu-${isa.qemuTarget}-static`;
}

/** How a guest of this ISA is launched on this host: the one rule for sandbox, image checks and benchmarks. */
export interface GuestLaunch {
  /** The QEMU user-mode emulator, or undefined when the host runs the ISA itself. */
  emulator?: string;
  /** Run under PER_LINUX32, as a 32-bit userland's own kernel would (uname -m says i686, armv6l, ...). */
  linux32: boolean;
  /** What the emulator reads from the environment (QEMU_CPU: the ISA's baseline CPU). */
  env: Record<string, string>;
}

export function guestLaunch(isa: Isa, hostMachine: string): GuestLaunch {
  const native = runsNatively(isa, hostMachine);
  return {
    ...(!native && { emulator: qemuBinary(isa) }),
    linux32: isa.personality === 'linux32',
    env: !native && isa.qemuCpu ? { QEMU_CPU: isa.qemuCpu } : {},
  };
}

/** argv that runs one host file of this ISA directly (no binfmt, no chroot), as `launch` says; pass launch.env too. */
export function directCommand(launch: GuestLaunch, binary: string, args: readonly string[]): string[] {
  return [...(launch.linux32 ? ['setarch', 'linux32'] : []), ...(launch.emulator ? [launch.emulator] : []), binary, ...args];
}

/**
 * RLIMIT_AS that leaves a guest `memoryBytes` (where no memory cgroup is available): qemu-user
 * ignores the guest's own RLIMIT_AS but is bound by its host process's, and needs headroom for
 * its translation buffer (1 GiB) and, for a 32-bit guest, the 4 GiB it reserves up front.
 */
export function addressSpaceLimit(isa: Isa, memoryBytes: number, hostMachine: string): number {
  if (runsNatively(isa, hostMachine)) return memoryBytes;
  return memoryBytes + 1024 ** 3 + (isa.elf.class === 32 ? 4 * 1024 ** 3 : 0);
}

/**
 * Per ISA, how qemu-system boots it with a Debian kernel (triage). A column of the table kept
 * beside the rows, keyed by ISA name, because image build keys hash the rows: a kernel pin
 * is no input of an image. An ISA without an entry has no kernel in Debian that boots here.
 */
export const SYSTEM_EMULATION: Readonly<Record<string, SystemEmulation>> = {
  aarch64: {
    qemuSystem: 'qemu-system-aarch64', packages: ['qemu-system-arm'], machine: 'virt', cpu: 'cortex-a57', console: 'ttyAMA0', args: [],
    kernel: { ...DEBIAN_6_1, package: 'linux-image-6.1.0-50-arm64', sha256: '914f75b57a8e165d85fb910c3e2dcc7000a05a9fea3f42f90b26e8dd590d5f06', image: 'boot/vmlinuz-6.1.0-50-arm64', release: '6.1.0-50-arm64' },
    timeoutMultiplier: 2,
  },
  // armmp-lpae needs LPAE, which the Cortex-A7 has: the same CPU as under qemu-user.
  armv7: {
    qemuSystem: 'qemu-system-arm', packages: ['qemu-system-arm'], machine: 'virt', cpu: 'cortex-a7', console: 'ttyAMA0', args: [],
    kernel: { ...DEBIAN_6_1, package: 'linux-image-6.1.0-50-armmp-lpae', sha256: '7a1a2b179324d910db6415d67b73c7495a58d239f61103d9cf2b79a11b7ece3e', image: 'boot/vmlinuz-6.1.0-50-armmp-lpae', release: '6.1.0-50-armmp-lpae' },
    // Where the zImage puts itself: virt's RAM base 0x40000000 + 2 MiB + TEXT_OFFSET 0x8000
    // (read from guest memory). At RAM base + 0x8000 it hangs at the first IRQ, vectors unset.
    unpacked: { wrap: 'uimage', loadAddress: 0x40208000 },
    timeoutMultiplier: 2,
  },
  // x-vof: QEMU's own small firmware instead of SLOF, which takes most of a minute under TCG;
  // the TCG-unsupported security workarounds are off so QEMU does not warn about them.
  ppc64le: {
    qemuSystem: 'qemu-system-ppc64', packages: ['qemu-system-ppc'], machine: 'pseries,x-vof=on,usb=off,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off', console: 'hvc0', args: ['-vga', 'none'],
    kernel: { ...DEBIAN_6_1, package: 'linux-image-6.1.0-50-powerpc64le', sha256: '0513cb05cef43064db6e62e5b71f6a316cf4854ea4fb873263e8e50a1254999e', image: 'boot/vmlinux-6.1.0-50-powerpc64le', release: '6.1.0-50-powerpc64le' },
    timeoutMultiplier: 2,
  },
  s390x: {
    qemuSystem: 'qemu-system-s390x', packages: ['qemu-system-misc'], machine: 's390-ccw-virtio', console: 'ttysclp0', args: [],
    kernel: { ...DEBIAN_6_1, package: 'linux-image-6.1.0-50-s390x', sha256: 'a9cbaa26e37f70caa41b66b23f82169eb82042471c1ee89592613b659b12c0dd', image: 'boot/vmlinuz-6.1.0-50-s390x', release: '6.1.0-50-s390x' },
    timeoutMultiplier: 2,
  },
  // Bookworm has no riscv64 kernel; trixie's boots under QEMU 7.2 with OpenSBI as the firmware.
  riscv64: {
    qemuSystem: 'qemu-system-riscv64', packages: ['qemu-system-misc', 'opensbi'], machine: 'virt', console: 'ttyS0', args: [],
    kernel: { suite: 'trixie', package: 'linux-image-6.12.117+deb13-riscv64', version: '6.12.117-1', sha256: 'f5d9424b6f6a4518197202effc7e8eeaa90f8d73466c2dba2470f6ea7fb4f55c', image: 'boot/vmlinux-6.12.117+deb13-riscv64', release: '6.12.117+deb13-riscv64' },
    timeoutMultiplier: 2,
  },
  mips64el: {
    // No VGA: Malta's default Cirrus card needs vgabios-cirrus.bin, which a machine without
    // seabios lacks (qemu exits at once); the console is the serial line.
    qemuSystem: 'qemu-system-mips64el', packages: ['qemu-system-mips'], machine: 'malta', cpu: '5KEc', console: 'ttyS0', args: ['-vga', 'none'],
    kernel: { ...DEBIAN_6_1, package: 'linux-image-6.1.0-50-5kc-malta', sha256: '36ad868468d91b54b4567064178dd326cfa8e2ee0c856f74f1d0cb1d41ed0a35', image: 'boot/vmlinuz-6.1.0-50-5kc-malta', release: '6.1.0-50-5kc-malta' },
    // Malta's link address. Debian sets CONFIG_BOOT_RAW, so the kernel may be entered at its
    // first byte: nops, then `j kernel_entry`.
    unpacked: { wrap: 'elf64', loadAddress: '0xffffffff80100000' },
    timeoutMultiplier: 2,
  },
};

export function systemEmulation(isa: Isa): SystemEmulation | undefined {
  return SYSTEM_EMULATION[isa.name];
}

/** The qemu-system argv that boots this ISA's kernel with an initramfs, console on stdio, no reboot. */
export function systemQemuArgv(isa: Isa, boot: { kernel: string; initrd: string; memoryMb: number; append: string[] }): string[] {
  const system = systemEmulation(isa);
  if (!system) throw new HarnessError(`${isa.name}: no full-system emulation facts in the ISA table (Debian has no kernel for it)`);
  return [
    system.qemuSystem,
    '-M', system.machine,
    ...(system.cpu ? ['-cpu', system.cpu] : []),
    '-m', String(boot.memoryMb),
    '-nographic', '-monitor', 'none', '-no-reboot', '-net', 'none',
    ...system.args,
    '-kernel', boot.kernel,
    '-initrd', boot.initrd,
    '-append', [`console=${system.console}`, ...boot.append].join(' '),
  ];
}
