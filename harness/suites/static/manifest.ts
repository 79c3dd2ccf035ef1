// static.yaml: the optional manifest beside a directory of a user's static binaries, and
// known-failures.yaml, the list a suite's maintainers ship with it. Every problem is
// reported at once as `file:line: field: message`.
//
//   allow_dynamic: false     # true: dynamic binaries are run, not failed as "not static"
//   empty_root: false        # true: each binary runs again in an otherwise empty root
//   timeout: 30s             # each binary's default, on a native ISA (the ISA's multiplier scales it)
//   known_failures: ../known-failures.yaml   # default: known-failures.yaml beside this file, if any
//   binaries:                # entries for binaries that need more than the defaults
//     - binary: net/resolve  # path below this directory (found recursively without an entry)
//       name: resolve-v4     # case name (default: the path); one binary may have several entries
//       args: [-4, localhost]
//       env: { LC_ALL: C }
//       cwd: /tmp            # inside the guest
//       stdin: "text\n"
//       timeout: 5s
//       exit: 3              # expected exit code (default 0), or
//       signal: SIGABRT      # expected signal
//       skip: { arch: [s390x], reason: 'needs a feature QEMU lacks' }
//       known_failure: { arch: [aarch64], reason: '...', link: 'https://...' }
//       allow_dynamic: true
//       empty_root: false
//
// known-failures.yaml: a list of { test: <case name glob, * and ?>, arch?, reason, link? }.
import { constants as osConstants } from 'node:os';
import { existsSync, statSync } from 'node:fs';
import { join, normalize, resolve } from 'node:path';
import type { Isa } from '../../isa.ts';
import type { Field, FieldReader } from '../../matrix/fields.ts';
import { readIsas } from '../../matrix/isa-list.ts';
import { readLink } from '../../matrix/known-failures.ts';
import { loadYamlFile } from '../../matrix/load.ts';
import { parseDuration } from '../../matrix/units.ts';

export const MANIFEST_FILE = 'static.yaml';
export const KNOWN_FAILURES_FILE = 'known-failures.yaml';

export interface ArchReason {
  /** Undefined: every ISA. */
  isas?: Isa[];
  reason: string;
  link?: string;
}

export interface BinaryEntry {
  /** Relative to the directory, normalised. */
  binary: string;
  name: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  stdin?: string;
  timeoutSeconds?: number;
  exitCode?: number;
  signal?: string;
  skip?: ArchReason;
  knownFailure?: ArchReason;
  allowDynamic?: boolean;
  emptyRoot?: boolean;
}

export interface Manifest {
  allowDynamic: boolean;
  emptyRoot: boolean;
  timeoutSeconds?: number;
  entries: BinaryEntry[];
  /** The suite's own known failures, from known_failures (or known-failures.yaml beside the manifest). */
  knownFailures: Array<ArchReason & { test: string }>;
}

const TOP_KEYS = ['allow_dynamic', 'empty_root', 'timeout', 'known_failures', 'binaries'] as const;
const ENTRY_KEYS = ['binary', 'name', 'args', 'env', 'cwd', 'stdin', 'timeout', 'exit', 'signal', 'skip', 'known_failure', 'allow_dynamic', 'empty_root'] as const;
const SIGNALS = Object.keys(osConstants.signals);

/** The manifest of a binaries directory: static.yaml when present, else the defaults (plus known-failures.yaml, if any). */
export async function loadManifest(dir: string): Promise<Manifest> {
  const path = join(dir, MANIFEST_FILE);
  const manifest = existsSync(path)
    ? await loadYamlFile(path, { noun: 'static suite manifest' }, (reader) => readManifest(reader, dir))
    : { allowDynamic: false, emptyRoot: false, entries: [], knownFailures: [], knownFailuresFile: undefined };
  const knownFile = manifest.knownFailuresFile ?? (existsSync(join(dir, KNOWN_FAILURES_FILE)) ? join(dir, KNOWN_FAILURES_FILE) : undefined);
  const { knownFailuresFile: _file, ...rest } = manifest;
  if (!knownFile) return rest;
  return { ...rest, knownFailures: await loadYamlFile(knownFile, { noun: 'known-failures file' }, readKnownFailureList) };
}

function readManifest(reader: FieldReader, dir: string): (Manifest & { knownFailuresFile?: string }) | undefined {
  const root = reader.root();
  const top = reader.map(root, TOP_KEYS, { emptyIsMap: true });
  if (!top) return undefined;
  const flag = (key: string) => {
    const at = top.get(key);
    return (at && reader.boolean(at)) ?? false;
  };
  const timeoutField = top.get('timeout');
  const knownField = top.get('known_failures');
  const knownPath = knownField && reader.string(knownField, 'the path of a known-failures YAML file');
  const knownFailuresFile = knownPath === undefined ? undefined : resolve(dir, knownPath);
  if (knownFailuresFile && !statSync(knownFailuresFile, { throwIfNoEntry: false })?.isFile()) reader.report(knownField!, `${knownFailuresFile} is not a file`);
  const binariesField = top.get('binaries');
  const entries = (binariesField ? reader.list(binariesField, 'binaries ({ binary, args?, env?, ... })') ?? [] : []).map((item) => readEntry(reader, item, dir));
  const names = new Set<string>();
  for (const [i, entry] of entries.entries()) {
    if (!entry) continue;
    if (names.has(entry.name)) reader.report(reader.list(binariesField!, '')![i]!, `case name '${entry.name}' is used twice: give one entry a name`);
    names.add(entry.name);
  }
  return {
    allowDynamic: flag('allow_dynamic'),
    emptyRoot: flag('empty_root'),
    ...(timeoutField && { timeoutSeconds: seconds(reader, timeoutField) }),
    entries: entries.filter((entry): entry is BinaryEntry => entry !== undefined),
    knownFailures: [],
    ...(knownFailuresFile && { knownFailuresFile }),
  };
}

function seconds(reader: FieldReader, at: Field): number | undefined {
  const ms = reader.measure(at, "a duration, e.g. '5s'", parseDuration);
  return ms === undefined ? undefined : ms / 1000;
}

function strings(reader: FieldReader, at: Field): string[] | undefined {
  const items = (reader.list(at, 'arguments', true) ?? []).map((item) => {
    const value = reader.scalar(item, 'an argument');
    return value === undefined ? undefined : String(value);
  });
  return items.every((item) => item !== undefined) ? items : undefined;
}

function readEntry(reader: FieldReader, at: Field, dir: string): BinaryEntry | undefined {
  const entries = reader.map(at, ENTRY_KEYS);
  if (!entries) return undefined;
  const binaryField = reader.required(entries, 'binary', at, 'the binary, as a path below the manifest\'s directory');
  const raw = binaryField && reader.string(binaryField, 'a path below the directory');
  const binary = raw === undefined ? undefined : normalize(raw).replace(/^\.\//, '');
  if (binary !== undefined && (binary.startsWith('..') || binary.startsWith('/'))) return reader.report(binaryField!, `'${raw}' is not below ${dir}`);
  if (binary !== undefined && !statSync(join(dir, binary), { throwIfNoEntry: false })?.isFile()) return reader.report(binaryField!, `${join(dir, binary)} does not exist`);
  const get = <T>(key: string, read: (field: Field) => T | undefined): T | undefined => {
    const field = entries.get(key);
    return field && read(field);
  };
  const exitCode = get('exit', (f) => reader.integer(f, 0, 'an exit code (0-255)'));
  const signal = get('signal', (f) => {
    const name = reader.string(f, 'a signal name, e.g. SIGABRT');
    const canonical = name && (name.startsWith('SIG') ? name : `SIG${name}`).toUpperCase();
    return canonical && SIGNALS.includes(canonical) ? canonical : name && reader.report(f, `unknown signal '${name}'; e.g. SIGABRT, SIGSEGV, SIGKILL`);
  });
  if (exitCode !== undefined && signal !== undefined) reader.report(entries.get('signal')!, 'give exit or signal, not both');
  const env = get('env', (f) => {
    const pairs = reader.pairs(f, 'variable names to values');
    return pairs && Object.fromEntries(pairs.map(([name, value]) => [name, String(reader.scalar(value, 'a value') ?? '')]));
  });
  const cwd = get('cwd', (f) => {
    const path = reader.string(f, 'an absolute guest path, e.g. /tmp');
    return path === undefined || path.startsWith('/') ? path : reader.report(f, `'${path}' is not an absolute guest path, e.g. /tmp`);
  });
  if (binary === undefined) return undefined;
  return {
    binary,
    name: get('name', (f) => reader.string(f, 'a case name')) ?? binary,
    ...optional('args', get('args', (f) => strings(reader, f))),
    ...optional('env', env),
    ...optional('cwd', cwd),
    ...optional('stdin', get('stdin', (f) => String(reader.scalar(f, 'the text fed to stdin') ?? ''))),
    ...optional('timeoutSeconds', get('timeout', (f) => seconds(reader, f))),
    ...optional('exitCode', exitCode),
    ...optional('signal', signal),
    ...optional('skip', get('skip', (f) => readArchReason(reader, f, 'why it cannot run there'))),
    ...optional('knownFailure', get('known_failure', (f) => readArchReason(reader, f, 'why it fails, for whoever reads the report'))),
    ...optional('allowDynamic', get('allow_dynamic', (f) => reader.boolean(f))),
    ...optional('emptyRoot', get('empty_root', (f) => reader.boolean(f))),
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function readArchReason(reader: FieldReader, at: Field, reasonHint: string, entries = reader.map(at, ['arch', 'reason', 'link'])): ArchReason | undefined {
  if (!entries) return undefined;
  const reasonField = reader.required(entries, 'reason', at, reasonHint);
  const reason = reasonField && reader.string(reasonField, 'a reason');
  const archField = entries.get('arch');
  const isas = archField && readIsas(reader, archField);
  const linkField = entries.get('link');
  const link = linkField && readLink(reader, linkField);
  if (reason === undefined || isas?.length === 0) return undefined;
  return { reason, ...(isas && { isas }), ...(link !== undefined && { link }) };
}

function readKnownFailureList(reader: FieldReader): Array<ArchReason & { test: string }> | undefined {
  const list = reader.list(reader.root(), 'known failures ({ test, reason, arch?, link? })');
  if (!list) return undefined;
  return list.flatMap((item) => {
    const entries = reader.map(item, ['test', 'arch', 'reason', 'link']);
    if (!entries) return [];
    const testField = reader.required(entries, 'test', item, 'the case name (globs * and ? allowed)');
    const test = testField && reader.string(testField, 'a case name (globs * and ? allowed)');
    const entry = readArchReason(reader, item, 'why it fails, for whoever reads the report', entries);
    return entry && test ? [{ ...entry, test }] : [];
  });
}
