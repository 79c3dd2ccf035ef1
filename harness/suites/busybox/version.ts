// Which BusyBox versions a row holds for (`busybox: '>=1.31'`), checked against the version
// in the image's banner ("BusyBox v1.35.0 (2022-06-01 00:00:00 UTC) multi-call binary.").
// Output formats drift between releases; a row written for one holds only where it applies.
// The functions' own modules, not the whole package: this is on the path of every start.
import coerce from 'semver/functions/coerce.js';
import satisfies from 'semver/functions/satisfies.js';
import validRange from 'semver/ranges/valid.js';

/** The version in a BusyBox banner ("1.35.0"; "1.37.0.git" reads as 1.37.0), or undefined when there is none. */
export function parseBusyboxBanner(text: string): string | undefined {
  const match = /BusyBox v(\d+\.\d+(?:\.\d+)?)[^\s]*/.exec(text);
  return match?.[1] ? coerce(match[1])?.version : undefined;
}

/** True when `range` is one semver range of BusyBox versions, e.g. '>=1.31' or '>=1.31 <1.36'. */
export function isVersionRange(range: string): boolean {
  return range.trim() !== '' && validRange(range) !== null;
}

/** Answers by `range version`: every ISA's plan asks the same few (a range is parsed anew each time). */
const satisfied = new Map<string, boolean>();

/** Why a row that holds for `range` does not apply to BusyBox `version`, or undefined when it does (or the version is unknown). */
export function versionSkipReason(range: string | undefined, version: string | undefined): string | undefined {
  if (range === undefined || version === undefined) return undefined;
  const key = `${range} ${version}`;
  let holds = satisfied.get(key);
  if (holds === undefined) satisfied.set(key, (holds = satisfies(version, range)));
  return holds ? undefined : `holds for BusyBox ${range}; this image has BusyBox ${version}`;
}
