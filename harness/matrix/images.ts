// The images: section of a matrix: each entry becomes an ImageSpec with a concrete ImageRef
// per ISA it covers, its paths checked (or, when optional, the missing ones recorded).
import { isScalar } from 'yaml';
import { isHttpUrl } from '../fetch/download.ts';
import { isLocalRegistry, parseRegistryRef } from '../fetch/registry.ts';
import type { Isa } from '../isa.ts';
import type { Field, FieldReader } from './fields.ts';
import { isaNamed, readIsas } from './isa-list.ts';
import { checkPlaceholders, expandArch, hasArch, locate, PATH_HINT, type PathKind } from './paths.ts';
import type { ImageKind, ImageRef, ImageSpec } from './schema.ts';

const SOURCE_KEYS = ['built', 'tarball', 'directory', 'oci', 'docker-archive', 'registry'] as const satisfies readonly ImageKind[];
const IMAGE_KEYS = ['name', ...SOURCE_KEYS, 'sha512', 'sha512sums', 'tag', 'tls_verify', 'arches', 'optional'] as const;
/** Keys that belong to one kind of image only. */
const KIND_ONLY_KEYS: ReadonlyArray<[string, ImageKind]> = [['sha512', 'tarball'], ['sha512sums', 'tarball'], ['tag', 'oci'], ['tls_verify', 'registry']];
/** What a path source must be on disk. */
const SOURCE_PATH_KIND: Readonly<Record<'tarball' | 'directory' | 'oci' | 'docker-archive', PathKind>> = {
  tarball: 'file',
  directory: 'directory',
  oci: 'oci-layout',
  'docker-archive': 'file',
};
const IMAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const SHA512 = /^[0-9a-f]{128}$/i;
const HINT = "'built' or a mapping { name, tarball | directory | oci | docker-archive | registry }";

export interface ImageContext {
  /** Directory of the matrix file: paths are relative to it. */
  baseDir: string;
  /** The matrix's ISAs. */
  isas: readonly Isa[];
}

export function readImages(reader: FieldReader, at: Field, context: ImageContext): ImageSpec[] {
  const items = reader.list(at, `images (${HINT})`, true);
  if (!items) return [];
  if (items.length === 0) reader.report(at, `list at least one image: ${HINT}`);
  const images: ImageSpec[] = [];
  const firstLine = new Map<string, number>();
  for (const item of items) {
    const image = readImage(reader, item, context);
    if (!image) continue;
    const line = firstLine.get(image.name);
    if (line !== undefined) {
      reader.report(item, `duplicate image name '${image.name}' (first at line ${line}); give each image its own name`);
      continue;
    }
    firstLine.set(image.name, item.line);
    images.push(image);
  }
  return images;
}

function builtImage(name: string, isas: readonly Isa[]): ImageSpec {
  const refs = Object.fromEntries(isas.map((isa) => [isa.name, { kind: 'built' } as const]));
  return { name, kind: 'built', isas: [...isas], refs, optional: false, unavailable: {} };
}

function readImage(reader: FieldReader, at: Field, context: ImageContext): ImageSpec | undefined {
  if (isScalar(at.node)) {
    const value = reader.string(at, HINT);
    if (value === 'built') return builtImage(value, context.isas);
    return value === undefined ? undefined : reader.report(at, `unknown image '${value}'; write ${HINT}`);
  }
  const entries = reader.map(at, IMAGE_KEYS);
  if (!entries) return undefined;
  const sources = SOURCE_KEYS.filter((key) => entries.has(key));
  const kind = sources[0];
  if (kind === undefined || sources.length > 1) {
    return reader.report(at, sources.length ? `give one source, not ${sources.join(' and ')}` : `give a source: one of ${SOURCE_KEYS.join(', ')}`);
  }
  for (const [key, owner] of KIND_ONLY_KEYS) {
    const field = entries.get(key);
    if (field && kind !== owner) reader.report(field, `${key} applies to ${owner} images only`);
  }
  const name = readName(reader, entries, at, kind);
  const optionalField = entries.get('optional');
  const optional = (optionalField && reader.boolean(optionalField)) ?? false;
  const archesField = entries.get('arches');
  const isas = archesField ? coveredIsas(reader, archesField, context.isas) : [...context.isas];
  if (name === undefined || isas.length === 0) return undefined;

  const sourceField = entries.get(kind)!;
  if (kind === 'built') {
    if (reader.boolean(sourceField) === false) reader.report(sourceField, 'write built: true, or leave the image out');
    return { ...builtImage(name, isas), optional };
  }
  if (kind === 'registry') return registryImage(reader, entries, sourceField, { name, isas, optional });
  const template = reader.string(sourceField, PATH_HINT);
  if (template === undefined) return undefined;
  if (kind !== 'oci' && !hasArch(template) && isas.length > 1) {
    reader.report(sourceField, `'${template}' has no {arch} but serves ${isas.map((isa) => isa.name).join(', ')}; add {arch} or list one ISA in arches`);
  }
  const unavailable: Record<string, string> = {};
  const checksumContext = { ...context, isas, unavailable: optional ? unavailable : undefined };
  if (kind === 'tarball' && isHttpUrl(template)) {
    checkPlaceholders(reader, sourceField, template);
    const checksums = readChecksums(reader, entries, at, checksumContext);
    if (!checksums.sha512 && !checksums.sha512sums) reader.report(sourceField, 'a tarball by URL needs its sha512 or a sha512sums file (a path or a URL)');
    const refs = Object.fromEntries(isas.map((isa) => [isa.name, { kind: 'url', url: expandArch(template, isa), ...checksumsFor(checksums, isa) } as const]));
    return { name, kind, isas, refs, optional, unavailable };
  }
  const paths = locate(reader, sourceField, template, {
    baseDir: context.baseDir,
    isas,
    kind: SOURCE_PATH_KIND[kind],
    unavailable: optional ? unavailable : undefined,
  });
  const checksums = kind === 'tarball' ? readChecksums(reader, entries, at, checksumContext) : undefined;
  const tagField = entries.get('tag');
  const tag = (tagField && reader.string(tagField, 'an image tag')) ?? 'latest';
  const refs = Object.fromEntries(
    isas.map((isa): [string, ImageRef] => {
      const path = paths[isa.name]!;
      if (kind === 'oci') return [isa.name, { kind, layout: path, tag }];
      if (kind === 'tarball') return [isa.name, { kind, path, ...(checksums && checksumsFor(checksums, isa)) }];
      return [isa.name, { kind, path }];
    }),
  );
  return { name, kind, isas, refs, optional, unavailable };
}

function readName(reader: FieldReader, entries: Map<string, Field>, at: Field, kind: ImageKind): string | undefined {
  if (!entries.has('name') && kind === 'built') return 'built';
  const field = reader.required(entries, 'name', at, 'a name for the image, used in reports and filters');
  if (!field) return undefined;
  const name = reader.string(field, 'an image name');
  if (name === undefined || IMAGE_NAME.test(name)) return name;
  return reader.report(field, `'${name}' is not a usable image name; use letters, digits, '.', '_' and '-'`);
}

/** The image's ISAs that the matrix covers; none is an error. */
function coveredIsas(reader: FieldReader, at: Field, matrixIsas: readonly Isa[]): Isa[] {
  const listed = readIsas(reader, at);
  const covered = listed.filter((isa) => matrixIsas.includes(isa));
  if (listed.length > 0 && covered.length === 0) {
    reader.report(at, `none of these ISAs is in the matrix's arches (${matrixIsas.map((isa) => isa.name).join(', ')})`);
  }
  return covered;
}

interface Checksums {
  /** Per ISA name, the tarball's expected sha512 (lower-case hex). */
  sha512?: Record<string, string>;
  /** Absolute path or URL of a sha512sum-style file listing the tarballs. */
  sha512sums?: string;
}

/** What one ISA's tarball ref carries of the image's checksums. */
function checksumsFor(checksums: Checksums, isa: Isa): { sha512?: string; sha512sums?: string } {
  const sha512 = checksums.sha512?.[isa.name];
  return { ...(sha512 && { sha512 }), ...(checksums.sha512sums && { sha512sums: checksums.sha512sums }) };
}

/** A registry image: one reference serves every ISA its index holds (found when it is pulled). */
function registryImage(
  reader: FieldReader,
  entries: Map<string, Field>,
  at: Field,
  image: Pick<ImageSpec, 'name' | 'isas' | 'optional'>,
): ImageSpec | undefined {
  const text = reader.string(at, 'a registry reference, host[:port]/repository:tag');
  if (text === undefined) return undefined;
  if (hasArch(text)) return reader.report(at, "a registry reference names an index of every platform: leave {arch} out");
  const ref = parseRegistryRef(text);
  if (!ref) return reader.report(at, `'${text}' is not a registry reference; write host[:port]/repository:tag or host/repository@sha256:<hex>`);
  const tlsField = entries.get('tls_verify');
  const tlsVerify = (tlsField && reader.boolean(tlsField)) ?? !isLocalRegistry(ref.host);
  const refs = Object.fromEntries(image.isas.map((isa) => [isa.name, { kind: 'registry', reference: ref.reference, tlsVerify } as const]));
  return { ...image, kind: 'registry', refs, unavailable: {} };
}

function readChecksums(
  reader: FieldReader,
  entries: Map<string, Field>,
  at: Field,
  context: ImageContext & { unavailable?: Record<string, string> },
): Checksums {
  const sumsField = entries.get('sha512sums');
  const hashField = entries.get('sha512');
  if (sumsField && hashField) reader.report(at, 'give sha512 or sha512sums, not both');
  if (sumsField) {
    const template = reader.string(sumsField, 'a path or URL of a sha512sum file');
    if (template === undefined) return {};
    if (hasArch(template)) return reader.report(sumsField, 'one sha512sums file lists every tarball: leave {arch} out') ?? {};
    if (isHttpUrl(template)) return { sha512sums: template };
    const paths = locate(reader, sumsField, template, { ...context, kind: 'file' });
    return { sha512sums: Object.values(paths)[0] };
  }
  if (!hashField) return {};
  if (isScalar(hashField.node)) {
    const hash = readHash(reader, hashField);
    if (context.isas.length > 1) reader.report(hashField, 'the image serves several ISAs: give sha512 per ISA, e.g. {x86_64: <hex>, aarch64: <hex>}');
    return hash ? { sha512: { [context.isas[0]!.name]: hash } } : {};
  }
  const sha512: Record<string, string> = {};
  const given = new Set<string>();
  for (const [key, field] of reader.pairs(hashField, 'ISA: sha512') ?? []) {
    const isa = isaNamed(reader, field, key);
    const hash = readHash(reader, field);
    if (isa) given.add(isa.name);
    if (isa && hash) sha512[isa.name] = hash;
  }
  for (const isa of context.isas) {
    if (!given.has(isa.name)) reader.report(hashField, `no sha512 for ${isa.name}; give one for each ISA the image serves`);
  }
  return { sha512 };
}

function readHash(reader: FieldReader, at: Field): string | undefined {
  const hash = reader.string(at, 'a sha512 (128 hex digits)');
  if (hash === undefined || SHA512.test(hash)) return hash?.toLowerCase();
  return reader.report(at, `'${hash}' is not a sha512: expected 128 hex digits, got ${hash.length} characters`);
}
