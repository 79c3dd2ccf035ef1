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
 *   - name: alpine-web     # a tarball by http(s) URL: downloaded once into the cache, checked
 *     tarball: 'https://dl-cdn.alpinelinux.org/alpine/v3.20/releases/{arch}/alpine-minirootfs-3.20.3-{arch}.tar.gz'
 *     sha512sums: 'https://example.org/checksums.sha512'   # a URL or a path; or sha512: {...}
 *   - { name: pushed, registry: 'registry.example.org:5000/team/alpine:3.20' }  # every ISA its index holds
 *     # tls_verify: false  (default: true, except for a registry on localhost/127.0.0.1)
 * suites:                  # which suites run, each with its settings ({} or empty for none)
 *   image: { size_budget: 1.2MB }         # sizes: 1200000 (bytes), 1.2MB, 900kB, 1MiB
 *   busybox: {}
 *   busybox-upstream: { applets: [sed, cut], rotate: 4, rotate_by: date }   # BusyBox's own testsuite
 *   musl: {}
 *   static: { path: './static/{arch}', optional: true }   # a directory of static binaries per ISA
 * timeouts: { case: 30s, suite: 30m, run: 2h }   # on a native ISA; the ISA's timeoutMultiplier scales case and suite
 * limits: { memory: 2GiB, pids: 1024, tmp: 1GiB, output: 1MiB }   # per case (the defaults); a suite's `limits:` overrides
 * retries: 1               # extra attempts for a failing case; a case that needed one is flaky
 * jobs: auto               # cases at once: auto (twice the cores, more while they stand idle: scheduler.ts) or a positive number
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
 * - A tarball or sha512sums that starts with http:// or https:// is a URL: downloaded into the
 *   cache (keyed by URL and sha512) the first time, never again; a 404, a broken transfer or a
 *   mismatch is an error (under `optional: true`, a 404 or a tarball the checksums file lacks
 *   skips that ISA). A `registry` image is pulled once (skopeo, every platform) into the cache,
 *   keyed by its reference; an ISA its index lacks is skipped with that reason.
 * - Every referenced path must exist when the matrix loads, except under `optional: true`
 *   (an image, or a suite with a path): then each ISA whose files are absent becomes a
 *   skipped job whose reason names the missing path.
 * - Durations need a unit: 500ms, 30s, 2m, 1h, 1m30s. Unknown keys are errors.
 * - `known_failures[].test` is `<suite>/<case>`; `*` matches any run of characters and `?`
 *   one. `arch` (one ISA or a list) and `image` narrow the entry; `reason` is required.
 */
import type { Isa } from '../isa.ts';
import type { Limits } from '../limits.ts';

/** The suites a matrix may name, with the settings each accepts. */
export const SUITE_NAMES = ['image', 'busybox', 'busybox-upstream', 'musl', 'static'] as const;
export type SuiteName = (typeof SUITE_NAMES)[number];

/** path: a directory ({arch} allowed); file: a file ({arch} allowed); names: a list of words. */
export type SettingKind = 'size' | 'path' | 'file' | 'names' | 'count' | 'choice';

/** One setting of a suite: its YAML key, the key the suite reads, and its kind. */
export interface SettingSpec {
  key: string;
  as: string;
  kind: SettingKind;
  required: boolean;
  /** The allowed values of a choice. */
  choices?: readonly string[];
}

export const SUITE_SETTINGS: Readonly<Record<SuiteName, readonly SettingSpec[]>> = {
  image: [{ key: 'size_budget', as: 'sizeBudgetBytes', kind: 'size', required: false }],
  busybox: [],
  'busybox-upstream': [
    // Only these applets (testsuite names: a .tests file or an old-style directory).
    { key: 'applets', as: 'applets', kind: 'names', required: false },
    // Run one of this many slices of the applets, chosen by rotate_by: a rotating CI subset.
    { key: 'rotate', as: 'rotate', kind: 'count', required: false },
    { key: 'rotate_by', as: 'rotateBy', kind: 'choice', choices: ['date', 'commit'], required: false },
    // Where BusyBox source tarballs are (busybox-<v>.tar.bz2), for images not built here.
    { key: 'sources', as: 'sources', kind: 'path', required: false },
    // The .config of an image not built here (its BusyBox build's).
    { key: 'config', as: 'config', kind: 'file', required: false },
  ],
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
  'busybox-upstream': { applets?: string[]; rotate?: number; rotateBy?: 'date' | 'commit'; sources?: string; config?: string };
  musl: Record<string, never>;
  static: { path: string };
}

/** Where one ISA's image comes from: concrete paths and URLs, no placeholders. */
export type ImageRef =
  | { kind: 'built' }
  | { kind: 'tarball'; path: string; sha512?: string; sha512sums?: string }
  /** A tarball by http(s) URL; `sha512sums` is a path or a URL. One of the two sums is given. */
  | { kind: 'url'; url: string; sha512?: string; sha512sums?: string }
  | { kind: 'directory'; path: string }
  /** Without a tag: the layout's only image for the ISA, whatever its tags. */
  | { kind: 'oci'; layout: string; tag?: string }
  | { kind: 'docker-archive'; path: string }
  /** host[:port]/repo:tag (normalised); TLS verified unless tlsVerify is false. */
  | { kind: 'registry'; reference: string; tlsVerify?: boolean };

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
  /** The suite's own `limits:`, over the matrix's. */
  limits?: Partial<Limits>;
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
  timeouts: { caseMs: number; suiteMs: number; runMs?: number };
  /** Per case, before a suite's or a case's own. */
  limits: Limits;
  retries: number;
  jobs: number | 'auto';
  failFast: boolean;
  knownFailures: KnownFailure[];
  /** One line each, `<file>:<line>: <field>: <message>`: what changed under the matrix, no error. */
  notices?: string[];
}

/** What a matrix gets for the keys it leaves out. */
export const DEFAULTS = { caseMs: 30_000, suiteMs: 30 * 60_000, retries: 0, jobs: 'auto', failFast: false } as const;
