// The static suite with a manifest: real binaries compiled with the cached musl toolchains,
// run under qemu-user on aarch64 and s390x: arguments, environment, working directory and
// stdin; a per-binary timeout; an expected non-zero exit and an expected signal; a per-ISA
// skip; known failures from the manifest and from the suite's own known-failures.yaml; an
// empty root; a dynamic binary failed as "not static"; binaries found in subdirectories.
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isaByName, UnknownIsaError } from '../harness/isa.ts';
import type { CaseResult } from '../harness/results.ts';
import { runMatrix, type RunOutcome } from '../harness/run.ts';
import { discoverBinaries, staticCases } from '../harness/suites/static/index.ts';
import { loadManifest } from '../harness/suites/static/manifest.ts';
import { imagesForTest } from './built-images.ts';

const ISAS = ['aarch64', 's390x'];

const PROGRAMS: Record<string, string> = {
  // Prints what it was given: arguments, one variable, its working directory and stdin.
  'bin/args': `#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
  char cwd[256], line[256];
  for (int i = 1; i < argc; i++) printf("arg%d=%s\\n", i, argv[i]);
  printf("GREETING=%s\\n", getenv("GREETING") ? getenv("GREETING") : "(unset)");
  printf("cwd=%s\\n", getcwd(cwd, sizeof cwd) ? cwd : "?");
  if (fgets(line, sizeof line, stdin)) printf("stdin=%s", line);
  return argc == 3 ? 0 : 1;
}
`,
  'bin/deeper/nested/exit3': 'int main(void) { return 3; }\n',
  'bin/abort': '#include <stdlib.h>\nint main(void) { abort(); }\n',
  'hang/forever': '#include <unistd.h>\nint main(void) { for (;;) pause(); }\n',
  'bin/endian': '#include <stdio.h>\nint main(void) { unsigned x = 1; if (*(unsigned char *)&x != 1) { puts("big-endian"); return 1; } puts("little-endian"); return 0; }\n',
  'bin/fails': '#include <stdio.h>\nint main(void) { puts("this one fails on purpose"); return 1; }\n',
  'plain/ok': '#include <stdio.h>\nint main(void) { puts("ok"); return 0; }\n',
};

const MANIFEST = `# The test's manifest: each entry exercises one feature.
empty_root: false
timeout: 20s
binaries:
  - binary: bin/args
    args: [hello, 'two words']
    env: { GREETING: hi }
    cwd: /tmp
    stdin: "fed in\\n"
    empty_root: true
  - binary: bin/deeper/nested/exit3
    exit: 3
  - binary: bin/abort
    signal: SIGABRT
  - binary: hang/forever
    timeout: 1s
    known_failure: { reason: 'hangs on purpose: proves the per-binary timeout' }
  - binary: bin/endian
    skip: { arch: s390x, reason: 'checks little-endian byte order' }
`;

const KNOWN_FAILURES = "- { test: 'bin/fail*', reason: 'the suite ships this failure in its own list' }\n";

const isRoot = process.getuid?.() === 0;
const images = await imagesForTest(ISAS);
const toolchains = new Map([...images].map(([name, { image }]) => [name, image?.toolchain]));
const missing = [...images.values()].flatMap((found) => (found.why ? [found.why] : []));
const realSkip = !isRoot ? 'needs root (namespaces, binfmt)' : missing.length ? missing.join('; ') : '';
if (realSkip) console.warn(`static-suite.test: real runs skipped: ${realSkip}`);

let scratch: string;

async function buildDirectory(isa: string): Promise<string> {
  const { cc, cflags } = toolchains.get(isa)!;
  const dir = join(scratch, 'static', isa);
  for (const [name, source] of Object.entries(PROGRAMS)) {
    const out = join(dir, name);
    await mkdir(dirname(out), { recursive: true });
    await writeFile(`${out}.c`, source);
    await execa(cc, [...cflags, '-static', '-O2', '-o', out, `${out}.c`]);
    await rm(`${out}.c`);
  }
  // The same program linked dynamically against musl: it needs /lib/ld-musl-<arch>.so.1.
  await execa(cc, [...cflags, '-O2', '-o', join(dir, 'plain', 'dynamic'), '-x', 'c', '-'], { input: PROGRAMS['plain/ok'] });
  // Not executable: not a case.
  await writeFile(join(dir, 'plain', 'README'), 'notes\n');
  await writeFile(join(dir, 'static.yaml'), MANIFEST);
  await writeFile(join(dir, 'known-failures.yaml'), KNOWN_FAILURES);
  return dir;
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'static-suite-test-'));
});

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('static suite: manifest', () => {
  it('reports every problem of a manifest at once, with file, line and field', async () => {
    const dir = join(scratch, 'bad');
    await mkdir(join(dir, 'sub'), { recursive: true });
    await writeFile(join(dir, 'sub', 'x'), '');
    await chmod(join(dir, 'sub', 'x'), 0o755);
    await writeFile(join(dir, 'static.yaml'), [
      'timeout: soon',
      'binaries:',
      '  - binary: sub/x',
      '    exit: 3',
      '    signal: SIGNOPE',
      '  - binary: ../outside',
      '  - { binary: sub/missing }',
      '  - { binary: sub/x, skip: { arch: vax, reason: r }, argz: [] }',
    ].join('\n'));
    const file = join(dir, 'static.yaml');
    await expect(loadManifest(dir)).rejects.toThrow([
      `${file}:1: timeout: 'soon' is not a duration; write a number with a unit (ms, s, m, h), e.g. '30s' or '1m30s'`,
      `${file}:5: binaries[0].signal: unknown signal 'SIGNOPE'; e.g. SIGABRT, SIGSEGV, SIGKILL`,
      `${file}:6: binaries[1].binary: '../outside' is not below ${dir}`,
      `${file}:7: binaries[2].binary: ${join(dir, 'sub', 'missing')} does not exist`,
      `${file}:8: binaries[3].argz: unknown key 'argz' (did you mean 'args'?); known: binary, name, args, env, cwd, stdin, timeout, exit, signal, skip, known_failure, allow_dynamic, empty_root`,
      `${file}:8: binaries[3].skip.arch: ${new UnknownIsaError('vax').message}`,
      `${file}:8: binaries[3]: case name 'sub/x' is used twice: give one entry a name`,
    ].join('\n'));
  });
});

describe.skipIf(realSkip)('static suite on aarch64 and s390x with a manifest', () => {
  let outcome: RunOutcome;
  const result = (isa: string, name: string): CaseResult => {
    const found = outcome.results.results.find((r) => r.suite === 'static' && r.isa === isa && r.case === name);
    if (!found) throw new Error(`no result for static/${name} on ${isa}`);
    return found;
  };

  beforeAll(async () => {
    for (const isa of ISAS) await buildDirectory(isa);
    const matrix = join(scratch, 'static.yaml');
    await writeFile(matrix, `arches: [${ISAS.join(', ')}]\nimages: [built]\nsuites:\n  static: { path: './static/{arch}' }\nretries: 0\ntimeouts: { case: 30s }\n`);
    outcome = await runMatrix({ matrixPath: matrix, junitPath: join(scratch, 'out', 'junit.xml'), jsonPath: join(scratch, 'out', 'results.json'), progress: 'quiet' });
  });

  it('finds binaries in subdirectories, and only executable ones', async () => {
    const found = await discoverBinaries(join(scratch, 'static', 'aarch64'));
    expect(found).toEqual(['bin/abort', 'bin/args', 'bin/deeper/nested/exit3', 'bin/endian', 'bin/fails', 'hang/forever', 'plain/dynamic', 'plain/ok']);
    const cases = await staticCases(join(scratch, 'static', 'aarch64'), isaByName('aarch64'), await loadManifest(join(scratch, 'static', 'aarch64')));
    expect(cases.map((c) => c.name)).toEqual(['bin/abort', 'bin/args', 'bin/args [empty root]', 'bin/deeper/nested/exit3', 'bin/endian', 'bin/fails', 'hang/forever', 'plain/dynamic', 'plain/ok']);
  });

  it('passes arguments, environment, working directory and stdin, in the image and in an empty root', () => {
    const expected = 'arg1=hello\narg2=two words\nGREETING=hi\ncwd=/tmp\nstdin=fed in\n';
    for (const isa of ISAS) {
      for (const name of ['bin/args', 'bin/args [empty root]']) {
        expect(result(isa, name), `${isa} ${name}`).toMatchObject({ verdict: 'passed' });
        expect(result(isa, name).attempts[0]!.stdout).toBe(expected);
      }
    }
  });

  it('expects a non-zero exit and a signal where the manifest says so', () => {
    for (const isa of ISAS) {
      expect(result(isa, 'bin/deeper/nested/exit3').verdict).toBe('passed');
      expect(result(isa, 'bin/abort').verdict).toBe('passed');
      expect(result(isa, 'plain/ok').verdict).toBe('passed');
    }
  });

  it("stops a hanging binary at its own timeout (1 s x the ISA's multiplier), not the matrix's 30 s, as its known failure", () => {
    for (const isa of ISAS) {
      const hang = result(isa, 'hang/forever');
      const limit = isaByName(isa).timeoutMultiplier;
      expect(hang).toMatchObject({ verdict: 'known-failure', knownFailure: { reason: 'hangs on purpose: proves the per-binary timeout' } });
      expect(hang.message).toBe(`timed out after ${limit.toFixed(1)} s (whole process tree killed)`);
      expect(hang.durationMs).toBeLessThan(limit * 1000 + 5000);
    }
  });

  it('skips on the ISA the manifest names only, and applies the suite-level known-failures file', () => {
    expect(result('aarch64', 'bin/endian').verdict).toBe('passed');
    expect(result('s390x', 'bin/endian')).toMatchObject({ verdict: 'skipped', message: 'checks little-endian byte order' });
    for (const isa of ISAS) expect(result(isa, 'bin/fails')).toMatchObject({ verdict: 'known-failure', knownFailure: { reason: 'the suite ships this failure in its own list' } });
  });

  it('fails a dynamic binary as not static without running it', () => {
    for (const isa of ISAS) {
      const dynamic = result(isa, 'plain/dynamic');
      expect(dynamic.verdict).toBe('failed');
      expect(dynamic.message).toMatch(new RegExp(`^not static: needs /lib/ld-musl-${isaByName(isa).muslArch}\\.so\\.1`));
      expect(dynamic.attempts).toEqual([]);
    }
    expect(outcome.exitCode).toBe(1);
  });
});
