/**
 * What a matrix file says, and the typed, normalised `Matrix` that `loadMatrix` returns.
 *
 * A matrix (YAML, in matrices/) says which images, ISAs and suites a run covers:
 *
 * ```yaml
 * name: ci                 # optional; default: the file's name without .yaml
 * description: ...         # optional; one line shown by `harness list`
 * arches: all              # or a list of ISA names or aliases (amd64, arm64, armhf, linux/s390x, ...)
 * images:                  # one or more; names are unique
 *   - built                # the project's own images (`harness build-images`)
 *   - name: alpine-3.20.3
 *     tarball: ../../shared/alpine-minirootfs/3.20.3/alpine-minirootfs-3.20.3-{arch}.tar.gz
 *     sha512sums: ../../shared/alpine-minirootfs/3.20.3/checksums.sha512   # or sha512: {x86_64: <128 hex>, ...}
 *     arches: [x86_64, aarch64, armv7]   # the ISAs the image exists for (default: the matrix's)
 *     optional: true       # files absent -> this image is skipped with a stated reason, not an error
 *   - { name: mine, directory: '/srv/rootfs-{arch}' }   # an extracted rootfs per ISA
 *   - { name: oci-all, oci: ./layout, tag: latest }    # OCI image layout; the ISA's manifest is picked by platform
 *   - { name: saved, docker-archive: ./image.tar }     # a `docker save` archive
 * suites:                  # which suites run, each with its settings ({} or empty for none)
 *   image: { size_budget: 1.2MB }         # sizes: 1200000 (bytes), 1.2MB, 900kB, 1MiB
 *   busybox: {}
 *   musl: {}
 *   static: { path: './static/{arch}', optional: true }   # a directory of static binaries per ISA
 * timeouts: { case: 30s, suite: 30m }    # on a native ISA; the ISA's timeoutMultiplier scales both
 * retries: 1               # extra attempts for a failing case; a case that needed one is flaky
 * jobs: auto               # cases at once: auto or a positive number
 * fail_fast: false         # stop scheduling after the first failure
 * known_failures:          # failures that are reported as known-failure, not failed
 *   - { test: 'musl/robust-*', arch: s390x, reason: 'qemu-user 7.2: ...', link: 'https://...' }
 *     # emulator: true claims a qemu-user bug; `run --triage` checks it under the real kernel
 * ```
 *
 * Rules:
 * - Paths are relative to the matrix file (or absolute). `{arch}` in a path is the ISA's
 *   canonical (Alpine) name; it is the only placeholder. A tarball or directory that serves
 *   more than one ISA must contain `{arch}`; quote such a path inside a flow mapping { ... }.
 * - Every referenced path must exist when the matrix loads, except under `optional: true`
 *   (an image, or a suite with a path): then each ISA whose files are absent becomes a
 *   skipped job whose reason names the missing path.
 * - Durations need a unit: 500ms, 30s, 2m, 1h, 1m30s. Unknown keys are errors.
 * - `known_failures[].test` is `<suite>/<case>`; `*` matches any run of characters and `?`
 *   one. `arch` (one ISA or a list) and `image` narrow the entry; `reason` is required.
 */
import type { Isa } from '../isa.ts';

/** The suites a matrix may name, with the settings each accepts. */
export const SUITE_NAMES = ['image', 'busybox', 'musl', 'static'] as const;
export type SuiteName = (typeof SUITE_NAMES)[number];

export type SettingKind = 'size' | 'path';

/** One setting of a suite: its YAML key, the key the suite reads, and its kind. */
export interface SettingSpec {
  key: string;
  as: string;
  kind: SettingKind;
  required: boolean;
}

export const SUITE_SETTINGS: Readonly<Record<SuiteName, readonly SettingSpec[]>> = {
  image: [{ key: 'size_budget', as: 'sizeBudgetBytes', kind: 'size', required: false }],
  busybox: [],
  musl: [],
  static: [{ key: 'path', as: 'path', kind: 'path', required: true }],
};

/**
 * The settings each suite receives (SuiteContext.settings), normalised: sizes in bytes,
 * paths absolute with `{arch}` already replaced for the job's ISA.
 */
export interface SuiteSettings {
  image: { sizeBudgetBytes?: number };
  busybox: Record<string, never>;
  musl: Record<string, never>;
  static: { path: string };
}

/** Where one ISA's image comes from: concrete paths, no placeholders. */
export type ImageRef =
  | { kind: 'built' }
  | { kind: 'tarball'; path: string; sha512?: string; sha512sums?: string }
  | { kind: 'directory'; path: string }
  | { kind: 'oci'; layout: string; tag: string }
  | { kind: 'docker-archive'; path: string };

export type ImageKind = ImageRef['kind'];

export interface ImageSpec {
  name: string;
  kind: ImageKind;
  /** The ISAs it covers: its `arches` (default: all of the matrix's) within the matrix's. */
  isas: Isa[];
  /** Per ISA name, where that ISA's image comes from. */
  refs: Record<string, ImageRef>;
  optional: boolean;
  /** Per ISA name, why the image cannot run there (optional and its files are absent). */
  unavailable: Record<string, string>;
}

export interface SuiteSpec {
  name: SuiteName;
  /** Settings as normalised, with `{arch}` still in paths (Job.settings has it replaced). */
  settings: Record<string, unknown>;
  optional: boolean;
  /** Per ISA name, why the suite cannot run there (optional and its path is absent). */
  unavailable: Record<string, string>;
}

export interface KnownFailure {
  /** `<suite>/<case>` glob, as written. */
  test: string;
  /** The ISAs it applies to; undefined means all. */
  isas?: Isa[];
  /** The image it applies to; undefined means all. */
  image?: string;
  reason: string;
  link?: string;
  /** The claim that it is an emulator bug: triage checks it under the real kernel on every run. */
  emulator?: boolean;
}

export interface Matrix {
  name: string;
  description?: string;
  /** Absolute path of the matrix file. */
  file: string;
  isas: Isa[];
  images: ImageSpec[];
  suites: SuiteSpec[];
  /** On a native ISA; scaled by Isa.timeoutMultiplier in each job. */
  timeouts: { caseMs: number; suiteMs: number };
  retries: number;
  jobs: number | 'auto';
  failFast: boolean;
  knownFailures: KnownFailure[];
}

/** What a matrix gets for the keys it leaves out. */
export const DEFAULTS = { caseMs: 30_000, suiteMs: 30 * 60_000, retries: 0, jobs: 'auto', failFast: false } as const;
