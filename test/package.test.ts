// The harness as users install it: `npm pack`, then `npm install -g` of the tarball into a
// temp prefix, then its `harness` command run from outside the repository. The package must
// carry compiled JavaScript (no TypeScript compiled at start), matrices, recipes and suites,
// and no tests, benchmarks or TypeScript sources.
import { mkdtemp, readdir, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harnessVersion, REPO_ROOT } from '../harness/paths.ts';

let scratch: string;
let prefix: string;
let installed: string;

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'harness-package-'));
  prefix = join(scratch, 'prefix');
  // pack runs `prepare`, which compiles the JavaScript the package ships.
  const packed = await execa('npm', ['pack', '--silent', '--pack-destination', scratch], { cwd: REPO_ROOT });
  const tarball = join(scratch, packed.stdout.trim().split('\n').pop()!);
  // Dependencies come from the npm cache that `npm ci` filled; the registry only when missing.
  await execa('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: scratch });
  installed = join(prefix, 'lib', 'node_modules', 'alpine-qemu-harness');
});

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('ships compiled JavaScript, matrices, recipes and suites, and no sources, tests or benchmarks', async () => {
    const files = await filesUnder(installed);
    const own = files.filter((f) => !f.startsWith('node_modules/'));
    expect(own.filter((f) => f.endsWith('.ts'))).toEqual([]);
    expect(own.filter((f) => /^(test|bench|\.ci)\//.test(f))).toEqual([]);
    expect(own).not.toContain('harness/bundle.mjs');
    // Code caches are left by runs, one per command: none was packed from the checkout's.
    expect(own.filter((f) => f.endsWith('.v8-cache'))).toEqual([]);
    for (const needed of [
      'harness/launcher.sh', 'harness/bin.mjs', 'harness/bundle/cli.cjs', 'harness/cli.js', 'harness/run.js', 'harness/.build-stamp', 'harness/sandbox/sandbox-run.c',
      'harness/suites/busybox/cases.yaml', 'harness/suites/musl/probes/iconv.c', 'images/build.js', 'images/busybox.config',
      'images/rootfs/etc/passwd', 'matrices/default.yaml', 'package.json',
    ]) {
      expect(own).toContain(needed);
    }
    // Nothing compiles TypeScript at start, so tsx is not among what an install brings.
    expect(files.some((f) => f.startsWith('node_modules/tsx/'))).toBe(false);
  });

  it('runs `harness --version` and `harness list` from any directory, on compiled JavaScript alone', async () => {
    const harness = join(prefix, 'bin', 'harness');
    // HARNESS_REQUIRE_COMPILED: fail rather than fall back to compiling the sources.
    const env = { HARNESS_REQUIRE_COMPILED: '1' };
    const version = await execa(harness, ['--version'], { cwd: scratch, env });
    expect(version.stdout.trim()).toBe(harnessVersion());
    // The command is launcher.sh, found through npm's link to it.
    expect(await realpath(harness)).toBe(join(installed, 'harness', 'launcher.sh'));
    const list = await execa(harness, ['list', '--arch', 'aarch64', '--suite', 'image'], { cwd: scratch, env, reject: false });
    expect(list.stderr).toBe('');
    expect(list.exitCode).toBe(0);
    // The default matrix, found inside the package; its image cases once the image is built.
    expect(list.stdout).toMatch(/^\d+ cases in \d+ jobs/m);
    expect(list.stdout).toMatch(/^aarch64 +built +image\/|not built yet .*: aarch64/m);
    // Each command's first run left its code cache beside the bundle; the second run takes it.
    expect((await readdir(join(installed, 'harness', 'bundle'))).sort()).toEqual(['cli.cjs', 'list.v8-cache', 'options.v8-cache']);
    const again = await execa(harness, ['list', '--arch', 'aarch64', '--suite', 'image'], { cwd: scratch, env });
    expect(again.stdout).toBe(list.stdout);
  });
});
