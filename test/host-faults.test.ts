// Host faults, each made in a private mount namespace (and, for user namespaces, a user
// namespace of the test's own), so the host itself never changes: binfmt_misc not mounted,
// a handler without the F flag or with its interpreter gone, qemu-aarch64-static missing,
// not root with user namespaces unavailable, and a full or read-only cache during an image
// build. Each ends the real CLI with exit 2 and one line naming the path or ISA, before any
// case runs, and leaves no mounts, helper processes, cgroups or cache entries behind.
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binfmtRoot, registerSyntaxToBytes } from '../harness/host/binfmt.ts';
import { isaByName } from '../harness/isa.ts';
import { REPO_ROOT } from '../harness/paths.ts';
import type { RunResults } from '../harness/results.ts';
import { ownCgroupLeaks } from '../harness/sandbox/cgroup.ts';
import { sandboxLeaks, snapshotHost, type HostSnapshot } from '../harness/sandbox/index.ts';
import { defaultSourcesDir } from '../images/sources.ts';

const BIN = join(REPO_ROOT, 'harness', 'bin.mjs');
const isRoot = process.getuid?.() === 0;
const canRun = isRoot && existsSync('/usr/bin/unshare') && existsSync('/usr/bin/setpriv') && existsSync(join(binfmtRoot, 'register'));
if (!canRun) console.warn('host-faults.test: skipped: needs root, unshare, setpriv and a mounted binfmt_misc');
const aarch64 = isaByName('aarch64');
/** An unprivileged user that exists on every Debian/Ubuntu host. */
const NOBODY = 65534;

let scratch: string;
let matrix: string;
let before: HostSnapshot;
let hostUserNamespaces: string;

interface Outcome { exitCode: number; stderr: string; stdout: string }

/** `script` (sh, as root) in a private mount namespace; it ends with the harness command, whose exit and stderr are the outcome. */
async function inMountNamespace(script: string): Promise<Outcome> {
  const result = await execa('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `set -e\n${script}`], { reject: false, cwd: scratch });
  return { exitCode: result.exitCode ?? -1, stderr: result.stderr, stdout: result.stdout };
}

const harness = (args: string) => `exec node '${BIN}' ${args}`;
/** The harness as an unprivileged user, with a cache of its own (it cannot read root's). */
const asNobody = async (args: string) => {
  const cache = await mkdtemp(join(scratch, 'nobody-cache-'));
  await chmod(cache, 0o777);
  return { cache, command: `HARNESS_CACHE='${cache}' exec setpriv --reuid=${NOBODY} --regid=${NOBODY} --clear-groups node '${BIN}' ${args}` };
};

/** One line, exit 2, starting 'harness: '. */
function expectOneLine(outcome: Outcome, message: RegExp): void {
  expect({ exitCode: outcome.exitCode, stderr: outcome.stderr }).toEqual({ exitCode: 2, stderr: expect.stringMatching(message) as unknown as string });
  expect(outcome.stderr.split('\n')).toHaveLength(1);
  expect(outcome.stderr).toMatch(/^harness: /);
}

/** A binfmt_misc directory as the kernel shows it, with one foreign aarch64 handler. */
async function fakeBinfmt(name: string, handler: { flags: string; interpreter: string }): Promise<string> {
  const dir = join(scratch, name);
  await mkdir(dir);
  const hex = (text: string) => registerSyntaxToBytes(text).toString('hex');
  await writeFile(join(dir, 'register'), '');
  await writeFile(join(dir, 'status'), 'enabled\n');
  await writeFile(join(dir, 'qemu-aarch64'), `enabled\ninterpreter ${handler.interpreter}\nflags: ${handler.flags}\noffset 0\nmagic ${hex(aarch64.binfmt.magic)}\nmask ${hex(aarch64.binfmt.mask)}\n`);
  return dir;
}

beforeAll(async () => {
  if (!canRun) return;
  before = await snapshotHost();
  hostUserNamespaces = await readFile('/proc/sys/user/max_user_namespaces', 'utf8');
  scratch = await mkdtemp(join(tmpdir(), 'host-faults-test-'));
  await chmod(scratch, 0o755);
  matrix = join(scratch, 'matrix.yaml');
  await writeFile(matrix, 'arches: [aarch64]\nimages: [built]\nsuites: { image: {} }\nretries: 0\n');
});

afterAll(async () => {
  if (!canRun) return;
  await rm(scratch, { recursive: true, force: true });
  expect(sandboxLeaks(before, await snapshotHost())).toEqual({ mounts: [], processes: [], stagingDirs: [] });
  expect(await ownCgroupLeaks()).toEqual([]);
  expect(await readFile('/proc/sys/user/max_user_namespaces', 'utf8')).toBe(hostUserNamespaces);
  expect(existsSync(join(binfmtRoot, 'register'))).toBe(true);
});

describe.skipIf(!canRun)('binfmt_misc faults', () => {
  it('not mounted, and not root to mount it: one line naming the mount point and the command', async () => {
    const { cache, command } = await asNobody(`run -q '${matrix}'`);
    const outcome = await inMountNamespace(`mount -t tmpfs hidden ${binfmtRoot}\n${command}`);
    expectOneLine(outcome, /^harness: binfmt_misc is not mounted at \/proc\/sys\/fs\/binfmt_misc, and mounting it failed \(.*\): as root run: mount -t binfmt_misc binfmt_misc \/proc\/sys\/fs\/binfmt_misc$/);
    // Refused before any build or extraction.
    expect(await readdir(cache)).toEqual([]);
  });

  it('not mounted, as root: the harness mounts it (in its own namespace here) and runs', async () => {
    const json = join(scratch, 'remounted.json');
    const outcome = await inMountNamespace(`umount ${binfmtRoot}\n! test -e ${binfmtRoot}/register\n${harness(`run -q --grep 'time zone is UTC' --json '${json}' --junit '${scratch}/remounted.xml' '${matrix}'`)}`);
    expect(outcome.exitCode, outcome.stderr).toBe(0);
    const results = JSON.parse(await readFile(json, 'utf8')) as RunResults;
    expect(results.properties.isas.aarch64?.binfmtFlags).toContain('F');
    expect(results.results.map((r) => [r.case, r.verdict])).toContainEqual(['time zone is UTC', 'passed']);
  });

  it('a handler without the F flag: one line naming the handler, its interpreter, the ISA and the fix', async () => {
    const dir = await fakeBinfmt('binfmt-no-f', { flags: 'P', interpreter: '/usr/bin/qemu-aarch64-static' });
    const outcome = await inMountNamespace(`mount --bind '${dir}' ${binfmtRoot}\n${harness(`run -q '${matrix}'`)}`);
    expectOneLine(outcome, /^harness: binfmt: qemu-aarch64 \(\/usr\/bin\/qemu-aarch64-static\) lacks the F flag, so aarch64 binaries fail inside a chroot: run 'harness setup --replace-foreign-binfmt'$/);
  });

  it('a handler whose interpreter is gone: one line naming the handler, the missing path and the ISA', async () => {
    const dir = await fakeBinfmt('binfmt-gone', { flags: 'PF', interpreter: '/usr/libexec/qemu-gone/qemu-aarch64' });
    const outcome = await inMountNamespace(`mount --bind '${dir}' ${binfmtRoot}\n${harness(`run -q '${matrix}'`)}`);
    expectOneLine(outcome, /^harness: binfmt: qemu-aarch64 points at \/usr\/libexec\/qemu-gone\/qemu-aarch64, which is missing \(needed for aarch64\): apt-get install qemu-user-static, then 'harness setup'$/);
  });

  it('qemu-aarch64-static missing (a whiteout over /usr/bin): one line naming the path and the ISA, before any case runs', async () => {
    const overlay = join(scratch, 'usr-bin');
    const started = Date.now();
    const outcome = await inMountNamespace([
      `mkdir -p '${overlay}/upper' '${overlay}/work'`,
      `mknod '${overlay}/upper/qemu-aarch64-static' c 0 0`,
      `mount -t overlay usr-bin -o 'lowerdir=/usr/bin,upperdir=${overlay}/upper,workdir=${overlay}/work' /usr/bin`,
      '! test -e /usr/bin/qemu-aarch64-static',
      harness(`run -q --json '${scratch}/no-qemu.json' '${matrix}'`),
    ].join('\n'));
    expectOneLine(outcome, /^harness: binfmt: harness-qemu-aarch64 points at \/usr\/bin\/qemu-aarch64-static, which is missing \(needed for aarch64\): apt-get install qemu-user-static, then 'harness setup'$/);
    expect(existsSync(join(scratch, 'no-qemu.json'))).toBe(false);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(existsSync('/usr/bin/qemu-aarch64-static')).toBe(true);
  });
});

describe.skipIf(!canRun)('no user namespaces, as nobody and as root', () => {
  /**
   * Runs `script` as root of a new user namespace mapping uids and gids 0-65535 to the same
   * host ids. The test writes the maps from outside (as host root), then the script execs
   * itself again, so it holds its capabilities in the namespace.
   */
  async function inUserNamespace(script: string): Promise<Outcome> {
    const child: ResultPromise = execa('unshare', ['--user', '--mount', '--propagation', 'private', 'sh', '-c', 'read go; exec sh -c "$0"', `set -e\n${script}`], { reject: false, cwd: scratch, stdin: 'pipe' });
    const ownNamespace = await readlink('/proc/self/ns/user');
    // The maps can be written once unshare(2) has run, that is once the child's namespace is not ours.
    while ((await readlink(`/proc/${child.pid}/ns/user`).catch(() => ownNamespace)) === ownNamespace) await new Promise((resolve) => setTimeout(resolve, 10));
    await writeFile(`/proc/${child.pid}/uid_map`, '0 0 65536\n');
    await writeFile(`/proc/${child.pid}/gid_map`, '0 0 65536\n');
    child.stdin!.end('go\n');
    const result = await child;
    return { exitCode: result.exitCode ?? -1, stderr: String(result.stderr), stdout: String(result.stdout) };
  }

  it('user.max_user_namespaces=0 in a namespace of its own: one line saying so and what to do, nothing built', async () => {
    const { cache, command } = await asNobody(`run -q '${matrix}'`);
    const outcome = await inUserNamespace([
      // Per user namespace (kernel >= 4.9): the host's own limit stays as it is.
      'echo 0 > /proc/sys/user/max_user_namespaces',
      'echo "limit here: $(cat /proc/sys/user/max_user_namespaces)" >&2',
      command,
    ].join('\n'));
    const [limit, ...rest] = outcome.stderr.split('\n');
    expect(limit).toBe('limit here: 0');
    expectOneLine({ ...outcome, stderr: rest.join('\n') }, /^harness: not root, and user namespaces are unavailable \(unshare: unshare failed: No space left on device; not root; user\.max_user_namespaces=0, .*\): run as root, or sysctl -w user\.max_user_namespaces=15000$/);
    expect(await readdir(cache)).toEqual([]);
    expect(await readFile('/proc/sys/user/max_user_namespaces', 'utf8')).toBe(hostUserNamespaces);
  });

  it('as root, user.max_user_namespaces=0: one line saying each guest needs one and what to do, nothing built', async () => {
    const cache = await mkdtemp(join(scratch, 'root-cache-'));
    const outcome = await inUserNamespace([
      'echo 0 > /proc/sys/user/max_user_namespaces',
      `HARNESS_CACHE='${cache}' ${harness(`run -q '${matrix}'`)}`,
    ].join('\n'));
    expectOneLine(outcome, /^harness: \/proc\/sys\/user\/max_user_namespaces is 0, and the sandbox gives each guest a user namespace of its own, even as root \(so that it cannot reach the host's kernel\): sysctl -w user\.max_user_namespaces=15000$/);
    expect(await readdir(cache)).toEqual([]);
    // The doctor's row says the same.
    const doctor = await inUserNamespace(['echo 0 > /proc/sys/user/max_user_namespaces', harness('doctor --arch aarch64')].join('\n'));
    expect(doctor.exitCode).toBe(2);
    expect(doctor.stdout).toMatch(/^✗ root or user namespaces +running as root; user\.max_user_namespaces=0, and each guest needs a user namespace of its own\n +fix: sysctl -w user\.max_user_namespaces=15000$/m);
    expect(await readFile('/proc/sys/user/max_user_namespaces', 'utf8')).toBe(hostUserNamespaces);
  });
});

describe.skipIf(!canRun)('a full or read-only cache during an image build', () => {
  /** `harness build-images` into a fresh 4 MiB tmpfs cache whose sources/ is the shared one, read-only. */
  const buildInto = async (prepare: string) => {
    const cache = join(scratch, 'build-cache');
    const outcome = await inMountNamespace([
      `mkdir -p '${cache}'`,
      `mount -t tmpfs -o size=4m build-cache '${cache}'`,
      `mkdir '${cache}/sources'`,
      `mount --bind -o ro '${defaultSourcesDir()}' '${cache}/sources'`,
      prepare.replaceAll('CACHE', cache),
      `set +e; HARNESS_CACHE='${cache}' node '${BIN}' build-images --arch aarch64 >/dev/null 2>'${scratch}/build.err'; echo "exit=$?"`,
      `grep -v '^\\[aarch64\\]' '${scratch}/build.err' >&2`,
      // What the build left in the cache, besides the sources.
      `find '${cache}' -mindepth 1 -path '${cache}/sources' -prune -o -print | sed "s|^${cache}/|left: |"`,
    ].join('\n'));
    const lines = outcome.stdout.split('\n').filter(Boolean);
    return { exitCode: Number(lines[0]?.replace('exit=', '')), stderr: outcome.stderr, left: lines.slice(1) };
  };

  it.skipIf(!existsSync(join(defaultSourcesDir(), 'busybox_1.35.0.orig.tar.bz2')))('a full disk: one line naming the cache dir, no partial image, no temp dir, no log', async () => {
    const outcome = await buildInto('true');
    expect(outcome.exitCode).toBe(2);
    expect(outcome.stderr).toBe(`harness: image build for aarch64: cannot write ${join(scratch, 'build-cache', 'images')}: the disk is full (ENOSPC); free space, or point HARNESS_CACHE at a bigger disk`);
    // The compiler's version line (a few bytes, written whole before the build) fits; no part of an image does.
    expect(outcome.left.sort()).toEqual(['left: images', 'left: tool-versions.json']);
  });

  it.skipIf(!existsSync(join(defaultSourcesDir(), 'busybox_1.35.0.orig.tar.bz2')))('a read-only cache: one line naming the dir, nothing written', async () => {
    const outcome = await buildInto(`mount -o remount,ro 'CACHE'`);
    expect(outcome.exitCode).toBe(2);
    expect(outcome.stderr).toBe(`harness: cache: cannot write ${join(scratch, 'build-cache', 'images')}: not writable (EROFS); point HARNESS_CACHE at a writable directory`);
    expect(outcome.left).toEqual([]);
  });
});
