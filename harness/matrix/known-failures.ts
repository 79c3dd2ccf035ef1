// The known_failures: section: tests expected to fail (on some ISAs or images), each with
// the reason a reader of the report needs.
import type { Field, FieldReader } from './fields.ts';
import { unknownMessage } from './fields.ts';
import { readIsas } from './isa-list.ts';
import { SUITE_NAMES, type KnownFailure } from './schema.ts';

const KEYS = ['test', 'arch', 'image', 'reason', 'link', 'emulator'] as const;
const GLOB_CHARS = /[*?]/;

export function readKnownFailures(reader: FieldReader, at: Field, imageNames: readonly string[]): KnownFailure[] {
  const failures: KnownFailure[] = [];
  for (const item of reader.list(at, 'known failures ({ test, reason, arch?, image?, link?, emulator? })') ?? []) {
    const entries = reader.map(item, KEYS);
    if (!entries) continue;
    const testField = reader.required(entries, 'test', item, "the failing test as '<suite>/<case>' (globs * and ? allowed)");
    const test = testField && readTest(reader, testField);
    const reasonField = reader.required(entries, 'reason', item, 'why it fails, for whoever reads the report (e.g. the QEMU bug)');
    const reason = reasonField && reader.string(reasonField, 'a reason');
    const archField = entries.get('arch');
    const isas = archField && readIsas(reader, archField);
    const image = readImageName(reader, entries.get('image'), imageNames);
    const linkField = entries.get('link');
    const link = linkField && readLink(reader, linkField);
    const emulatorField = entries.get('emulator');
    const emulator = emulatorField && reader.boolean(emulatorField);
    if (test === undefined || reason === undefined || isas?.length === 0) continue;
    failures.push({
      test,
      reason,
      ...(isas && { isas }),
      ...(image !== undefined && { image }),
      ...(link !== undefined && { link }),
      ...(emulator && { emulator }),
    });
  }
  return failures;
}

function readTest(reader: FieldReader, at: Field): string | undefined {
  const test = reader.string(at, "'<suite>/<case>'");
  if (test === undefined) return undefined;
  const slash = test.indexOf('/');
  if (slash <= 0 || slash === test.length - 1) return reader.report(at, `'${test}' is not '<suite>/<case>' (globs * and ? allowed), e.g. 'musl/robust-mutex'`);
  const suite = test.slice(0, slash);
  if (!GLOB_CHARS.test(suite) && !(SUITE_NAMES as readonly string[]).includes(suite)) return reader.report(at, unknownMessage('suite', suite, SUITE_NAMES));
  return test;
}

function readImageName(reader: FieldReader, at: Field | undefined, imageNames: readonly string[]): string | undefined {
  const name = at && reader.string(at, 'an image name');
  if (name === undefined || imageNames.includes(name)) return name;
  return reader.report(at!, unknownMessage('image', name, imageNames));
}

export function readLink(reader: FieldReader, at: Field): string | undefined {
  const link = reader.string(at, 'a URL');
  if (link === undefined || /^https?:\/\/\S+$/.test(link)) return link;
  return reader.report(at, `'${link}' is not an http(s) URL`);
}
