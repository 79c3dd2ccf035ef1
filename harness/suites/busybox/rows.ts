// Script rows: cases written as YAML data (the shape of BusyBox testsuite/*.tests and
// docker-library's expected-std-out.txt). The busybox and image suites both load them.
// Every row is validated on load; a bad row is a HarnessError naming file:line and field.
import { readFileSync } from 'node:fs';
import { isAbsolute, posix } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type YAMLMap } from 'yaml';
import type { CaseFile, TestCase } from '../../case.ts';
import { HarnessError } from '../../errors.ts';
import { cachedParse, sourceKey } from '../../parsed-cache.ts';
import { isVersionRange, versionSkipReason } from './version.ts';

/** Every script starts here: rows may write files without cd'ing first. */
export const ROW_WORKDIR = '/tmp';

export interface ScriptRow {
  name: string;
  /** Applets the script needs; the case is skipped when one is missing from the image. */
  applets: string[];
  /** A /bin/sh script. */
  cmd: string;
  stdin?: string;
  files: CaseFile[];
  /** Exact expected stdout. */
  stdout?: string;
  /** JavaScript regular expression (multiline flag, as harness/verdict.ts applies it) stdout must match. */
  stdoutMatches?: string;
  exit: number;
  crossIsa: boolean;
  timeout?: number;
  /** BusyBox versions the row holds for (semver range, e.g. '>=1.31'); any when absent. */
  busybox?: string;
  /** file:line of the row, for messages. */
  at: string;
}

export interface LoadRowsOptions {
  /** Rows must name at least one applet (the busybox suite's rule). */
  requireApplets?: boolean;
}

const ROW_KEYS = ['name', 'applet', 'applets', 'busybox', 'cmd', 'stdin', 'files', 'stdout', 'stdout_matches', 'exit', 'cross_isa', 'timeout'];
const FILE_KEYS = ['text', 'base64', 'mode'];

let parserKey: string | undefined;

/** Reads and validates a rows file (a valid one's rows are kept in the cache: parsed-cache.ts). */
export function loadRows(file: string, opts: LoadRowsOptions = {}): ScriptRow[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new HarnessError(`${file}: cannot read case rows (${(error as Error).message})`);
  }
  // `file` is in the key too: messages and each row's `at` name it.
  parserKey ??= sourceKey(import.meta.url, ['version']);
  return cachedParse(text, `${parserKey}\0${file}\0${JSON.stringify(opts)}`, () => parseRows(text, file, opts));
}

/** Parses rows from YAML text; `file` only names the source in messages. */
export function parseRows(text: string, file: string, opts: LoadRowsOptions = {}): ScriptRow[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  const lineOf = (node: Node | null | undefined): number => (node?.range ? lineCounter.linePos(node.range[0]).line : 1);
  const firstError = doc.errors[0];
  if (firstError) {
    const line = firstError.linePos?.[0].line ?? 1;
    throw new HarnessError(`${file}:${line}: invalid YAML: ${firstError.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '')}`);
  }
  if (!isSeq(doc.contents)) throw new HarnessError(`${file}:1: expected a list of rows (each '- name: ...')`);

  const rows: ScriptRow[] = [];
  const seen = new Map<string, string>();
  for (const item of doc.contents.items) {
    const node = item as Node;
    if (!isMap(node)) throw new HarnessError(`${file}:${lineOf(node)}: a row must be a mapping with name, cmd and stdout`);
    const row = parseRow(node, file, lineOf, opts);
    const earlier = seen.get(row.name);
    if (earlier) throw new HarnessError(`${row.at}: row name '${row.name}' repeats the row at ${earlier}; names must be unique`);
    seen.set(row.name, row.at);
    rows.push(row);
  }
  return rows;
}

function parseRow(map: YAMLMap, file: string, lineOf: (node: Node | null | undefined) => number, opts: LoadRowsOptions): ScriptRow {
  const rowLine = lineOf(map);
  const values = new Map<string, { value: unknown; line: number }>();
  for (const pair of map.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    const keyLine = lineOf(pair.key as Node);
    if (!ROW_KEYS.includes(key)) {
      throw new HarnessError(`${file}:${keyLine}: unknown field '${key}'; allowed: ${ROW_KEYS.join(', ')}`);
    }
    const valueNode = pair.value as Node | null;
    values.set(key, { value: valueNode && 'toJSON' in valueNode ? valueNode.toJSON() : valueNode, line: valueNode ? lineOf(valueNode) : keyLine });
  }
  const nameValue = values.get('name')?.value;
  const label = typeof nameValue === 'string' ? ` (row '${nameValue}')` : '';
  const fail = (key: string, problem: string): never => {
    throw new HarnessError(`${file}:${values.get(key)?.line ?? rowLine}: '${key}'${label} ${problem}`);
  };
  const str = (key: string, required: boolean): string | undefined => {
    const v = values.get(key)?.value;
    if (v === undefined || v === null) return required ? fail(key, 'is required') : undefined;
    if (typeof v !== 'string') return fail(key, 'must be a string');
    return v;
  };

  const name = str('name', true)!.trim();
  if (name === '') fail('name', 'must not be empty');
  const cmd = str('cmd', true)!;
  if (cmd.trim() === '') fail('cmd', 'must not be empty');

  if (values.has('applet') && values.has('applets')) fail('applets', "and 'applet' are exclusive: use one");
  let applets: string[] = [];
  if (values.has('applet')) applets = [str('applet', true)!];
  else if (values.has('applets')) {
    const v = values.get('applets')!.value;
    if (!Array.isArray(v) || v.some((a) => typeof a !== 'string' || a === '')) fail('applets', 'must be a list of applet names');
    applets = v as string[];
  }
  if (opts.requireApplets && applets.length === 0) fail('applet', 'is required: name the applet(s) the row tests');

  const stdout = str('stdout', false);
  const stdoutMatches = str('stdout_matches', false);
  if ((stdout === undefined) === (stdoutMatches === undefined)) fail('stdout', "or 'stdout_matches' is required (exactly one)");
  if (stdoutMatches !== undefined) {
    try {
      new RegExp(stdoutMatches);
    } catch (error) {
      fail('stdout_matches', `is not a valid regular expression: ${(error as Error).message}`);
    }
  }

  const exitValue = values.get('exit')?.value ?? 0;
  if (!Number.isInteger(exitValue) || (exitValue as number) < 0 || (exitValue as number) > 255) fail('exit', 'must be an integer 0-255');
  const crossIsa = values.get('cross_isa')?.value ?? true;
  if (typeof crossIsa !== 'boolean') fail('cross_isa', 'must be true or false');
  const busybox = str('busybox', false);
  if (busybox !== undefined && !isVersionRange(busybox)) fail('busybox', "must be a range of BusyBox versions, e.g. '>=1.31' or '>=1.31 <1.36'");
  const timeout = values.get('timeout')?.value;
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout > 0))) fail('timeout', 'must be a positive number of seconds');

  return {
    name,
    applets,
    cmd,
    stdin: str('stdin', false),
    files: parseFiles(values.get('files')?.value, fail),
    stdout,
    stdoutMatches,
    exit: exitValue as number,
    crossIsa: crossIsa as boolean,
    timeout: timeout as number | undefined,
    ...(busybox !== undefined && { busybox: busybox.trim() }),
    at: `${file}:${rowLine}`,
  };
}

/** files: { path: "text" } or { path: { text | base64, mode? } }; relative paths are under ROW_WORKDIR. */
function parseFiles(value: unknown, fail: (key: string, problem: string) => never): CaseFile[] {
  if (value === undefined || value === null) return [];
  if (typeof value !== 'object' || Array.isArray(value)) return fail('files', 'must map paths to contents');
  return Object.entries(value as Record<string, unknown>).map(([path, spec]) => {
    const guestPath = isAbsolute(path) ? posix.normalize(path) : posix.join(ROW_WORKDIR, path);
    if (typeof spec === 'string') return { path: guestPath, content: spec };
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) return fail('files', `entry '${path}' must be text or { text | base64, mode }`);
    const entry = spec as Record<string, unknown>;
    const unknown = Object.keys(entry).filter((k) => !FILE_KEYS.includes(k));
    if (unknown.length > 0) fail('files', `entry '${path}' has unknown field '${unknown[0]}'; allowed: ${FILE_KEYS.join(', ')}`);
    const hasText = typeof entry.text === 'string';
    const hasBase64 = typeof entry.base64 === 'string';
    if (hasText === hasBase64) fail('files', `entry '${path}' needs exactly one of text or base64`);
    if (entry.mode !== undefined && (!Number.isInteger(entry.mode) || (entry.mode as number) < 0 || (entry.mode as number) > 0o7777)) {
      fail('files', `entry '${path}' mode must be an integer like 0o755`);
    }
    const file: CaseFile = hasText
      ? { path: guestPath, content: entry.text as string }
      : { path: guestPath, content: (entry.base64 as string).replace(/\s+/g, ''), encoding: 'base64' };
    if (entry.mode !== undefined) file.mode = entry.mode as number;
    return file;
  });
}

/** The applets of `needed` missing from the image's `busybox --list`. */
export function missingApplets(needed: readonly string[], present: ReadonlySet<string>): string[] {
  return needed.filter((applet) => !present.has(applet));
}

/** The row's file and line, from its `at` (file:line). */
function sourceOf(row: ScriptRow): { file: string; line: number } {
  const colon = row.at.lastIndexOf(':');
  return { file: row.at.slice(0, colon), line: Number(row.at.slice(colon + 1)) };
}

/**
 * Turns a row into a case of `suite`; skipped with a reason when an applet is missing or the
 * image's BusyBox (when known) is outside the versions the row holds for.
 */
export function rowToCase(row: ScriptRow, suite: string, present: ReadonlySet<string>, busyboxVersion?: string): TestCase {
  const testCase: TestCase = {
    name: row.name,
    suite,
    argv: ['/bin/sh', '-c', `cd ${ROW_WORKDIR} || exit 125; ${row.cmd}`],
    expect: { exitCode: row.exit },
    crossIsa: row.crossIsa,
    source: sourceOf(row),
  };
  if (row.stdout !== undefined) testCase.expect.stdout = row.stdout;
  if (row.stdoutMatches !== undefined) testCase.expect.stdoutMatches = row.stdoutMatches;
  if (row.stdin !== undefined) testCase.stdin = row.stdin;
  if (row.files.length > 0) testCase.files = row.files;
  if (row.timeout !== undefined) testCase.timeoutSeconds = row.timeout;
  const missing = missingApplets(row.applets, present);
  const outOfRange = versionSkipReason(row.busybox, busyboxVersion);
  if (missing.length > 0) testCase.skip = `applet ${missing.join(', ')} not in this BusyBox build`;
  else if (outOfRange) testCase.skip = outOfRange;
  return testCase;
}
