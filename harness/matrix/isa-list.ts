// A list of ISAs in a matrix (arches:, an image's arches:, a known failure's arch:), by any
// name findIsa knows, normalised to the ISA table's rows.
import { findIsa, renamedIsaNotice, UnknownIsaError, type Isa } from '../isa.ts';
import type { Field, FieldReader } from './fields.ts';

/** The ISAs named at `at` (a list, or one name), in the order given; unknown and repeated names are reported. */
export function readIsas(reader: FieldReader, at: Field): Isa[] {
  const isas: Isa[] = [];
  for (const item of reader.list(at, 'ISA names', true) ?? []) {
    const name = reader.string(item, 'an ISA name');
    if (name === undefined) continue;
    const isa = isaNamed(reader, item, name);
    if (isa && isas.includes(isa)) reader.report(item, `'${name}' is ${isa.name}, listed already`);
    else if (isa) isas.push(isa);
  }
  return isas;
}

/** The ISA called `name`, or undefined with the unknown-ISA message reported at `at`. */
export function isaNamed(reader: FieldReader, at: Field, name: string): Isa | undefined {
  const isa = findIsa(name);
  if (!isa) return reader.report(at, new UnknownIsaError(name).message);
  const notice = renamedIsaNotice(name, isa);
  if (notice) reader.notice(at, notice);
  return isa;
}
