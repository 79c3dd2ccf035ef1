// Reporters over a realistic run: JUnit checked by the real xmllint against the Jenkins schema
// and read back by Debian's junitparser; results.json round trip; summary table; progress.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HarnessError } from '../harness/errors.ts';
import { REPO_ROOT } from '../harness/paths.ts';
import type { CaseResult, RunResults } from '../harness/results.ts';
import { readResultsJson, writeResultsJson } from '../harness/report/json.ts';
import { junitXml, truncateOutput, writeJunit, xmlSafe } from '../harness/report/junit.ts';
import { createProgress, progressMode, type ProgressMode } from '../harness/report/progress.ts';
import { exitCodeFor, formatSummaryTable, summarize } from '../harness/report/summary.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/report/run-results.json', import.meta.url));
const SCHEMA = join(REPO_ROOT, '..', 'shared', 'schemas', 'junit-10.xsd');
const BIG_OUTPUT = 'yes\n'.repeat(30_000);

/** The fixture plus one case whose output is too big to attach whole. */
async function loadRun(): Promise<RunResults> {
  const run = await readResultsJson(FIXTURE);
  const big = run.results.find((r) => r.case === 'big-output') as CaseResult;
  (big.attempts[0] as CaseResult['attempts'][number]).stdout = BIG_OUTPUT;
  return run;
}

async function succeeds(file: string, args: string[]): Promise<boolean> {
  const result = await execa(file, args, { reject: false });
  return !result.failed;
}

const xmllintMissing = !(await succeeds('xmllint', ['--version']));
const schemaMissing = !existsSync(SCHEMA);
// pyenv's python3 may shadow Debian's, which is the one with python3-junitparser.
const junitPython = await (async () => {
  for (const python of ['python3', '/usr/bin/python3']) {
    if (await succeeds(python, ['-c', 'import junitparser'])) return python;
  }
  return undefined;
})();
if (xmllintMissing) console.warn('report.test: xmllint missing (apt-get install libxml2-utils): schema test skipped');
if (schemaMissing) console.warn(`report.test: ${SCHEMA} missing: schema test skipped`);
if (!junitPython) console.warn('report.test: no python3 with junitparser (apt-get install python3-junitparser): parse test skipped');

// Prints, per <testsuite>, its counts and properties and its cases' results, as JSON.
const JUNITPARSER_DUMP = `
import json, sys
from junitparser import JUnitXml
xml = JUnitXml.fromfile(sys.argv[1])
suites = []
for suite in xml:
    suites.append({
        "name": suite.name, "tests": suite.tests, "failures": suite.failures,
        "errors": suite.errors, "skipped": suite.skipped, "time": suite.time,
        "properties": {p.name: p.value for p in suite.properties()},
        "cases": [{"classname": c.classname, "name": c.name, "time": c.time,
                   "results": [{"kind": type(r).__name__, "message": r.message, "type": r.type} for r in c.result],
                   "out": c.system_out, "err": c.system_err} for c in suite],
    })
print(json.dumps({"tests": xml.tests, "failures": xml.failures, "errors": xml.errors, "skipped": xml.skipped, "suites": suites}))
`;

interface ParsedCase {
  classname: string;
  name: string;
  time: number;
  results: Array<{ kind: string; message: string | null; type: string | null }>;
  out: string | null;
  err: string | null;
}
interface ParsedSuite {
  name: string;
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  properties: Record<string, string>;
  cases: ParsedCase[];
}

describe('JUnit report', () => {
  let dir: string;
  let run: RunResults;
  let junitPath: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'report-test-'));
    run = await loadRun();
    junitPath = join(dir, 'nested', 'run-1', 'junit.xml');
    await writeJunit(run, junitPath);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes atomically into a new directory, leaving no temp file', async () => {
    expect(await readdir(join(dir, 'nested', 'run-1'))).toEqual(['junit.xml']);
    expect(await readFile(junitPath, 'utf8')).toBe(`${junitXml(run)}\n`);
  });

  it('fails with a HarnessError naming the path when the directory cannot be made', async () => {
    const blocker = join(dir, 'a-file');
    await writeFile(blocker, '');
    const target = join(blocker, 'junit.xml');
    await expect(writeJunit(run, target)).rejects.toThrow(HarnessError);
    await expect(writeJunit(run, target)).rejects.toThrow(target);
  });

  it.skipIf(xmllintMissing || schemaMissing)('validates against the Jenkins junit-10.xsd with xmllint, also when empty', async () => {
    const emptyPath = join(dir, 'empty.xml');
    await writeJunit({ ...run, results: [] }, emptyPath);
    for (const path of [junitPath, emptyPath]) {
      const result = await execa('xmllint', ['--noout', '--schema', SCHEMA, path], { reject: false });
      expect(result.stderr).toBe(`${path} validates`);
      expect(result.exitCode).toBe(0);
    }
  });

  it.skipIf(!junitPython)('is read by junitparser with every count equal to summarize()', async () => {
    const { stdout } = await execa(junitPython as string, ['-c', JUNITPARSER_DUMP, junitPath]);
    const parsed = JSON.parse(stdout) as { tests: number; failures: number; errors: number; skipped: number; suites: ParsedSuite[] };

    const { totals } = summarize(run);
    expect(parsed).toMatchObject({
      tests: totals.total,
      failures: totals.failed,
      errors: totals.error,
      skipped: totals.skipped + totals.known,
    });

    // One <testsuite> per image x ISA x suite, each counted like summarize() of that image's results.
    const images = [...new Set(run.results.map((r) => r.image))];
    const expected = images.flatMap((image) =>
      summarize({ ...run, results: run.results.filter((r) => r.image === image) }).rows.map((row) => ({
        name: `${row.suite}.${row.isa} [${image}]`,
        tests: row.total,
        failures: row.failed,
        errors: row.error,
        skipped: row.skipped + row.known,
        properties: { isa: row.isa, image, kernel: run.properties.kernel, 'harness.version': run.properties.harnessVersion },
      })),
    );
    expect(parsed.suites).toHaveLength(expected.length);
    for (const want of expected) {
      const image = want.properties.image;
      const suite = parsed.suites.find((s) => s.name === want.name);
      expect(suite, want.name).toMatchObject(want);
      const isaFacts = run.properties.isas[want.properties.isa];
      expect(suite?.properties['qemu.version']).toBe(isaFacts?.qemuVersion);
      expect(suite?.properties['binfmt.flags']).toBe(isaFacts?.binfmtFlags);
      expect(suite?.properties['image.digest']).toMatch(/^sha256:[0-9a-f]{64}$/);
      // Two images in the run: the image is in the classname, so GitLab keeps both images' cases.
      for (const testCase of suite?.cases ?? []) expect(testCase.classname).toBe(`${want.name.split(' ')[0]}.${image}`);
    }

    const cases = new Map(parsed.suites.flatMap((s) => s.cases.map((c) => [`${c.classname}/${c.name}`, c] as const)));
    const sed = cases.get('busybox.aarch64.built/sed-binary') as ParsedCase;
    expect(sed.results).toEqual([{ kind: 'Failure', type: 'mismatch', message: expect.stringContaining('exit code: expected 0, got 1') }]);
    // Both "]]>" survive; control characters arrive as visible escapes, not dropped.
    expect(sed.out).toBe('a]]>b\\x1b[0m\\x00 end ]]> again\\x07\\x0c\r\n');
    expect(sed.err).toBe('sed: bad \\x01 input\\ufffe\n');

    const known = cases.get('busybox.s390x.built/date-utc') as ParsedCase;
    expect(known.results).toEqual([
      { kind: 'Skipped', type: null, message: 'known failure: qemu-s390x 7.2 returns EINVAL for clock_nanosleep (https://gitlab.com/qemu-project/qemu/-/issues/1234)' },
    ]);
    expect(known.err).toContain('Invalid argument');
    expect(cases.get('busybox.x86_64.built/wget-usage')?.results[0]?.message).toBe('applet wget compiled out of this image');
    expect(cases.get('musl.aarch64.built/getaddrinfo')?.results).toEqual([{ kind: 'Error', type: 'harness-error', message: expect.stringContaining('EBUSY') }]);
    expect(cases.get('musl.s390x.built/dlopen-static')?.results[0]?.type).toBe('signal');

    const flaky = cases.get('musl.s390x.built/threads-join') as ParsedCase;
    expect(flaky.results).toEqual([]);
    expect(flaky.out).toBe('flaky: passed after 2 attempts\nattempt 1: timed out (60.000 s)\nattempt 2: exit 0 (0.800 s)');
    expect(flaky.time).toBe(60.8);
    expect(cases.get('busybox.aarch64.built/ping-localhost')?.out).toContain('unexpectedly passing');

    const big = cases.get('musl.x86_64.built/big-output') as ParsedCase;
    expect(big.results[0]?.type).toBe('timeout');
    expect(big.out).toBe(truncateOutput(BIG_OUTPUT));
    expect(big.out?.length).toBeLessThan(BIG_OUTPUT.length);
  });
});

describe('output escaping', () => {
  it('escapes what XML 1.0 forbids and keeps tab, newline, CR and astral characters', () => {
    expect(xmlSafe('a\u0000b\u001bc\td\ne\rf\uFFFFg\uD800h😀')).toBe('a\\x00b\\x1bc\td\ne\rf\\uffffg\\ud800h😀');
  });

  it('keeps short output whole and says how much of long output was cut', () => {
    expect(truncateOutput('short\n')).toBe('short\n');
    const cut = truncateOutput(BIG_OUTPUT);
    const dropped = Number(/\[\.\.\. (\d+) characters truncated \.\.\.\]/.exec(cut)?.[1]);
    expect(cut.length - `\n[... ${dropped} characters truncated ...]\n`.length + dropped).toBe(BIG_OUTPUT.length);
    expect(cut.endsWith(BIG_OUTPUT.slice(-1000))).toBe(true);
  });
});

describe('results.json', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'report-json-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips a run exactly, atomically', async () => {
    const run = await loadRun();
    const path = join(dir, 'out', 'results.json');
    await writeResultsJson(run, path);
    expect(await readdir(join(dir, 'out'))).toEqual(['results.json']);
    expect(await readResultsJson(path)).toEqual(run);
  });

  it.each([
    ['missing file', undefined, /cannot read results .*ENOENT/],
    ['not JSON', '{ nope', /not valid JSON/],
    ['another schema version', JSON.stringify({ schemaVersion: 2, properties: {}, results: [] }), /schemaVersion: expected 1, got 2/],
    ['a bad verdict', 'bad-verdict', /results\[0\]\.verdict: expected one of passed, failed/],
  ])('rejects %s with a HarnessError naming the path', async (label, content, pattern) => {
    const path = join(dir, `${label.replaceAll(' ', '-')}.json`);
    if (content === 'bad-verdict') {
      const run = await readResultsJson(FIXTURE);
      await writeFile(path, JSON.stringify({ ...run, results: [{ ...run.results[0], verdict: 'maybe' }] }));
    } else if (content !== undefined) {
      await writeFile(path, content);
    }
    const error = await readResultsJson(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HarnessError);
    expect((error as HarnessError).message).toContain(path);
    expect((error as HarnessError).message).toMatch(pattern);
  });
});

describe('summary', () => {
  it('counts each verdict once per ISA x suite, in ISA table order', async () => {
    const summary = summarize(await loadRun());
    // The fixture holds 21 cases: 13 passes (one flaky, one known failure now passing), 3 failures,
    // 1 error, 3 skips and 1 known failure.
    expect(summary.totals).toMatchObject({ total: 21, passed: 13, failed: 3, error: 1, skipped: 3, known: 1, flaky: 1, unexpectedlyPassing: 1 });
    expect(summary.rows.map((r) => `${r.isa}/${r.suite}`)).toEqual([
      'x86_64/busybox', 'x86_64/musl', 'aarch64/busybox', 'aarch64/musl', 's390x/busybox', 's390x/musl',
    ]);
    for (const key of ['total', 'passed', 'failed', 'error', 'skipped', 'known', 'flaky', 'durationMs'] as const) {
      expect(summary.rows.reduce((sum, row) => sum + row[key], 0)).toBe(summary.totals[key]);
    }
    expect(summary.unexpectedPasses.map((r) => r.case)).toEqual(['ping-localhost']);
  });

  it('formats an aligned table with totals and names unexpected passes', async () => {
    const summary = summarize(await loadRun());
    const lines = formatSummaryTable(summary).split('\n');
    const header = lines[0] as string;
    expect(header.split(/\s+/)).toEqual(['ISA', 'suite', 'tests', 'passed', 'failed', 'errors', 'skipped', 'known', 'emulator-only', 'flaky', 'time']);
    const tableLines = lines.slice(0, summary.rows.length + 4);
    expect(new Set(tableLines.map((l) => l.length)).size).toBe(1);
    // Numbers are right-aligned under their header.
    const failedEnd = header.indexOf('failed') + 'failed'.length;
    summary.rows.forEach((row, i) => {
      const line = lines[i + 2] as string;
      expect(line.startsWith(row.isa)).toBe(true);
      expect(line.slice(0, failedEnd).trimEnd().endsWith(` ${row.failed}`)).toBe(true);
    });
    expect(lines[summary.rows.length + 3]).toMatch(/^total\s+21\s+13\s+3\s+1\s+3\s+1\s+0\s+1\s+\d+\.\ds$/);
    expect(lines.slice(-2)).toEqual([
      'unexpectedly passing (known failures that now pass; not a failure): 1',
      '  aarch64 busybox/ping-localhost: raw sockets unsupported under qemu-user (https://example.invalid/known/17)',
    ]);
  });

  it('exits 1 on failures or errors, 0 when only known failures (passing or not) remain', async () => {
    const run = await loadRun();
    expect(exitCodeFor(run)).toBe(1);
    const withoutFailures = { ...run, results: run.results.filter((r) => r.verdict !== 'failed') };
    expect(exitCodeFor(withoutFailures)).toBe(1);
    const clean = { ...run, results: withoutFailures.results.filter((r) => r.verdict !== 'error') };
    expect(clean.results.some((r) => r.verdict === 'known-failure')).toBe(true);
    expect(exitCodeFor(clean)).toBe(0);
  });
});

/** A stream that keeps what is written to it. */
function captureStream(): { stream: NodeJS.WritableStream; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

function totalsOf(run: RunResults): Record<string, Record<string, number>> {
  const totals: Record<string, Record<string, number>> = {};
  for (const row of summarize(run).rows) (totals[row.isa] ??= {})[row.suite] = row.total;
  return totals;
}

/** Feeds every result of the run to a progress display in `mode`; returns what it wrote. */
async function progressOutput(run: RunResults, mode: ProgressMode): Promise<string> {
  const { stream, text } = captureStream();
  const totals = totalsOf(run);
  const progress = await createProgress({ isas: Object.keys(totals), totals, mode, stream });
  for (const result of run.results) progress.caseDone(result);
  progress.stop();
  return text();
}

describe('progress', () => {
  it('picks live redraws only for an interactive terminal outside CI', () => {
    expect(progressMode({}, true, false)).toBe('tty');
    expect(progressMode({ CI: 'true' }, true, false)).toBe('plain');
    expect(progressMode({ TERM: 'dumb' }, true, false)).toBe('plain');
    expect(progressMode({}, false, false)).toBe('plain');
    expect(progressMode({}, true, true)).toBe('quiet');
  });

  it('plain mode prints failures as they happen and one line per finished ISA x suite', async () => {
    const run = await loadRun();
    const output = await progressOutput(run, 'plain');
    const lines = output.trimEnd().split('\n');
    const summary = summarize(run);
    expect(lines.filter((l) => l.startsWith('FAIL '))).toHaveLength(summary.totals.failed);
    expect(lines.filter((l) => l.startsWith('ERROR '))).toHaveLength(summary.totals.error);
    expect(lines).toContain('FAIL aarch64 busybox/sed-binary: exit code: expected 0, got 1');
    // Under a FAIL line, the first lines of its diff, indented.
    const sedIndex = lines.indexOf('FAIL aarch64 busybox/sed-binary: exit code: expected 0, got 1');
    expect(lines.slice(sedIndex + 1, sedIndex + 6)).toEqual(['    stdout differs:', '    --- expected', '    +++ got', '    @@ -1 +1 @@', '    -a]]>b']);
    const suiteLines = lines.filter((l) => !/^(FAIL|ERROR) |^ {4}/.test(l));
    expect(suiteLines).toHaveLength(summary.rows.length);
    expect(suiteLines).toContain('s390x musl: 3 tests: 2 passed, 1 failed, 1 flaky (62.4 s)');
    // A suite's line comes after its last case, not before.
    const lastSedIndex = lines.indexOf('FAIL aarch64 busybox/sed-binary: exit code: expected 0, got 1');
    expect(lines.findIndex((l) => l.startsWith('aarch64 busybox:'))).toBeGreaterThan(lastSedIndex);
  });

  it('tty mode ends showing every ISA done, with its failures', async () => {
    const run = await loadRun();
    const output = await progressOutput(run, 'tty');
    for (const isa of Object.keys(totalsOf(run))) {
      const rows = summarize(run).rows.filter((r) => r.isa === isa);
      const total = rows.reduce((sum, r) => sum + r.total, 0);
      const failed = rows.reduce((sum, r) => sum + r.failed + r.error, 0);
      expect(output).toMatch(new RegExp(`${isa} +${total}/${total}  ${failed} failed`));
    }
  });

  it('quiet mode prints nothing', async () => {
    expect(await progressOutput(await loadRun(), 'quiet')).toBe('');
  });
});
