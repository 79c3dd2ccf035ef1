// Bad input, through the real CLI: each gives exit 2 and one line naming the file, field or
// path, and leaves nothing half-written in the cache (no .tmp-*, no entry). Archives are cut
// from the built aarch64 image's rootfs.tar.gz in every compression the extractor reads. A
// full and a read-only cache are made in a private mount namespace, so the host sees nothing.
// An unexpected exception exits 70 with one line pointing at its trace.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../harness/cli.ts';
import { EXIT_INTERNAL } from '../harness/errors.ts';
import { isaByName } from '../harness/isa.ts';
import { REPO_ROOT } from '../harness/paths.ts';
import { buildImages } from '../images/build.ts';

vi.mock('../harness/commands/list.ts', () => ({
  listCommand: async () => {
    throw new TypeError("Cannot read properties of undefined (reading 'rootfs')");
  },
}));

const BIN = join(REPO_ROOT, 'harness', 'bin.mjs');
const isRoot = process.getuid?.() === 0;
const aarch64 = isaByName('aarch64');

let scratch: string;
let tarGz: string;
/** The built OCI layout of the aarch64 image alone: it has no linux/amd64. */
let ociLayout: string;

/** Runs the CLI with a private cache; returns its exit code, stderr, and what its cache holds under rootfs/. */
async function cli(args: string[], cache: string): Promise<{ exitCode: number; stderr: string; cacheEntries: string[] }> {
  const result = await execa('node', [BIN, ...args], { reject: false, env: { HARNESS_CACHE: cache }, cwd: scratch });
  const cacheEntries = await readdir(join(cache, 'rootfs')).catch(() => [] as string[]);
  return { exitCode: result.exitCode ?? -1, stderr: result.stderr, cacheEntries };
}

async function matrixWith(name: string, image: string): Promise<string> {
  const path = join(scratch, `${name}.yaml`);
  await writeFile(path, `arches: [aarch64]\nimages:\n  - ${image}\nsuites: { image: {} }\n`);
  return path;
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'bad-input-test-'));
  const built = await buildImages({ arches: [aarch64] });
  tarGz = built.images.aarch64!.rootfsTarGz;
  ociLayout = built.ociLayout;
  const plain = join(scratch, 'plain.tar');
  await execa('sh', ['-c', `gzip -dc '${tarGz}' > '${plain}'`]);
  const size = (await readFile(plain)).length;
  const cut = async (name: string, command: string, keep: number) => {
    await execa('sh', ['-c', command.replace('OUT', join(scratch, name))]);
    await truncate(join(scratch, name), keep);
  };
  await cut('truncated.tar.gz', `cp '${tarGz}' OUT`, 200_000);
  await cut('truncated.tar', `cp '${plain}' OUT`, Math.floor(size / 2) + 100);
  await cut('truncated.tar.xz', `xz -1 -c '${plain}' > OUT`, 100_000);
  await cut('truncated.tar.zst', `zstd -q -c '${plain}' > OUT`, 100_000);
  await writeFile(join(scratch, 'empty.tar.gz'), '');
  await writeFile(join(scratch, 'garbage.tar'), Buffer.alloc(3000, 0x41));
  // A tar of end-of-archive blocks only: valid, and holds nothing.
  await writeFile(join(scratch, 'no-members.tar'), Buffer.alloc(10240));
});

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('bad archives: exit 2, one line naming the file, nothing cached', () => {
  const cases: Array<[string, RegExp]> = [
    ['truncated.tar.gz', /truncated\.tar\.gz: the archive is truncated or corrupt \(gzip: unexpected end of file\); fetch it again$/],
    ['truncated.tar', /truncated\.tar: cannot extract: the archive is truncated or corrupt \(Unexpected end of data\); fetch it again$/],
    ['truncated.tar.xz', /truncated\.tar\.xz: the archive is truncated or corrupt \(xz -dc: .*Unexpected end of input\); fetch it again$/],
    ['truncated.tar.zst', /truncated\.tar\.zst: the archive is truncated or corrupt \(zstd -dc: .*premature end\); fetch it again$/],
    ['empty.tar.gz', /empty\.tar\.gz: the archive is empty \(0 bytes\)/],
    ['garbage.tar', /garbage\.tar: cannot extract: the archive is truncated or corrupt/],
    ['no-members.tar', /no-members\.tar: the archive holds no files; it is not a rootfs$/],
  ];
  it.each(cases)('%s', async (file, message) => {
    const cache = join(scratch, `cache-${file}`);
    const result = await cli(['list', await matrixWith(file.replace(/\W/g, '-'), `{ name: bad, tarball: ./${file} }`)], cache);
    expect(result.exitCode).toBe(2);
    expect(result.stderr.split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^harness: /);
    expect(result.stderr).toContain(join(scratch, file));
    expect(result.stderr).toMatch(message);
    expect(result.cacheEntries).toEqual([]);
  });
});

describe('bad matrices and arguments: exit 2, one line naming the file and field', () => {
  it('malformed YAML, unknown key, unknown ISA, missing path, wrong sha512, OCI layout without the platform', async () => {
    const cache = join(scratch, 'cache-matrix');
    const write = async (name: string, text: string) => {
      await writeFile(join(scratch, name), text);
      return join(scratch, name);
    };
    // Side by side: each is a CLI start, slow on a loaded machine.
    const [yaml, key, isa, flag, missing, sha, oci] = await Promise.all([
      write('broken.yaml', 'arches: [aarch64\nimages: [built]\n').then((m) => cli(['list', m], cache)),
      write('typo.yaml', 'arches: [aarch64]\nimages: [built]\nsuites: { image: {} }\ntimeuots: { case: 30s }\n').then((m) => cli(['list', m], cache)),
      write('isa.yaml', 'arches: [aarch46]\nimages: [built]\nsuites: { image: {} }\n').then((m) => cli(['list', m], cache)),
      write('ok.yaml', 'arches: [aarch64]\nimages: [built]\nsuites: { image: {} }\n').then((m) => cli(['list', '--arch', 's309x', m], cache)),
      matrixWith('missing', '{ name: gone, tarball: ./nowhere.tar.gz }').then((m) => cli(['list', m], cache)),
      matrixWith('sha', `{ name: sha, tarball: '${tarGz}', sha512: '${'0'.repeat(128)}' }`).then((m) => cli(['list', m], cache)),
      write('oci.yaml', `arches: [x86_64]\nimages:\n  - { name: oci, oci: '${ociLayout}', tag: latest }\nsuites: { image: {} }\n`).then((m) => cli(['list', m], cache)),
    ]);
    const results = { yaml: yaml!, key: key!, isa: isa!, flag: flag!, missing: missing!, sha: sha!, oci: oci! };
    for (const [what, result] of Object.entries(results)) {
      expect({ what, exitCode: result.exitCode, lines: result.stderr.split('\n').length }).toEqual({ what, exitCode: 2, lines: 1 });
      expect(result.cacheEntries).toEqual([]);
    }
    expect(results.yaml.stderr).toMatch(/broken\.yaml:\d+: YAML syntax: /);
    expect(results.key.stderr).toMatch(/typo\.yaml:4: timeuots: unknown key 'timeuots' \(did you mean 'timeouts'\?\)/);
    expect(results.isa.stderr).toMatch(/isa\.yaml:1: arches\[0\]: unknown ISA 'aarch46' \(did you mean 'aarch64'\?\)/);
    expect(results.flag.stderr).toMatch(/--arch: unknown ISA 's309x' \(did you mean 's390x'\?\)/);
    expect(results.missing.stderr).toMatch(/missing\.yaml:3: images\[0\]\.tarball: .*nowhere\.tar\.gz does not exist/);
    expect(results.sha.stderr).toMatch(new RegExp(`${tarGz.replace(/[.]/g, '\\.')}: sha512 mismatch: expected 0{128}, got [0-9a-f]{128}`));
    expect(results.oci.stderr).toMatch(/: no image for linux\/amd64 \(ISA x86_64\); platforms present: linux\/arm64\/v8$/);
  });
});

describe.skipIf(!isRoot || !existsSync('/usr/bin/unshare'))('a cache on a full or read-only disk (private mount namespace)', () => {
  /** Runs the CLI in a mount namespace of its own whose cache is a fresh tmpfs; `prepare` runs first (as root, in it). */
  const inNamespace = async (prepare: string, matrix: string) => {
    const cache = join(scratch, 'ns-cache');
    const script = [
      `mkdir -p '${cache}'`,
      `mount -t tmpfs -o size=1m cache '${cache}'`,
      prepare.replaceAll('CACHE', cache),
      `HARNESS_CACHE='${cache}' node '${BIN}' list '${matrix}'; echo "exit=$?"`,
      `ls -A '${cache}/rootfs' 2>/dev/null | sed 's/^/left: /'`,
    ].join('\n');
    const { stdout, stderr } = await execa('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { reject: false });
    return { stdout, stderr, mountsAfter: await readFile('/proc/mounts', 'utf8') };
  };

  it('a full disk: exit 2, "the disk is full", no partial entry', async () => {
    const matrix = await matrixWith('full', `{ name: full, tarball: '${tarGz}' }`);
    const { stdout, stderr, mountsAfter } = await inNamespace('true', matrix);
    expect(stdout).toMatch(/^exit=2$/m);
    expect(stdout).not.toMatch(/^left: /m);
    expect(stderr).toMatch(/^harness: .*rootfs\.tar\.gz: cannot extract: cannot write .*: the disk is full \(ENOSPC\); free space, or point HARNESS_CACHE at a bigger disk$/);
    expect(stderr.split('\n')).toHaveLength(1);
    expect(mountsAfter).not.toContain('ns-cache');
  });

  it('a read-only cache: exit 2, "not writable", nothing written', async () => {
    const matrix = await matrixWith('readonly', `{ name: ro, tarball: '${tarGz}' }`);
    const { stdout, stderr } = await inNamespace(`mount -o remount,ro 'CACHE'`, matrix);
    expect(stdout).toMatch(/^exit=2$/m);
    expect(stderr).toMatch(/^harness: cache: cannot write .*: not writable \(EROFS\); point HARNESS_CACHE at a writable directory$/);
  });
});

describe('an exception nobody expected', () => {
  it('exits 70 with one line saying where the full trace is', async () => {
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    let code: number;
    try {
      code = await main(['node', 'harness', 'list']);
    } finally {
      spy.mockRestore();
    }
    expect(code).toBe(EXIT_INTERNAL);
    expect(written).toHaveLength(1);
    const line = written[0]!;
    expect(line).toMatch(/^harness: internal error \(a bug in the harness, exit 70\): TypeError: Cannot read properties of undefined \(reading 'rootfs'\); full trace in (\S+)\n$/);
    const traceFile = /full trace in (\S+)\n$/.exec(line)![1]!;
    const trace = await readFile(traceFile, 'utf8');
    expect(trace).toContain('argv: ["list"]');
    expect(trace).toMatch(/TypeError: Cannot read properties of undefined[\s\S]*at /);
    await rm(traceFile);
  });
});
