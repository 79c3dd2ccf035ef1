// The per-case path with no process start from Node: 200 cases back to back through the
// long-lived sandbox helper, each in fresh namespaces on a fresh copy-on-write root.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isaByName } from '../harness/isa.ts';
import { type HostSnapshot, runInSandbox, sandboxLeaks, snapshotHost } from '../harness/sandbox/index.ts';
import { idleHelperPids } from '../harness/sandbox/server.ts';

const TARBALL = '/work/shared/alpine-minirootfs/3.20.3/alpine-minirootfs-3.20.3-x86_64.tar.gz';
const skipReason = !existsSync(TARBALL) ? `Alpine tarball absent (${TARBALL})` : process.getuid?.() !== 0 ? 'needs root (namespaces, overlayfs)' : '';
if (skipReason) console.warn(`fast-path tests skipped: ${skipReason}`);

const CASES = 200;
// Looks for what any earlier case left (a file in /tmp and /etc, a process, a hostname), then leaves all of those.
const SCRIPT = [
  'echo "tmp:$(ls -A /tmp | tr "\\n" " ")"',
  'echo "etc:$(cat /etc/trace 2>/dev/null)"',
  'echo "pid:$$ init:$(cat /proc/1/cmdline)"',
  'echo "host:$(hostname)"',
  'ps -o pid,args',
  'echo "$N" > /tmp/trace-$N; echo "$N" > /etc/trace; hostname case-$N',
  'sleep 1000 &',
].join('\n');

describe.skipIf(!!skipReason)(`fast path: ${CASES} back-to-back cases${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let work: string;
  let rootfs: string;
  let before: HostSnapshot;

  beforeAll(async () => {
    before = await snapshotHost();
    work = await mkdtemp(join(tmpdir(), 'fast-path-test-'));
    rootfs = join(work, 'rootfs');
    await mkdir(rootfs);
    await execa('tar', ['-xzf', TARBALL, '-C', rootfs, '--numeric-owner']);
  });

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    expect(sandboxLeaks(before, await snapshotHost())).toEqual({ mounts: [], processes: [], stagingDirs: [] });
  });

  it('gives every case a fresh /tmp and root, its own PID 1, and no trace of the case before', async () => {
    const helpers = new Set<number>();
    for (let n = 0; n < CASES; n++) {
      const result = await runInSandbox({
        rootfs, isa: isaByName('x86_64'), argv: ['/bin/sh', '/case.sh'], files: [{ path: '/case.sh', content: SCRIPT }], env: { N: String(n) }, timeoutMs: 30_000,
      });
      expect(result, `case ${n}`).toMatchObject({ exitCode: 0, signal: null, timedOut: false, stderr: '' });
      const [tmp, etc, pid, host, header, ...ps] = result.stdout.trim().split('\n');
      expect([tmp, etc, pid, host, header?.trim()], `case ${n}`).toEqual(['tmp:', 'etc:', 'pid:2 init:init', 'host:harness', 'PID   COMMAND']);
      // Only this case's init, its shell and ps: no sleeper of an earlier case.
      const rows = ps.map((row) => row.trim().split(/\s+/));
      expect(rows[0], `case ${n}`).toEqual(['1', 'init']);
      expect(new Set(rows.slice(1).map(([, ...args]) => args.join(' '))), `case ${n}: ${ps.join(' | ')}`).toEqual(new Set(['/bin/sh /case.sh', 'ps -o pid,args']));
      for (const pid of idleHelperPids()) helpers.add(pid);
    }
    // One long-lived helper served them all: no process started per case.
    expect(helpers.size).toBe(1);
    expect(existsSync(join(rootfs, 'etc/trace'))).toBe(false);
  });
});
