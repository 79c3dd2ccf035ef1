// The parsed-data cache (harness/parsed-cache.ts) and the rows files that use it: a valid file's
// rows come back from the cache, identical; a changed file or parser is parsed again; a bad file
// fails with its own error every time and leaves nothing in the cache.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cachedParse } from '../harness/parsed-cache.ts';
import { loadRows, parseRows } from '../harness/suites/busybox/rows.ts';

let scratch: string;
const savedCache = process.env.HARNESS_CACHE;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'parsed-cache-'));
});
afterEach(() => {
  if (savedCache === undefined) delete process.env.HARNESS_CACHE;
  else process.env.HARNESS_CACHE = savedCache;
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('cachedParse', () => {
  it('parses once per text and parser, keeps nothing for a parse that throws', async () => {
    process.env.HARNESS_CACHE = await mkdtemp(join(scratch, 'cache-'));
    let calls = 0;
    const parse = () => ({ calls: ++calls });
    expect(cachedParse('a: 1', 'parser v1', parse)).toEqual({ calls: 1 });
    expect(cachedParse('a: 1', 'parser v1', parse)).toEqual({ calls: 1 });
    expect(cachedParse('a: 2', 'parser v1', parse)).toEqual({ calls: 2 });
    expect(cachedParse('a: 1', 'parser v2', parse)).toEqual({ calls: 3 });
    expect(() => cachedParse('bad', 'parser v1', () => { throw new Error('bad input'); })).toThrow('bad input');
    expect(() => cachedParse('bad', 'parser v1', () => { throw new Error('bad input'); })).toThrow('bad input');
    const kept = await readdir(join(process.env.HARNESS_CACHE, 'parsed'));
    expect(kept).toHaveLength(3);
    expect(kept.every((name) => name.endsWith('.json'))).toBe(true);
  });

  it('rows from the cache equal a fresh parse; a broken rows file fails the same way twice', async () => {
    process.env.HARNESS_CACHE = await mkdtemp(join(scratch, 'cache-'));
    const file = join(scratch, 'rows.yaml');
    const text = '- name: echo\n  applet: echo\n  cmd: echo hi\n  stdout: "hi\\n"\n';
    await writeFile(file, text);
    const fresh = parseRows(text, file, { requireApplets: true });
    expect(loadRows(file, { requireApplets: true })).toEqual(fresh);
    expect(loadRows(file, { requireApplets: true })).toEqual(fresh);
    await writeFile(file, `${text}- name: echo\n  applet: echo\n  cmd: echo again\n  stdout: "again\\n"\n`);
    const message = /rows\.yaml:5: row name 'echo' repeats the row at .*rows\.yaml:1; names must be unique/;
    expect(() => loadRows(file, { requireApplets: true })).toThrow(message);
    expect(() => loadRows(file, { requireApplets: true })).toThrow(message);
    expect(await readdir(join(process.env.HARNESS_CACHE, 'parsed'))).toHaveLength(1);
  });
});
