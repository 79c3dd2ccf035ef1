// A suite turns an image and an ISA into cases. Suites never run anything in an image:
// what they need to know about it (its applets, its toolchain) arrives in the context.
// The one process a suite may start is a compiler building its programs (musl suite).
import type { ArchiveFindings } from '../rootfs/extract.ts';
import type { TestCase } from '../case.ts';
import type { Isa } from '../isa.ts';

export interface ImageFacts {
  /** The reference as the matrix wrote it (e.g. 'built', a tarball path). */
  ref: string;
  /** sha256:<hex> of the image's rootfs archive, or of the directory's content. */
  digest: string;
  /** Extracted rootfs on the host: the read-only lower layer of every sandbox. */
  rootfs: string;
  /** What `busybox --list` printed inside the image (empty when there is no BusyBox). */
  applets: string[];
  /** The version in the image's BusyBox banner ("1.35.0"), when it has one. */
  busyboxVersion?: string;
  /** The image suite's applet-link findings, kept with the applets; found from rootfs when absent. */
  appletLinkProblems?: string[];
  /** The image's default command (OCI config Cmd/Entrypoint; /bin/sh for ours). */
  defaultCmd: string[];
  /** Compressed size of the image's rootfs archive in bytes, when it came as one. */
  compressedBytes?: number;
  /** What its archive ships, from the tar headers (devices are never extracted); absent for a directory. */
  archive?: ArchiveFindings;
  /** For the project's own images: the BusyBox source tarball and .config it was built from. */
  busyboxBuild?: BusyboxBuildInputs;
}

export interface BusyboxBuildInputs {
  version: string;
  /** The source tarball as pinned (its file name and sha256) and where it should be on this host. */
  tarball: { path: string; sha256: string };
  config: string;
}

export interface Toolchain {
  /** musl-gcc-style wrapper that compiles static programs for the ISA. */
  cc: string;
  cflags: string[];
  /**
   * A digest of the libc it links, for a sysroot rebuilt in place (a musl bisect's): probes
   * compiled against another libc.a are not reused. An image's sysroot needs none: its path
   * already names its inputs.
   */
  libcDigest?: string;
}

export interface SuiteContext {
  isa: Isa;
  image: ImageFacts;
  /** The ISA's musl toolchain, where the suite compiles programs (musl suite). */
  toolchain?: Toolchain;
  /** The suite's own settings from the matrix (e.g. static: { path: 'bin/{arch}' }). */
  settings: Record<string, unknown>;
  /** Only cases this accepts will run (a shard's, --grep's): a suite that compiles programs compiles only theirs. */
  wanted?: (caseName: string) => boolean;
}

export interface Suite {
  name: string;
  description: string;
  cases(ctx: SuiteContext): Promise<TestCase[]>;
  /** About how many cases it has on an ISA, before any image exists: balances shards that have no earlier timings. */
  estimatedCases?(ctx: Pick<SuiteContext, 'isa' | 'settings'>): number;
}
