// Property-based tests (fast-check) over the three readers of untrusted input: the matrix
// loader, the archive extractor and the ELF reader. Whatever bytes they are given, each ends
// in a result or a HarnessError (one line that names what is wrong), never another
// exception, never a hang, and the extractor never writes outside its target. A failure is
// shrunk to its smallest input and printed with fast-check's seed, so it can be replayed.
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { armAttributesSection, parseArmAttributes, parseElf, readElf } from '../harness/elf.ts';
import { HarnessError } from '../harness/errors.ts';
import { isaByName } from '../harness/isa.ts';
import { loadMatrix } from '../harness/matrix/load.ts';
import { prepareImage } from '../harness/rootfs/index.ts';
import { RootfsWriter } from '../harness/rootfs/extract.ts';
import { packTar, type Member } from './fixtures/rootfs/images.ts';

/*
 * Runs per property, chosen so that the whole file takes about 20 s on a quiet 2-core
 * machine: the matrix and ELF properties are cheap (thousands of runs), the extractor spends
 * a few ms of disk and a decompressor process per run.
 */
const RUNS = { matrix: 400, archive: 150, layers: 60, elf: 5000, elfFiles: 500, arm: 5000 };
/** A single run longer than this fails the property as a hang (async properties only). */
const RUN_TIMEOUT_MS = 10_000;
/** A synchronous parser cannot be interrupted: each call is timed, and a slow one fails. */
const SYNC_CALL_LIMIT_MS = 500;

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'properties-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** Rethrows anything but a HarnessError whose message is one or more non-empty lines. */
function expectClean(error: unknown): void {
  if (!(error instanceof HarnessError)) throw error;
  expect(error.message.trim()).not.toBe('');
}

async function settles<T>(work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await work();
  } catch (error) {
    expectClean(error);
    return undefined;
  }
}

/** Byte-level mutations: none, truncation, overwritten bytes, inserted junk, or nothing at all. */
/** A uniform position in [0, 1): fast-check's doubles lean on the bounds, which would mostly cut everything. */
const fraction = fc.integer({ min: 0, max: 9999 }).map((n) => ((n * 7919) % 10_000) / 10_000);
const mutation = fc.oneof(
  { weight: 6, arbitrary: fc.constant((bytes: Buffer) => bytes) },
  { weight: 3, arbitrary: fraction.map((at) => (bytes: Buffer) => bytes.subarray(0, Math.floor(bytes.length * at))) },
  {
    weight: 3,
    arbitrary: fc.array(fc.tuple(fraction, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }).map((edits) => (bytes: Buffer) => {
      const copy = Buffer.from(bytes);
      for (const [at, value] of edits) if (copy.length) copy[Math.min(copy.length - 1, Math.floor(copy.length * at))] = value;
      return copy;
    }),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(fraction, fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([at, junk]) => (bytes: Buffer) => {
      const cut = Math.floor(bytes.length * at);
      return Buffer.concat([bytes.subarray(0, cut), Buffer.from(junk), bytes.subarray(cut)]);
    }),
  },
  { weight: 1, arbitrary: fc.constant(() => Buffer.alloc(0)) },
);

describe('matrix loader: arbitrary YAML', () => {
  const topKeys = ['name', 'description', 'arches', 'images', 'suites', 'timeouts', 'limits', 'retries', 'jobs', 'fail_fast', 'known_failures', 'imgaes'];
  const words = fc.constantFrom('built', 'all', 'aarch64', 'x86_64', 'armhf', 'linux/arm/v6', 'busybox', 'musl', 'static', 'image', '30s', '0', '-1', '1MiB', 'auto', '{arch}', '../x', '/dev/null', '', '~', 'yes', '1e309', 'NaN');
  const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, words, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.string({ maxLength: 8 }), tie('list'), tie('map')),
    list: fc.array(tie('value'), { maxLength: 4 }),
    map: fc.dictionary(fc.oneof(fc.constantFrom('name', 'tarball', 'directory', 'oci', 'sha512', 'sha512sums', 'arches', 'optional', 'case', 'suite', 'run', 'memory', 'pids', 'test', 'arch', 'reason', 'path', 'size_budget', 'limits'), fc.string({ maxLength: 6 })), tie('value'), { maxKeys: 4 }),
  })).value;
  /** A matrix-shaped document: known (and misspelt) top keys with values of any shape. */
  const matrixDocument = fc.dictionary(fc.constantFrom(...topKeys), value, { minKeys: 1, maxKeys: 8 }).map((doc) => stringify(doc));
  /** YAML text the stringifier never writes: anchors, aliases (also recursive ones), tags, directives, tabs. */
  const yamlPieces = fc.constantFrom(
    'images:', 'suites:', '  busybox: {}', '- built', '&a', '*a', '&a [*a, *a]', '<<: *a', '!!binary', '!!map', '!!str', '%YAML 1.2', '---', '...', '? ', ': ',
    '{', '}', '[', ']', '"', "'", '#', '\t', '  ', 'arches: [aarch64', 'timeouts: { case: 1s }', 'limits: { memory: 1TiB }', 'x: &b { y: *b }', 'known_failures: [{ test: "*", reason: r }]',
  );
  const yamlText = fc.array(fc.tuple(fc.oneof(yamlPieces, fc.string({ maxLength: 10 })), fc.constantFrom(' ', '\n', '\n  ')), { maxLength: 30 })
    .map((parts) => parts.map(([piece, gap]) => piece + gap).join(''));
  let valid: string;

  beforeAll(async () => {
    valid = await readFile(join(import.meta.dirname, '..', 'matrices', 'default.yaml'), 'utf8');
  });

  it('ends in a Matrix or a HarnessError naming the file, and writes nothing', async () => {
    const dir = await mkdtemp(join(scratch, 'matrix-'));
    const file = join(dir, 'm.yaml');
    const source = fc.oneof(
      matrixDocument,
      yamlText,
      fc.string({ unit: 'binary', maxLength: 200 }),
      mutation.map((mutate) => mutate(Buffer.from(valid)).toString('latin1')),
    );
    await fc.assert(
      fc.asyncProperty(source, async (text) => {
        await writeFile(file, text);
        try {
          const matrix = await loadMatrix(file);
          expect(matrix.images.length).toBeGreaterThan(0);
        } catch (error) {
          expectClean(error);
          for (const line of (error as Error).message.split('\n')) expect(line).toMatch(/m\.yaml/);
        }
        expect(await readdir(dir)).toEqual(['m.yaml']);
      }),
      { numRuns: RUNS.matrix, timeout: RUN_TIMEOUT_MS },
    );
  });
});

describe('archive extractor: arbitrary and hostile archives', () => {
  let outside: string;
  let victim: string;
  /** What must stay as it is: every path below `outside`, with its type, mode, links and bytes. */
  const snapshot = async (dir: string): Promise<string[]> => {
    const lines: string[] = [];
    const walk = async (path: string): Promise<void> => {
      const stats = await lstat(path);
      const what = stats.isSymbolicLink() ? `-> ${await readlink(path)}` : stats.isFile() ? createHash('sha256').update(await readFile(path)).digest('hex') : '';
      lines.push(`${path} ${stats.mode.toString(8)} ${stats.nlink} ${stats.uid}:${stats.gid} ${stats.mtimeMs} ${what}`);
      if (stats.isDirectory()) for (const name of (await readdir(path)).sort()) await walk(join(path, name));
    };
    await walk(dir);
    return lines;
  };

  beforeAll(async () => {
    outside = join(scratch, 'outside');
    victim = join(outside, 'victim');
    await mkdir(join(outside, 'dir'), { recursive: true });
    await writeFile(victim, 'precious\n', { mode: 0o644 });
  });

  /** Member names: plain, '..', absolute, climbing to the outside dir, 255-byte components, 4,096-byte names. */
  const component = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('a', 'b', 'etc', 'bin', 'link', 'dir', 'outside', 'victim', '.', '') },
    { weight: 1, arbitrary: fc.constantFrom('..', '.wh.a', '.wh..wh..opq', '.wh.', 'x'.repeat(255), 'y'.repeat(256)) },
  );
  const memberName = fc.oneof(
    { weight: 15, arbitrary: fc.tuple(fc.boolean(), fc.array(component, { minLength: 1, maxLength: 4 })).map(([absolute, parts]) => `${absolute ? '/' : ''}${parts.join('/')}`) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 4096 }).map((length) => `${'d/'.repeat(Math.floor(length / 4))}${'n'.repeat(Math.max(1, length - 2 * Math.floor(length / 4)))}`) },
  );
  /** Link targets: inside names, '..' climbs, the outside dir by absolute path and by climbing from the root. */
  const linkTarget = () => fc.oneof(memberName, fc.constantFrom('/', '..', '../..', '../../../../outside', '../../../../../outside/victim', `${scratch}/outside`, `${scratch}/outside/victim`, '/etc/passwd', 'link/../..'));
  const anyMember: () => fc.Arbitrary<Member> = () => fc.oneof(
    fc.record({ name: memberName, content: fc.string({ maxLength: 40 }), mode: fc.constantFrom(0o644, 0o4755, 0o000, 0o777) }),
    fc.record({ name: memberName, type: fc.constant('directory' as const), mode: fc.constantFrom(0o755, 0o777, 0o1777, 0o000, 0o555) }),
    fc.record({ name: memberName, type: fc.constant('symlink' as const), linkname: linkTarget() }),
    fc.record({ name: memberName, type: fc.constant('link' as const), linkname: linkTarget() }),
    fc.record({ name: memberName, type: fc.constantFrom('character-device' as const, 'block-device' as const, 'fifo' as const), devmajor: fc.constant(1), devminor: fc.constant(3) }),
  );
  /** A symlinked parent: 'link' points somewhere (often outside), then a member is written through it. */
  const throughSymlink = fc.tuple(linkTarget(), anyMember(), fc.array(component, { maxLength: 2 }))
    .map(([target, through, rest]): Member[] => [{ name: 'link', type: 'symlink', linkname: target }, { ...through, name: ['link', ...rest, 'victim'].join('/') }]);
  const members = fc.array(fc.oneof({ weight: 3, arbitrary: anyMember().map((one) => [one]) }, { weight: 1, arbitrary: throughSymlink }), { maxLength: 6 }).map((groups) => groups.flat());
  const compression = fc.constantFrom('none', 'gzip', 'xz', 'zstd');

  const compress = async (tar: Buffer, how: string): Promise<Buffer> => {
    if (how === 'none') return tar;
    if (how === 'gzip') return gzipSync(tar);
    return Buffer.from((await execa(how, ['-c', '-q'], { input: tar, encoding: 'buffer' })).stdout);
  };

  /** After one run: the outside dir as it was, and no temp dir or half-written entry in the cache. */
  const checkContained = async (before: string[], cacheDir: string, extracted: boolean) => {
    expect(await snapshot(outside)).toEqual(before);
    const entries = await readdir(join(cacheDir, 'rootfs')).catch(() => [] as string[]);
    expect(entries.filter((name) => name.startsWith('.tmp-'))).toEqual([]);
    expect(entries.length).toBe(extracted ? 1 : 0);
  };

  it('prepareImage ends in a rootfs or a HarnessError, and touches nothing outside it', async () => {
    const before = await snapshot(outside);
    const isa = isaByName('x86_64');
    const archive = fc.oneof(
      { weight: 4, arbitrary: fc.record({ members, compression, mutate: mutation }) },
      { weight: 1, arbitrary: fc.record({ junk: fc.uint8Array({ maxLength: 2048 }), magic: fc.constantFrom([], [0x1f, 0x8b], [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], [0x28, 0xb5, 0x2f, 0xfd], [0x42, 0x5a, 0x68]) }) },
    );
    await fc.assert(
      fc.asyncProperty(archive, async (spec) => {
        const run = await mkdtemp(join(scratch, 'run-'));
        try {
          const path = join(run, 'image.tar');
          const intact = 'junk' in spec ? undefined : await compress(await packTar(spec.members), spec.compression);
          const bytes = 'junk' in spec ? Buffer.concat([Buffer.from(spec.magic), Buffer.from(spec.junk)]) : spec.mutate(intact!);
          await writeFile(path, bytes);
          const cacheDir = join(run, 'cache');
          const image = await settles(() => prepareImage({ kind: 'tarball', path }, isa, { cacheDir }).catch((error: Error) => {
            // One line that names the archive; an archive as packed is refused for a member (named), never called corrupt.
            expect(error.message).toContain(path);
            expect(error.message).not.toContain('\n');
            if (intact?.equals(bytes)) expect(error.message).toMatch(/: member '|holds no files/);
            throw error;
          }));
          if (image) expect(image.rootfs.startsWith(join(cacheDir, 'rootfs'))).toBe(true);
          await checkContained(before, cacheDir, image !== undefined);
        } finally {
          await rm(run, { recursive: true, force: true });
        }
      }),
      { numRuns: RUNS.archive, timeout: RUN_TIMEOUT_MS },
    );
  });

  it('layers with whiteouts over earlier layers end in a rootfs or a HarnessError, inside the root', async () => {
    const before = await snapshot(outside);
    await fc.assert(
      fc.asyncProperty(fc.array(members, { minLength: 1, maxLength: 3 }), async (layers) => {
        const run = await mkdtemp(join(scratch, 'layers-'));
        try {
          const root = join(run, 'root');
          await mkdir(root);
          const writer = new RootfsWriter(root);
          await settles(async () => {
            for (const [i, members] of layers.entries()) {
              const layer = join(run, `layer-${i}.tar`);
              await writeFile(layer, await packTar(members));
              await writer.apply(layer, { layer: true, label: layer });
            }
            await writer.finish();
          });
          expect(await snapshot(outside)).toEqual(before);
          expect((await readdir(run)).filter((name) => !name.startsWith('layer-'))).toEqual(['root']);
        } finally {
          await rm(run, { recursive: true, force: true });
        }
      }),
      { numRuns: RUNS.layers, timeout: RUN_TIMEOUT_MS },
    );
  });
});

describe('ELF reader: arbitrary bytes', () => {
  /** Header field values that matter: 0, tiny, near the end, past it, and the largest. */
  const interesting = (max: number) => fc.oneof(fc.constantFrom(0, 1, 2, 4, 7, 8, 16, 32, 52, 56, 64, 0xffff, max), fc.integer({ min: 0, max }));
  /** An ELF header with chosen (often absurd) fields and random bytes after it. */
  const elfLike = fc.record({
    elfClass: fc.constantFrom(1, 2, 0, 3),
    data: fc.constantFrom(1, 2, 0, 9),
    phoff: interesting(0xffffffff),
    phentsize: interesting(0xffff),
    phnum: interesting(0xffff),
    shoff: interesting(0xffffffff),
    shentsize: interesting(0xffff),
    shnum: interesting(0xffff),
    length: fc.integer({ min: 0, max: 600 }),
    tail: fc.uint8Array({ maxLength: 600 }),
    mutate: mutation,
  }).map((spec) => {
    const buf = Buffer.alloc(Math.max(spec.length, 64));
    buf.writeUInt32BE(0x7f454c46, 0);
    buf[4] = spec.elfClass;
    buf[5] = spec.data;
    Buffer.from(spec.tail).copy(buf, 64);
    const le = spec.data !== 2;
    const w16 = (value: number, at: number) => (le ? buf.writeUInt16LE(value, at) : buf.writeUInt16BE(value, at));
    const w32 = (value: number, at: number) => (le ? buf.writeUInt32LE(value, at) : buf.writeUInt32BE(value, at));
    const w64 = (value: number, at: number) => (le ? buf.writeBigUInt64LE(BigInt(value), at) : buf.writeBigUInt64BE(BigInt(value), at));
    if (spec.elfClass === 2) {
      w64(spec.phoff, 32); w64(spec.shoff, 40); w16(spec.phentsize, 54); w16(spec.phnum, 56); w16(spec.shentsize, 58); w16(spec.shnum, 60);
    } else {
      w32(spec.phoff, 28); w32(spec.shoff, 32); w16(spec.phentsize, 42); w16(spec.phnum, 44); w16(spec.shentsize, 46); w16(spec.shnum, 48);
    }
    // Program and section headers are often sensible, to reach the code behind them.
    return spec.mutate(buf.subarray(0, Math.max(spec.length, 16)));
  });
  const anyBytes = fc.oneof(elfLike, fc.uint8Array({ maxLength: 256 }).map((bytes) => Buffer.from(bytes)));

  const timed = <T>(call: () => T): T | undefined => {
    const started = performance.now();
    try {
      return call();
    } catch (error) {
      expectClean(error);
      return undefined;
    } finally {
      expect(performance.now() - started).toBeLessThan(SYNC_CALL_LIMIT_MS);
    }
  };

  it('parseElf and armAttributesSection end in facts or a HarnessError', () => {
    fc.assert(
      fc.property(anyBytes, (buf) => {
        const facts = timed(() => parseElf(buf));
        if (facts) expect([32, 64]).toContain(facts.class);
        timed(() => armAttributesSection(buf));
      }),
      { numRuns: RUNS.elf },
    );
  });

  it('readElf, which reads only the parts it needs, finds what parseElf finds in the whole file', async () => {
    const dir = await mkdtemp(join(scratch, 'elf-'));
    // Padded past readElf's first read, so header offsets often point beyond it.
    const padded = fc.tuple(anyBytes, fc.integer({ min: 0, max: 9000 })).map(([buf, size]) => Buffer.concat([buf, Buffer.alloc(Math.max(0, size - buf.length))]));
    await fc.assert(
      fc.asyncProperty(padded, async (buf) => {
        const path = join(dir, 'elf');
        await writeFile(path, buf);
        const whole = timed(() => parseElf(buf));
        const read = await readElf(path).catch((error: unknown) => expectClean(error));
        expect(read).toEqual(whole);
      }),
      { numRuns: RUNS.elfFiles, timeout: RUN_TIMEOUT_MS },
    );
    // Real dynamic binaries: their dynamic section and string table lie far past the first read.
    for (const binary of ['/bin/ls', process.execPath]) {
      const facts = await readElf(binary);
      expect(facts.needed).toContain('libc.so.6');
      expect(facts).toEqual(parseElf(await readFile(binary)));
    }
  });

  it('parseArmAttributes ends in attributes or a HarnessError', () => {
    /** Sections built from subsections of random lengths, vendors and tags, then mutated. */
    const uleb = fc.integer({ min: 0, max: 2 ** 35 }).map((value) => {
      const bytes: number[] = [];
      do {
        bytes.push((value % 128) | (value >= 128 ? 0x80 : 0));
        value = Math.floor(value / 128);
      } while (value > 0);
      return bytes;
    });
    const tags = fc.array(fc.oneof(uleb, fc.constantFrom([4], [5], [6], [9], [10], [32], [67], [0x41, 0x42], [0]), fc.uint8Array({ maxLength: 4 }).map((b) => [...b])), { maxLength: 12 });
    const section = fc.record({
      length: interesting(0xffffffff),
      vendor: fc.constantFrom('aeabi', 'gnu', '', 'aeabi\u0001'),
      scope: fc.constantFrom(1, 2, 3, 0),
      size: interesting(0xffffffff),
      tags,
      mutate: mutation,
    }).map(({ length, vendor, scope, size, tags: tagBytes, mutate }) => {
      const body = Buffer.from(tagBytes.flat());
      const sub = Buffer.alloc(5);
      sub[0] = scope;
      sub.writeUInt32LE(size, 1);
      const head = Buffer.alloc(4);
      head.writeUInt32LE(length, 0);
      return mutate(Buffer.concat([Buffer.from('A'), head, Buffer.from(`${vendor}\0`, 'latin1'), sub, body]));
    });
    fc.assert(
      fc.property(fc.oneof(section, fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes))), (buf) => {
        const found = timed(() => parseArmAttributes(buf));
        if (found) for (const value of Object.values(found)) expect(typeof value).toBe('string');
      }),
      { numRuns: RUNS.arm },
    );
  });
});
