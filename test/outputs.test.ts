// Report targets that are not regular files are written in place, never renamed over: the
// device node, the FIFO and stdout are still what they were. And the sandbox refuses a host
// /dev/null that is no longer the character device 1:3 (made so in a private mount namespace).
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../harness/paths.ts';
import { STDOUT_PATH, writeFileAtomic } from '../harness/report/atomic.ts';

const isRoot = process.getuid?.() === 0;
let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'outputs-test-'));
});
afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('report paths that are not regular files', () => {
  it('/dev/null stays the character device 1:3', async () => {
    const before = await stat('/dev/null');
    await writeFileAtomic('/dev/null', '{"a":1}\n');
    const after = await stat('/dev/null');
    expect(after.isCharacterDevice()).toBe(true);
    expect([after.ino, after.rdev]).toEqual([before.ino, before.rdev]);
  });

  it('a FIFO gets the content through the pipe and stays a FIFO', async () => {
    const fifo = join(scratch, 'report.fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = execa('cat', [fifo]);
    await writeFileAtomic(fifo, 'through the pipe\n');
    expect((await reader).stdout).toBe('through the pipe');
    expect((await stat(fifo)).isFIFO()).toBe(true);
  });

  it("'-' writes to stdout, and a regular file is still replaced atomically", async () => {
    const script = `import { writeFileAtomic } from '${join(REPO_ROOT, 'harness/report/atomic.ts')}'; await writeFileAtomic('${STDOUT_PATH}', 'on stdout\\n');`;
    await writeFile(join(scratch, 'stdout.mts'), script);
    const { stdout } = await execa('npx', ['tsx', join(scratch, 'stdout.mts')], { cwd: REPO_ROOT });
    expect(stdout).toBe('on stdout');
    const file = join(scratch, 'results.json');
    await writeFileAtomic(file, 'one\n');
    await writeFileAtomic(file, 'two\n');
    expect(await readFile(file, 'utf8')).toBe('two\n');
  });
});

describe.skipIf(!isRoot)('host devices the sandbox binds', () => {
  it('stops with one line naming /dev/null when it is a regular file (private mount namespace)', async () => {
    const fake = join(scratch, 'fake-null');
    const probe = `import { runInSandbox } from '${join(REPO_ROOT, 'harness/sandbox/index.ts')}'; import { isaByName } from '${join(REPO_ROOT, 'harness/isa.ts')}';
      await runInSandbox({ rootfs: '/', isa: isaByName('x86_64'), argv: ['/bin/true'], timeoutMs: 10000, emptyRoot: true }).then(() => console.log('ran'), (e) => console.log(e.message));`;
    await writeFile(join(scratch, 'probe.mts'), probe);
    const script = `echo garbage > '${fake}' && mount --bind '${fake}' /dev/null && exec npx tsx '${join(scratch, 'probe.mts')}'`;
    const { stdout } = await execa('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { cwd: REPO_ROOT, reject: false });
    expect(stdout).toMatch(/^sandbox: host device \/dev\/null is not the character device 1:3 \(recreate it: mknod -m 666 \/dev\/null c 1 3\): No such device$/);
    expect((await stat('/dev/null')).isCharacterDevice()).toBe(true);
  });
});
