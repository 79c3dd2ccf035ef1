// The static suite: a user's own directory of static binaries for an ISA (matrix setting
// `path`, with {arch} already replaced), searched recursively. Each executable file is a
// case (exit 0 passes), unless static.yaml beside them says more (manifest.ts): arguments,
// environment, timeout, expected exit or signal, per-ISA skips, known failures, an empty
// root. The suite exists to prove the static promise, so a binary with PT_INTERP or
// DT_NEEDED fails as "not static" without running, unless the manifest allows it.
import { accessSync, constants } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { TestCase } from '../../case.ts';
import { elfMismatch, NotElfError, notStaticReason, readElf } from '../../elf.ts';
import { HarnessError } from '../../errors.ts';
import type { Isa } from '../../isa.ts';
import { globToRegExp } from '../../matrix/plan.ts';
import { EMPTY_ROOT_SUFFIX } from '../musl/index.ts';
import type { Suite } from '../suite.ts';
import { type ArchReason, type BinaryEntry, KNOWN_FAILURES_FILE, loadManifest, type Manifest, MANIFEST_FILE } from './manifest.ts';

const GUEST_DIR = '/opt/static';

/** Synchronous, like readElf's reads: one quick syscall per binary, where a thread-pool hop cost more. */
function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Executable regular files below dir, as sorted relative paths. */
export async function discoverBinaries(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const found: string[] = [];
  for (const entry of entries) {
    if (!entry.isFile() || [MANIFEST_FILE, KNOWN_FAILURES_FILE].includes(entry.name)) continue;
    const path = join(entry.parentPath, entry.name);
    if (isExecutable(path)) found.push(relative(dir, path));
  }
  return found.sort();
}

function appliesTo(entry: ArchReason | undefined, isa: Isa): ArchReason | undefined {
  return entry && (!entry.isas || entry.isas.includes(isa)) ? entry : undefined;
}

/** Why the binary fails before it runs on this ISA: wrong ISA, not ELF or not static (unless allowed). */
async function preflight(path: string, isa: Isa, allowDynamic: boolean): Promise<string | undefined> {
  try {
    const facts = await readElf(path);
    const wrong = elfMismatch(facts, isa);
    if (wrong) return `not a ${isa.name} binary: ${wrong}`;
    const needs = notStaticReason(facts);
    return needs && !allowDynamic ? `not static: ${needs} (set allow_dynamic: true in ${MANIFEST_FILE} to run dynamic binaries)` : undefined;
  } catch (error) {
    if (!(error instanceof NotElfError) || allowDynamic) return undefined;
    return `not a static binary: ${error.message} (a script? set allow_dynamic: true in ${MANIFEST_FILE} to run it with the image's interpreter)`;
  }
}

/** The cases of one binaries directory on one ISA. */
export async function staticCases(dir: string, isa: Isa, manifest: Manifest): Promise<TestCase[]> {
  // Listed binaries count even when not executable: their case then fails, visibly.
  const binaries = [...new Set([...(await discoverBinaries(dir)), ...manifest.entries.map((entry) => entry.binary)])].sort();
  const cases: TestCase[] = [];
  for (const binary of binaries) {
    const listed = manifest.entries.filter((entry) => entry.binary === binary);
    const entries: BinaryEntry[] = listed.length ? listed : [{ binary, name: binary }];
    const host = join(dir, binary);
    const guest = `${GUEST_DIR}/${binary}`;
    for (const entry of entries) {
      const failure = await preflight(host, isa, entry.allowDynamic ?? manifest.allowDynamic);
      const skip = appliesTo(entry.skip, isa);
      const known = appliesTo(entry.knownFailure, isa) ?? manifest.knownFailures.find((k) => appliesTo(k, isa) && globToRegExp(k.test).test(entry.name));
      const roots = entry.emptyRoot ?? manifest.emptyRoot ? [false, true] : [false];
      for (const emptyRoot of roots) {
        cases.push({
          name: emptyRoot ? `${entry.name}${EMPTY_ROOT_SUFFIX}` : entry.name,
          suite: 'static',
          argv: [guest, ...(entry.args ?? [])],
          hostFiles: { [guest]: host },
          ...(entry.env && { env: entry.env }),
          ...(entry.cwd && { cwd: entry.cwd }),
          ...(entry.stdin !== undefined && { stdin: entry.stdin }),
          expect: entry.signal ? { signal: entry.signal } : { exitCode: entry.exitCode ?? 0 },
          ...((entry.timeoutSeconds ?? manifest.timeoutSeconds) !== undefined && { timeoutSeconds: entry.timeoutSeconds ?? manifest.timeoutSeconds }),
          ...(emptyRoot && { emptyRoot }),
          ...(skip && { skip: skip.reason }),
          ...(failure && { failure }),
          ...(known && { knownFailure: { reason: known.reason, ...(known.link && { link: known.link }) } }),
          attachOutput: true,
        });
      }
    }
  }
  return cases;
}

export const staticSuite: Suite = {
  name: 'static',
  description: "a directory of the user's static binaries per ISA (recursive; static.yaml for args, env, timeouts, expected exits, skips, known failures): each must be static and pass",
  async cases(ctx) {
    const dir = ctx.settings.path;
    if (typeof dir !== 'string') throw new HarnessError('static suite: setting path is missing: give suites.static.path in the matrix');
    await readdir(dir).catch(() => {
      throw new HarnessError(`static suite: ${dir}: cannot read the directory of static binaries for ${ctx.isa.name}`);
    });
    return staticCases(dir, ctx.isa, await loadManifest(dir));
  },
};
