// Paths in a matrix: relative to the matrix file, `{arch}` replaced per ISA, and checked to
// exist when the matrix loads (the only file access the matrix makes besides reading itself).
import { statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Isa } from '../isa.ts';
import type { Field, FieldReader } from './fields.ts';

const PLACEHOLDER = /\{([^}]*)\}/g;

/** What a path field expects; an unquoted {arch} inside { ... } parses as a mapping. */
export const PATH_HINT = "a path (quote it inside { ... } when it holds {arch})";

/** The template with `{arch}` replaced by the ISA's canonical name. */
export function expandArch(template: string, isa: Isa): string {
  return template.replaceAll('{arch}', isa.name);
}

export function hasArch(template: string): boolean {
  return template.includes('{arch}');
}

/** A path for messages: relative to the working directory when it lies below it, else absolute. */
export function displayPath(path: string, cwd = process.cwd()): string {
  const rel = relative(cwd, resolve(cwd, path));
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : resolve(cwd, path);
}

export type PathKind = 'file' | 'directory' | 'oci-layout';

/** Why the path is not what the matrix needs there, or undefined when it is. */
function pathProblem(path: string, kind: PathKind): string | undefined {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return `${displayPath(path)} does not exist`;
  if (kind === 'file' && !stat.isFile()) return `${displayPath(path)} is not a file`;
  if (kind !== 'file' && !stat.isDirectory()) return `${displayPath(path)} is not a directory`;
  if (kind === 'oci-layout' && !statSync(join(path, 'index.json'), { throwIfNoEntry: false })?.isFile()) {
    return `${displayPath(path)} is not an OCI image layout (no index.json)`;
  }
  return undefined;
}

/** Reports each placeholder other than {arch}; true when there is none. */
export function checkPlaceholders(reader: FieldReader, at: Field, template: string): boolean {
  const unknown = [...template.matchAll(PLACEHOLDER)].map(([, name]) => name).filter((name) => name !== 'arch');
  for (const name of unknown) reader.report(at, `unknown placeholder '{${name}}' in '${template}'; the only one is {arch} (the ISA name)`);
  return unknown.length === 0;
}

/**
 * Resolves a path template (relative to `baseDir`) for each ISA and checks it. A problem is
 * reported at `at`, or, when `unavailable` is given (an optional entry), recorded there per
 * ISA as the reason to skip. Returns the absolute path per ISA name.
 */
export function locate(
  reader: FieldReader,
  at: Field,
  template: string,
  options: { baseDir: string; isas: readonly Isa[]; kind: PathKind; unavailable?: Record<string, string> },
): Record<string, string> {
  const known = checkPlaceholders(reader, at, template);
  const paths: Record<string, string> = {};
  const reported = new Set<string>();
  for (const isa of options.isas) {
    const path = resolve(options.baseDir, expandArch(template, isa));
    paths[isa.name] = path;
    // A path with an unknown placeholder is wrong already: checking it on disk adds nothing.
    const problem = known ? pathProblem(path, options.kind) : undefined;
    if (!problem) continue;
    if (options.unavailable) {
      options.unavailable[isa.name] ??= problem;
    } else if (!reported.has(path)) {
      reported.add(path);
      reader.report(at, `${problem}${hasArch(template) ? ` (for ${isa.name})` : ''}`);
    }
  }
  return paths;
}
