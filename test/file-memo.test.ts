// Values kept by a file's identity (harness/file-memo.ts): digests of tarball images and
// tools' version lines are worked out once per file, and again whenever its bytes may differ.
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoByFile } from '../harness/file-memo.ts';
import { hashFile } from '../harness/rootfs/digest.ts';

let scratch: string;
let savedCache: string | undefined;

/** Files made before the tests and left to settle: one changed within 2 s of keeping its value is worked out again. */
const SETTLED = ['same', 'rewritten', 'gone', 'other'];
const WHOLE_SECOND = 1_700_000_000;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'file-memo-'));
  savedCache = process.env.HARNESS_CACHE;
  process.env.HARNESS_CACHE = join(scratch, 'cache');
  for (const name of SETTLED) writeFileSync(join(scratch, name), name);
  // A whole second, which utimes can put back exactly.
  utimesSync(join(scratch, 'rewritten'), WHOLE_SECOND, WHOLE_SECOND);
  await new Promise((resolve) => setTimeout(resolve, 2100));
});

afterAll(() => {
  if (savedCache === undefined) delete process.env.HARNESS_CACHE;
  else process.env.HARNESS_CACHE = savedCache;
  rmSync(scratch, { recursive: true, force: true });
});

/** memoByFile over `path` with a compute that counts its calls and returns the file's text. */
function counted(store: string, path: string) {
  let calls = 0;
  const read = () => memoByFile(store, path, async () => {
    calls++;
    return readFileSync(path, 'utf8');
  });
  return { read, calls: () => calls };
}

describe('memoByFile', () => {
  it('works a value out once while the file is unchanged, and keeps it on disk for the next process', async () => {
    const file = join(scratch, 'same');
    const memo = counted('same-store', file);
    expect(await memo.read()).toBe('same');
    expect(await memo.read()).toBe('same');
    expect(memo.calls()).toBe(1);
    const kept = JSON.parse(readFileSync(join(scratch, 'cache', 'same-store.json'), 'utf8')) as Record<string, { value: unknown }>;
    expect(kept[file]?.value).toBe('same');
  });

  it('does not trust a value kept within 2 s of the file changing (a second change may share its timestamps)', async () => {
    const file = join(scratch, 'fresh');
    writeFileSync(file, 'new');
    const memo = counted('fresh-store', file);
    await memo.read();
    await memo.read();
    expect(memo.calls()).toBe(2);
  });

  it('works it out again when the file is rewritten, even with the same size and mtime put back', async () => {
    const file = join(scratch, 'rewritten');
    const memo = counted('rewritten-store', file);
    expect(await memo.read()).toBe('rewritten');
    const before = statSync(file, { bigint: true });
    writeFileSync(file, 'REWRITTEN');
    utimesSync(file, WHOLE_SECOND, WHOLE_SECOND);
    const after = statSync(file, { bigint: true });
    expect([after.ino, after.size, after.mtimeNs]).toEqual([before.ino, before.size, before.mtimeNs]);
    expect(await memo.read()).toBe('REWRITTEN');
    expect(memo.calls()).toBe(2);
  });

  it('keeps no failure, and forgets files that are gone', async () => {
    const file = join(scratch, 'failing');
    writeFileSync(file, 'x');
    let calls = 0;
    const fail = () => memoByFile('failing-store', file, async () => {
      calls++;
      return undefined;
    });
    expect(await fail()).toBeUndefined();
    expect(await fail()).toBeUndefined();
    expect(calls).toBe(2);

    const gone = join(scratch, 'gone');
    await counted('pruned-store', gone).read();
    rmSync(gone);
    const other = join(scratch, 'other');
    await counted('pruned-store', other).read();
    expect(Object.keys(JSON.parse(readFileSync(join(scratch, 'cache', 'pruned-store.json'), 'utf8')) as object)).toEqual([other]);
  });
});

describe('hashFile', () => {
  it('gives the digests of the bytes, kept and renewed with the file', async () => {
    const file = join(scratch, 'image.tar');
    writeFileSync(file, 'abc');
    expect(await hashFile(file)).toEqual({
      sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      sha512: 'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
      bytes: 3,
    });
    writeFileSync(file, 'abcd');
    expect((await hashFile(file)).sha256).toBe('88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589');
  });
});
