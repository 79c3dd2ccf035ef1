// The musl suite: static musl binaries need nothing else, on every ISA. Each probe in
// probes.ts runs twice: in the image, and in an empty root holding only the binary and its
// files. Unlike other suites it compiles its probes first (with the ISA's toolchain from
// the context, cached), since the binaries are what it tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CaseFile, TestCase } from '../../case.ts';
import { HarnessError } from '../../errors.ts';
import type { Isa } from '../../isa.ts';
import type { Suite } from '../suite.ts';
import { compilePrograms, PROBES_DIR } from './compile.ts';
import { guestPath, PROBES, type Probe, programNames } from './probes.ts';

export const MUSL_SUITE_NAME = 'musl';
const DEFAULT_TIMEOUT_SECONDS = 30;
export const EMPTY_ROOT_SUFFIX = ' [empty root]';

/** What a probe must print, from probes/<name>.expected, for every crossIsa probe (read at once: every ISA's plan reads them). */
export function readExpectedOutputs(probes: readonly Probe[] = PROBES): Map<string, string> {
  const outputs = new Map<string, string>();
  for (const probe of probes.filter((p) => p.crossIsa)) {
    const path = join(PROBES_DIR, `${probe.name}.expected`);
    try {
      outputs.set(probe.name, readFileSync(path, 'utf8'));
    } catch {
      throw new HarnessError(`musl suite: ${path} is missing: write the output every ISA must print, or mark '${probe.name}' crossIsa: false`);
    }
  }
  return outputs;
}

function expectation(probe: Probe, isa: Isa, expected: ReadonlyMap<string, string>): TestCase['expect'] {
  if (probe.crossIsa) {
    const stdout = expected.get(probe.name);
    if (stdout === undefined) throw new HarnessError(`musl suite: no expected output for '${probe.name}': pass readExpectedOutputs() of the same probes`);
    return { exitCode: 0, stdout };
  }
  return { exitCode: 0, ...(probe.stdoutMatches ? { stdoutMatches: probe.stdoutMatches(isa) } : {}) };
}

/**
 * The cases of one ISA (pure). Without binaries (no toolchain) every case is skipped with
 * `skip` as the reason.
 */
export function probeCases(
  isa: Isa,
  source: { binaries: ReadonlyMap<string, string> } | { skip: string },
  expected: ReadonlyMap<string, string>,
  probes: readonly Probe[] = PROBES,
): TestCase[] {
  return probes.flatMap((probe) =>
    [false, true].map((emptyRoot): TestCase => {
      const files: CaseFile[] = [...(probe.files ?? []), ...(emptyRoot ? (probe.emptyRootFiles ?? []) : [])];
      const hostFiles = 'binaries' in source
        ? Object.fromEntries([probe.name, ...(probe.helpers ?? [])].map((name) => [guestPath(name), binaryOf(source.binaries, name)]))
        : undefined;
      return {
        name: emptyRoot ? `${probe.name}${EMPTY_ROOT_SUFFIX}` : probe.name,
        suite: MUSL_SUITE_NAME,
        argv: [guestPath(probe.name), ...(probe.args?.(isa) ?? [])],
        ...(files.length ? { files } : {}),
        ...(hostFiles ? { hostFiles } : {}),
        expect: expectation(probe, isa, expected),
        timeoutSeconds: probe.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
        crossIsa: probe.crossIsa,
        source: { file: join(PROBES_DIR, `${probe.name}.c`) },
        ...(emptyRoot ? { emptyRoot } : {}),
        ...('skip' in source ? { skip: source.skip } : {}),
      };
    }),
  );
}

function binaryOf(binaries: ReadonlyMap<string, string>, name: string): string {
  const path = binaries.get(name);
  if (!path) throw new HarnessError(`musl suite: no compiled binary for '${name}': compile programNames() of the probes`);
  return path;
}

export const muslSuite: Suite = {
  name: MUSL_SUITE_NAME,
  description: 'static musl binaries need nothing else: C probes of libc promises, run in the image and in an empty root',
  async cases(ctx) {
    const wanted = ctx.wanted ?? (() => true);
    const probes = PROBES.filter((probe) => wanted(probe.name) || wanted(`${probe.name}${EMPTY_ROOT_SUFFIX}`));
    const expected = readExpectedOutputs(probes);
    if (!ctx.toolchain) {
      return probeCases(ctx.isa, { skip: `no musl toolchain for ${ctx.isa.name}: build the ${ctx.isa.name} image first, its sysroot compiles the probes` }, expected, probes);
    }
    const { binaries } = await compilePrograms(programNames(probes), { isa: ctx.isa, toolchain: ctx.toolchain });
    return probeCases(ctx.isa, { binaries }, expected, probes);
  },
  estimatedCases: () => PROBES.length * 2,
};
