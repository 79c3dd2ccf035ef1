// Loads a matrix file: parses the YAML keeping positions, validates every field, and either
// returns the normalised Matrix or throws one MatrixError listing every problem as
// `<file>:<line>: <field>: <message>`.
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { isSeq, LineCounter, parseDocument } from 'yaml';
import { HarnessError } from '../errors.ts';
import { ISAS, type Isa } from '../isa.ts';
import { FieldReader, isEmpty, type Field, type Issue } from './fields.ts';
import { readImages } from './images.ts';
import { readIsas } from './isa-list.ts';
import { readKnownFailures } from './known-failures.ts';
import { readLimits } from './limits.ts';
import { DEFAULT_LIMITS, mergeLimits } from '../limits.ts';
import { displayPath } from './paths.ts';
import { DEFAULTS, type Matrix } from './schema.ts';
import { readSuites } from './suites.ts';
import { parseDuration } from './units.ts';

const TOP_KEYS = ['name', 'description', 'arches', 'images', 'suites', 'timeouts', 'limits', 'retries', 'jobs', 'fail_fast', 'known_failures'] as const;

/** Every problem of one YAML file; the message has one line per problem, in file order. */
export class YamlFileError extends HarnessError {
  constructor(
    /** The file as shown in the message (relative to the working directory when below it). */
    readonly file: string,
    readonly issues: readonly Issue[],
  ) {
    super(issues.map((issue) => `${file}:${issue.line}: ${issue.path ? `${issue.path}: ` : ''}${issue.message}`).join('\n'));
    this.name = 'YamlFileError';
  }
}

export class MatrixError extends YamlFileError {
  constructor(file: string, issues: readonly Issue[]) {
    super(file, issues);
    this.name = 'MatrixError';
  }
}

/**
 * Reads a YAML file field by field with `read`, collecting every problem; throws one error
 * (made by `fail`) listing them all, or returns what `read` made. `what` names the file in
 * the message when it cannot be read at all, with `hint` saying what to give instead.
 */
export async function loadYamlFile<T>(
  path: string,
  what: { noun: string; hint?: string },
  read: (reader: FieldReader, file: string) => T | undefined,
  fail: (shown: string, issues: Issue[]) => YamlFileError = (shown, issues) => new YamlFileError(shown, issues),
): Promise<T> {
  const file = resolve(path);
  const shown = displayPath(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new HarnessError(`${shown}: cannot read the ${what.noun} (${code})${what.hint ? `; ${what.hint}` : ''}`);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const syntaxError = doc.errors[0];
  if (syntaxError) {
    // Later syntax errors are mostly echoes of the first: report that one.
    const line = lineCounter.linePos(syntaxError.pos[0]).line;
    // One line: yaml quotes the offending source in some messages, newlines included.
    throw fail(shown, [{ line, path: '', message: `YAML syntax: ${syntaxError.message.trimEnd().replace(/\r?\n/g, '\\n')}` }]);
  }
  const reader = new FieldReader(doc, lineCounter);
  const value = read(reader, file);
  if (reader.issues.length > 0 || value === undefined) {
    // Stable: problems on one line keep the order they were found in.
    throw fail(shown, [...reader.issues].sort((a, b) => a.line - b.line));
  }
  return value;
}

export function loadMatrix(path: string): Promise<Matrix> {
  // Notices (what changed, e.g. the armhf alias) are not errors: the matrix carries them to the run.
  const readWithNotices = (reader: FieldReader, file: string): Matrix | undefined => {
    const matrix = readMatrix(reader, file);
    const notices = reader.notices.map((issue) => `${displayPath(path)}:${issue.line}: ${issue.path ? `${issue.path}: ` : ''}${issue.message}`);
    return matrix && notices.length ? { ...matrix, notices } : matrix;
  };
  return loadYamlFile(path, { noun: 'matrix', hint: 'give the path of a matrix YAML file, e.g. matrices/default.yaml' }, readWithNotices, (shown, issues) => new MatrixError(shown, issues));
}

function readMatrix(reader: FieldReader, file: string): Matrix | undefined {
  const root = reader.root();
  const entries = reader.map(root, TOP_KEYS);
  if (!entries) return undefined;
  const baseDir = dirname(file);
  const withDefault = <T>(key: (typeof TOP_KEYS)[number], read: (at: Field) => T | undefined, fallback: T): T => {
    const at = entries.get(key);
    return (at && read(at)) ?? fallback;
  };

  const isas = withDefault('arches', (at) => readArches(reader, at), [...ISAS]);
  const imagesField = reader.required(entries, 'images', root, "a list of images, e.g. '- built'");
  const images = imagesField ? readImages(reader, imagesField, { baseDir, isas }) : [];
  const suitesField = reader.required(entries, 'suites', root, 'a mapping of suites to their settings, e.g. busybox: {}');
  const suites = suitesField ? readSuites(reader, suitesField, { baseDir, isas }) : [];
  const timeouts = withDefault('timeouts', (at) => readTimeouts(reader, at), { caseMs: DEFAULTS.caseMs, suiteMs: DEFAULTS.suiteMs });
  return {
    name: withDefault('name', (at) => reader.string(at, 'a matrix name'), basename(file).replace(/\.ya?ml$/, '')),
    description: withDefault('description', (at) => reader.string(at, 'a one-line description'), undefined),
    file,
    isas,
    images,
    suites,
    timeouts,
    limits: mergeLimits(DEFAULT_LIMITS, withDefault('limits', (at) => readLimits(reader, at, 'matrix'), {})),
    retries: withDefault('retries', (at) => reader.integer(at, 0, 'a whole number of retries (0 or more)'), DEFAULTS.retries),
    jobs: withDefault('jobs', (at) => readJobs(reader, at), DEFAULTS.jobs),
    failFast: withDefault('fail_fast', (at) => reader.boolean(at), DEFAULTS.failFast),
    knownFailures: withDefault('known_failures', (at) => readKnownFailures(reader, at, images.map((image) => image.name)), []),
  };
}

function readArches(reader: FieldReader, at: Field): Isa[] | undefined {
  if (reader.scalarValue(at) === 'all') return [...ISAS];
  if (isEmpty(at.node) || (isSeq(at.node) && at.node.items.length === 0)) return reader.report(at, "list at least one ISA, or write 'all'");
  const isas = readIsas(reader, at);
  return isas.length > 0 ? isas : undefined;
}

function readTimeouts(reader: FieldReader, at: Field): Matrix['timeouts'] | undefined {
  const entries = reader.map(at, ['case', 'suite', 'run']);
  if (!entries) return undefined;
  const read = (key: string) => {
    const field = entries.get(key);
    return field && reader.measure(field, 'a duration, e.g. 30s', parseDuration);
  };
  const runMs = read('run');
  return { caseMs: read('case') ?? DEFAULTS.caseMs, suiteMs: read('suite') ?? DEFAULTS.suiteMs, ...(runMs !== undefined && { runMs }) };
}

function readJobs(reader: FieldReader, at: Field): number | 'auto' | undefined {
  if (reader.scalarValue(at) === 'auto') return 'auto';
  return reader.integer(at, 1, "'auto' or a whole number of cases run at once (1 or more)");
}
