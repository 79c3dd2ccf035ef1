// The suites: section of a matrix: which suites run and their settings, normalised (sizes in
// bytes, paths absolute) and checked (a missing path is an error unless the suite is optional).
import { resolve } from 'node:path';
import type { Isa } from '../isa.ts';
import { unknownMessage, type Field, type FieldReader } from './fields.ts';
import { readLimits } from './limits.ts';
import { locate, PATH_HINT } from './paths.ts';
import { SUITE_NAMES, SUITE_SETTINGS, type SettingKind, type SettingSpec, type SuiteName, type SuiteSpec } from './schema.ts';
import { parseSize } from './units.ts';

export function readSuites(reader: FieldReader, at: Field, context: { baseDir: string; isas: readonly Isa[] }): SuiteSpec[] {
  const entries = reader.map(at, SUITE_NAMES, { noun: 'suite' });
  if (!entries) return [];
  if (entries.size === 0) reader.report(at, `name at least one suite: ${SUITE_NAMES.join(', ')}`);
  return [...entries].map(([name, field]) => readSuite(reader, field, name as SuiteName, context));
}

function readSuite(reader: FieldReader, at: Field, name: SuiteName, context: { baseDir: string; isas: readonly Isa[] }): SuiteSpec {
  const specs = SUITE_SETTINGS[name];
  // optional only means something where a path can be absent.
  const hasPath = specs.some((spec) => spec.kind === 'path' || spec.kind === 'file');
  const entries = reader.map(at, [...specs.map((spec) => spec.key), ...(hasPath ? ['optional'] : []), 'limits'], { emptyIsMap: true }) ?? new Map<string, Field>();
  const limitsField = entries.get('limits');
  const limits = limitsField && readLimits(reader, limitsField, 'suite');
  const optionalField = entries.get('optional');
  const optional = (optionalField && reader.boolean(optionalField)) ?? false;
  const unavailable: Record<string, string> = {};
  const settings: Record<string, unknown> = {};
  for (const spec of specs) {
    const field = spec.required ? reader.required(entries, spec.key, at, SETTING_HINTS[spec.kind]) : entries.get(spec.key);
    if (!field) continue;
    const value = readSetting(reader, field, spec, { ...context, unavailable: optional ? unavailable : undefined });
    if (value !== undefined) settings[spec.as] = value;
  }
  return { name, settings, optional, unavailable, ...(limits && { limits }) };
}

const SETTING_HINTS: Readonly<Record<SettingKind, string>> = {
  path: "a directory per ISA, e.g. path: './static/{arch}'",
  file: "a file per ISA, e.g. config: './busybox-{arch}.config'",
  size: 'a size, e.g. 1.2MB',
  names: 'a list of names, e.g. [sed, cut]',
  count: 'a whole number of at least 1',
  choice: 'one of the allowed values',
};

function readSetting(
  reader: FieldReader,
  at: Field,
  spec: SettingSpec,
  context: { baseDir: string; isas: readonly Isa[]; unavailable?: Record<string, string> },
): unknown {
  switch (spec.kind) {
    case 'size':
      return reader.measure(at, SETTING_HINTS.size, parseSize);
    case 'count':
      return reader.integer(at, 1, SETTING_HINTS.count);
    case 'names': {
      // Unquoted, `true` and `false` (applets too) parse as booleans: take them as written.
      const names = (reader.list(at, 'names', true) ?? []).map((item) => {
        const value = reader.scalar(item, 'a name');
        return value === undefined ? undefined : String(value);
      });
      return names.every((name) => name !== undefined) ? names : undefined;
    }
    case 'choice': {
      const value = reader.string(at, spec.choices!.join(' or '));
      if (value === undefined || spec.choices!.includes(value)) return value;
      return reader.report(at, unknownMessage('value', value, spec.choices!));
    }
    case 'path':
    case 'file': {
      const template = reader.string(at, PATH_HINT);
      if (template === undefined) return undefined;
      locate(reader, at, template, { ...context, kind: spec.kind === 'file' ? 'file' : 'directory' });
      return resolve(context.baseDir, template);
    }
  }
}
