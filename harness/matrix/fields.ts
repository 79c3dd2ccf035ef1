// Reads a parsed YAML document field by field, keeping each value's line and field path,
// and collects every problem instead of stopping at the first.
import { didYouMean } from '../did-you-mean.ts';
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { Parsed } from './units.ts';

export interface Issue {
  /** 1-based line in the matrix file. */
  line: number;
  /** Field path, e.g. images[1].sha512.x86_64; empty for the whole document. */
  path: string;
  message: string;
}

/** A value in the document: its node (null when absent or empty), where it sits, and its path. */
export interface Field {
  node: Node | null;
  line: number;
  path: string;
}

export class FieldReader {
  readonly issues: Issue[] = [];
  /** What the user should know but that is no error (a name whose meaning changed). */
  readonly notices: Issue[] = [];

  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  root(): Field {
    return this.field(this.doc.contents, 1, '');
  }

  report(at: Field, message: string): undefined {
    this.issues.push({ line: at.line, path: at.path, message });
    return undefined;
  }

  notice(at: Field, message: string): void {
    this.notices.push({ line: at.line, path: at.path, message });
  }

  /** The entries of a mapping in order, whatever their keys; undefined (reported) when it is not one. */
  pairs(at: Field, what: string): Array<[string, Field]> | undefined {
    if (!isMap(at.node)) return this.report(at, `expected a mapping of ${what}; got ${describe(at.node)}`);
    const pairs: Array<[string, Field]> = [];
    for (const pair of at.node.items) {
      const keyNode = this.deref(pair.key as Node | null);
      const key = isScalar(keyNode) && keyNode.value !== null ? String(keyNode.value) : undefined;
      const value = this.field(pair.value as Node | null, this.lineOf(pair.key as Node | null, at.line), join(at.path, key ?? '?'));
      if (key === undefined) this.report(value, 'keys must be plain words');
      else pairs.push([key, value]);
    }
    return pairs;
  }

  /**
   * The entries of a mapping whose keys must be `known` ones (each other key is reported,
   * with a did-you-mean, as an unknown `noun`). An empty value reads as {} when `emptyIsMap`.
   */
  map(at: Field, known: readonly string[], options: { emptyIsMap?: boolean; noun?: string } = {}): Map<string, Field> | undefined {
    if (options.emptyIsMap && isEmpty(at.node)) return new Map();
    const pairs = this.pairs(at, known.join(', '));
    if (!pairs) return undefined;
    const entries = new Map<string, Field>();
    for (const [key, value] of pairs) {
      if (known.includes(key)) entries.set(key, value);
      else this.report(value, unknownMessage(options.noun ?? 'key', key, known));
    }
    return entries;
  }

  /** The items of a sequence (none for an empty value); a single value reads as a list of one when `oneIsList`. */
  list(at: Field, what: string, oneIsList = false): Field[] | undefined {
    if (isEmpty(at.node)) return [];
    if (oneIsList && !isSeq(at.node)) return [at];
    if (!isSeq(at.node)) return this.report(at, `expected a list of ${what}; got ${describe(at.node)}`);
    return at.node.items.map((item, i) => this.field(item as Node | null, at.line, `${at.path}[${i}]`));
  }

  /** The value of a scalar (string, number, boolean), or undefined with a report. */
  scalar(at: Field, what: string): unknown {
    if (!isScalar(at.node) || at.node.value === null) return this.report(at, `expected ${what}; got ${describe(at.node)}`);
    return at.node.value;
  }

  /** The scalar's value when there is one, without reporting anything. */
  scalarValue(at: Field): unknown {
    return isScalar(at.node) ? at.node.value : undefined;
  }

  string(at: Field, what = 'a string'): string | undefined {
    const value = this.scalar(at, what);
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.trim() === '') return this.report(at, `expected ${what}; got ${describe(at.node)}`);
    return value;
  }

  boolean(at: Field): boolean | undefined {
    const value = this.scalar(at, 'true or false');
    if (value === undefined || typeof value === 'boolean') return value;
    return this.report(at, `expected true or false; got ${describe(at.node)}`);
  }

  integer(at: Field, min: number, what: string): number | undefined {
    const value = this.scalar(at, what);
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) return this.report(at, `expected ${what}; got ${describe(at.node)}`);
    return value;
  }

  /** A duration or size, parsed by `parse` (see units.ts). */
  measure(at: Field, what: string, parse: (raw: unknown) => Parsed): number | undefined {
    const raw = this.scalar(at, what);
    if (raw === undefined) return undefined;
    const parsed = parse(raw);
    return 'error' in parsed ? this.report(at, parsed.error) : parsed.value;
  }

  /** A required entry of a mapping read with `map`; reported at the mapping when absent. */
  required(entries: Map<string, Field>, key: string, parent: Field, hint: string): Field | undefined {
    return entries.get(key) ?? this.report({ ...parent, path: join(parent.path, key) }, `required: ${hint}`);
  }

  private field(node: Node | null | undefined, fallbackLine: number, path: string): Field {
    return { node: this.deref(node ?? null), line: this.lineOf(node ?? null, fallbackLine), path };
  }

  private deref(node: Node | null): Node | null {
    return isAlias(node) ? ((node.resolve(this.doc) as Node | undefined) ?? null) : node;
  }

  private lineOf(node: Node | null, fallback: number): number {
    return node?.range ? this.lines.linePos(node.range[0]).line : fallback;
  }
}

function join(parent: string, key: string): string {
  return parent ? `${parent}.${key}` : key;
}

export function isEmpty(node: Node | null): boolean {
  return node === null || (isScalar(node) && node.value === null);
}

/** How a value reads in a message: 'a mapping', 'a list', or the scalar as written. */
export function describe(node: Node | null): string {
  if (isEmpty(node)) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  return isScalar(node) ? JSON.stringify(node.value) : 'an unreadable value';
}

/** "unknown suite 'busybx' (did you mean 'busybox'?); known: image, busybox, musl, static" */
export function unknownMessage(noun: string, word: string, known: readonly string[]): string {
  if (known.length === 0) return `unknown ${noun} '${word}': none are allowed here`;
  const guess = didYouMean(word, known);
  return `unknown ${noun} '${word}'${guess ? ` (did you mean '${guess}'?)` : ''}; known: ${known.join(', ')}`;
}

