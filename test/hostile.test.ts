// Hostile images, refused or contained, the host untouched: tar members that climb out (..,
// absolute names, symlinked parents, hard links out), 4096-byte names; device nodes, setuid
// files and world-writable dirs judged from the archive itself (recorded in the cache entry);
// and, under QEMU on the built aarch64 image, a guest that loops, tries the network, writes
// /proc/sys and sysrq, and mounts. A million tiny files: refused at limits.archive_members,
// and so is an image cached under a higher cap, in the same words. (Fork bombs, a full /tmp and a gigabyte of stdout: limits.test.)
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tarStream from 'tar-stream';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HarnessError } from '../harness/errors.ts';
import { ensureHandlers } from '../harness/host/binfmt.ts';
import { isaByName } from '../harness/isa.ts';
import { loadMatrix } from '../harness/matrix/load.ts';
import { REPO_ROOT } from '../harness/paths.ts';
import { prepareImage } from '../harness/rootfs/index.ts';
import { ownCgroupLeaks } from '../harness/sandbox/cgroup.ts';
import { runInSandbox, sandboxLeaks, snapshotHost, type HostSnapshot } from '../harness/sandbox/index.ts';
import { imageCases } from '../harness/suites/image/index.ts';
import { buildImages } from '../images/build.ts';
import { tinyFilesTarGz } from './fixtures/rootfs/images.ts';

const aarch64 = isaByName('aarch64');
const isRoot = process.getuid?.() === 0;
let scratch: string;

type Member = { header: Partial<tarStream.Header> & { name: string }; body?: string };

async function tarFile(name: string, members: Member[]): Promise<string> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk) => void chunks.push(chunk as Buffer));
  const ended = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const { header, body } of members) pack.entry(header as tarStream.Header, body ?? '');
  pack.finalize();
  await ended;
  const path = join(scratch, name);
  await writeFile(path, Buffer.concat(chunks));
  return path;
}

const dir = (name: string, mode = 0o755): Member => ({ header: { name, type: 'directory', mode } });
const file = (name: string, body = 'x', mode = 0o644): Member => ({ header: { name, type: 'file', mode }, body });

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'hostile-test-'));
});
afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('hostile archives', () => {
  const outside = () => join(scratch, 'outside');
  const refusals: Array<[string, Member[], RegExp]> = [
    ['dot-dot', [dir('etc/'), file('etc/../../outside/x')], /climbs out of the rootfs with '\.\.'/],
    ['hard link out', [{ header: { name: 'steal', type: 'link', linkname: '../../../../etc/passwd' } }], /hard link to .*climbs out/],
    ['4096-byte name', [file(`${'a'.repeat(250)}/`.repeat(16) + 'x')], /cannot extract|name|long/i],
  ];
  it.each(refusals)('refuses %s, writes nothing outside, caches nothing', async (label, members, message) => {
    const cacheDir = join(scratch, `cache-${label.replace(/\W/g, '-')}`);
    const path = await tarFile(`${label.replace(/\W/g, '-')}.tar`, [dir('bin/'), file('bin/busybox'), ...members]);
    const error = await prepareImage({ kind: 'tarball', path }, aarch64, { cacheDir }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HarnessError);
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message.split('\n')).toHaveLength(1);
    expect(existsSync(outside())).toBe(false);
    expect(await readdir(join(cacheDir, 'rootfs')).catch(() => [])).toEqual([]);
  });

  it('resolves a symlinked parent with the rootfs as /: the member lands inside', async () => {
    const path = await tarFile('symlinked-parent.tar', [dir('bin/'), file('bin/busybox'), { header: { name: 'up', type: 'symlink', linkname: '../../../../..' } }, file('up/outside/x')]);
    const image = await prepareImage({ kind: 'tarball', path }, aarch64, { cacheDir: join(scratch, 'cache-symlink') });
    expect(existsSync(outside())).toBe(false);
    expect(await readFile(join(image.rootfs, 'outside/x'), 'utf8')).toBe('x');
  });

  it('keeps an absolute member inside the rootfs', async () => {
    const path = await tarFile('absolute.tar', [dir('bin/'), file('bin/busybox'), file(join(scratch, 'outside-abs'))]);
    const image = await prepareImage({ kind: 'tarball', path }, aarch64, { cacheDir: join(scratch, 'cache-abs') });
    expect(existsSync(join(scratch, 'outside-abs'))).toBe(false);
    expect(existsSync(join(image.rootfs, scratch, 'outside-abs'))).toBe(true);
  });

  it('judges device nodes, setuid files and world-writable dirs from the archive, recorded in the cache entry', async () => {
    const path = await tarFile('shady.tar', [
      dir('bin/'), file('bin/busybox'), dir('dev/'),
      { header: { name: 'dev/sda', type: 'block-device', mode: 0o660, devmajor: 8, devminor: 0 } },
      { header: { name: 'dev/mem', type: 'character-device', mode: 0o640, devmajor: 1, devminor: 1 } },
      file('bin/su', 'x', 0o4755), file('bin/wall', 'x', 0o2755),
      dir('tmp/', 0o1777), dir('var/', 0o755), dir('var/drop/', 0o777),
    ]);
    const cacheDir = join(scratch, 'cache-shady');
    const image = await prepareImage({ kind: 'tarball', path }, aarch64, { cacheDir });
    const expected = { devices: ['/dev/sda', '/dev/mem'], setuid: ['/bin/su', '/bin/wall'], worldWritableDirs: ['/var/drop'] };
    expect(image.archive).toEqual(expected);
    // The extracted tree has no device node; the record keeps what the archive shipped, for cache hits too.
    expect(await readdir(join(image.rootfs, 'dev'))).toEqual([]);
    expect(JSON.parse(await readFile(join(image.rootfs, '..', 'image.json'), 'utf8')).archive).toEqual(expected);
    expect((await prepareImage({ kind: 'tarball', path }, aarch64, { cacheDir })).archive).toEqual(expected);

    const cases = await imageCases({
      isa: aarch64, settings: {},
      image: { ref: 'shady', digest: image.digest, rootfs: image.rootfs, applets: [], defaultCmd: ['/bin/sh'], archive: image.archive },
    });
    const findings = (name: string) => cases.find((c) => c.name === name)!.argv.slice(4);
    expect(findings('/dev is empty in the image')).toEqual(['/dev/sda is a device node in the archive', '/dev/mem is a device node in the archive']);
    expect(findings('no setuid or setgid files in the archive')).toEqual(['/bin/su is setuid or setgid', '/bin/wall is setuid or setgid']);
    expect(findings('world-writable directories have the sticky bit')).toEqual(['/var/drop is world-writable without the sticky bit']);
  });
});

describe('limits.archive_members', () => {
  it('refused at the matrix\'s limits.archive_members, quickly, with one line, caching nothing', async () => {
    const archive = join(scratch, 'million.tar.gz');
    const generated = Date.now();
    await tinyFilesTarGz(archive, 1_000_000);
    const generateMs = Date.now() - generated;
    const matrix = join(scratch, 'million.yaml');
    await writeFile(matrix, `arches: [aarch64]\nimages:\n  - { name: million, tarball: '${archive}' }\nsuites: { image: {} }\nlimits: { archive_members: 20000 }\n`);
    const cache = join(scratch, 'cache-million');
    const started = Date.now();
    const result = await execa('node', [join(REPO_ROOT, 'harness', 'bin.mjs'), 'list', matrix], { reject: false, env: { HARNESS_CACHE: cache } });
    const refuseMs = Date.now() - started;
    console.log(`million tiny files: generated in ${generateMs} ms, refused in ${refuseMs} ms`);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe(`harness: ${archive}: more than 20000 members; refusing a hostile archive (raise limits.archive_members in the matrix if the image is real)`);
    expect(await readdir(join(cache, 'rootfs'))).toEqual([]);
    expect(refuseMs).toBeLessThan(60_000);
  });

  it.each(['tarball', 'oci'] as const)('an image (%s) extracted under a higher cap is refused under a lower one as a fresh extraction is; the entry stays for runs that allow it', async (kind) => {
    const built = await buildImages({ arches: [aarch64] });
    const image = kind === 'tarball' ? `tarball: '${built.images.aarch64!.rootfsTarGz}'` : `oci: '${built.ociLayout}', tag: aarch64`;
    const list = async (name: string, cap: number, cache: string) => {
      const matrix = join(scratch, `${kind}-${name}.yaml`);
      await writeFile(matrix, `arches: [aarch64]\nimages:\n  - { name: real, ${image} }\nsuites: { image: {} }\nlimits: { archive_members: ${cap} }\n`);
      const result = await execa('node', [join(REPO_ROOT, 'harness', 'bin.mjs'), 'list', matrix], { reject: false, env: { HARNESS_CACHE: cache } });
      return { code: result.exitCode, stderr: result.stderr };
    };
    const warm = join(scratch, `cache-${kind}-warm`);
    expect((await list('allowed', 250_000, warm)).code).toBe(0);
    const [entry] = await readdir(join(warm, 'rootfs'));
    const record = join(warm, 'rootfs', entry!, 'image.json');
    const recorded = await readFile(record, 'utf8');
    const counts = JSON.parse(recorded).memberCounts as number[];
    const members = counts.reduce((sum, count) => sum + count, 0);
    if (kind === 'tarball') expect(members).toBe((await execa('tar', ['-tzf', built.images.aarch64!.rootfsTarGz])).stdout.split('\n').length);

    // One member under what the image has: a fresh extraction refuses it, and so does the warm cache.
    const cold = join(scratch, `cache-${kind}-cold`);
    const fresh = await list('fresh', members - 1, cold);
    expect(fresh.code).toBe(2);
    expect(fresh.stderr).toMatch(new RegExp(`^harness: .*: more than ${members - 1} members; refusing a hostile archive \\(raise limits\\.archive_members in the matrix if the image is real\\)$`));
    expect(await readdir(join(cold, 'rootfs'))).toEqual([]);
    expect(await list('reused', members - 1, warm)).toEqual(fresh);
    // The entry is untouched, and used again by a run whose cap allows it.
    expect(await readFile(record, 'utf8')).toBe(recorded);
    expect(await list('exact', members, warm)).toEqual({ code: 0, stderr: '' });
    // An entry made before the counts were recorded: counted from the archive's headers.
    const { memberCounts: _, ...older } = JSON.parse(recorded);
    await writeFile(record, `${JSON.stringify(older, null, 2)}\n`);
    expect(await list('older', members - 1, warm)).toEqual(fresh);
    expect(await list('older-exact', members, warm)).toEqual({ code: 0, stderr: '' });
  });

  it('archive_members is the matrix\'s alone: a suite that sets it is told where it goes', async () => {
    const matrix = join(scratch, 'suite-members.yaml');
    await writeFile(matrix, 'arches: [aarch64]\nimages: [built]\nsuites: { image: { limits: { archive_members: 10 } } }\n');
    await expect(loadMatrix(matrix)).rejects.toThrow(/suite-members\.yaml:3: suites\.image\.limits\.archive_members: archive_members applies to the whole matrix \(images are extracted once, before any suite\): set it under the matrix's limits:/);
  });
});

describe.skipIf(!isRoot)('hostile guests under QEMU (built aarch64 image)', () => {
  let rootfs: string;
  let before: HostSnapshot;
  let toolchain: { cc: string; cflags: string[] };
  beforeAll(async () => {
    before = await snapshotHost();
    await ensureHandlers([aarch64]);
    const built = (await buildImages({ arches: [aarch64] })).images.aarch64!;
    toolchain = built.toolchain;
    rootfs = (await prepareImage({ kind: 'tarball', path: built.rootfsTarGz, sha512: built.sha512 }, aarch64)).rootfs;
  });
  afterAll(async () => {
    if (before) expect(sandboxLeaks(before, await snapshotHost())).toEqual({ mounts: [], processes: [], stagingDirs: [] });
    expect(await ownCgroupLeaks()).toEqual([]);
  });

  it('a shell that loops forever is killed at its timeout, whole tree included', async () => {
    const result = await runInSandbox({ rootfs, isa: aarch64, argv: ['/bin/sh', '-c', 'while :; do :; done & while :; do :; done'], timeoutMs: 3000 });
    expect(result).toMatchObject({ timedOut: true, signal: 'SIGKILL' });
  });

  it('no network but loopback, no host sysctls or sysrq, mounts stay in its own namespace', async () => {
    const hostname = await readFile('/proc/sys/kernel/hostname', 'utf8');
    const swappiness = await readFile('/proc/sys/vm/swappiness', 'utf8');
    const script = [
      'ip -o link | cut -d: -f2 | tr -d " "',
      'wget -q -T 2 -O- http://192.0.2.1/ >/dev/null 2>&1 && echo net-open || echo net-closed',
      'echo 0 > /proc/sys/vm/swappiness 2>/dev/null && echo sysctl-written || echo sysctl-refused',
      'echo h > /proc/sysrq-trigger 2>/dev/null && echo sysrq-written || echo sysrq-refused',
      'mkdir -p /mnt/x && mount -t tmpfs guest-tmpfs /mnt/x && echo mounted',
    ].join('\n');
    const result = await runInSandbox({ rootfs, isa: aarch64, argv: ['/bin/sh', '-c', script], timeoutMs: 60_000 });
    expect(result.stdout).toBe('lo\nnet-closed\nsysctl-refused\nsysrq-refused\nmounted\n');
    expect(await readFile('/proc/sys/vm/swappiness', 'utf8')).toBe(swappiness);
    expect(await readFile('/proc/sys/kernel/hostname', 'utf8')).toBe(hostname);
    expect(await readFile('/proc/mounts', 'utf8')).not.toContain('guest-tmpfs');
  });

  it('root in the guest cannot undo the read-only /proc, mount another /proc or sysfs, or make device nodes; its own mounts, hostname and loopback still work', async () => {
    const hostname = await readFile('/proc/sys/kernel/hostname', 'utf8');
    const script = [
      'mount -o remount,bind,rw /proc/sys 2>/dev/null && echo remounted || echo remount-refused',
      'umount /proc/sys 2>/dev/null && echo unmounted || echo umount-refused',
      'umount -l /proc/sysrq-trigger 2>/dev/null && echo sysrq-unmounted || echo sysrq-umount-refused',
      'mkdir -p /mnt/p && mount -t proc proc /mnt/p 2>/dev/null && echo proc-mounted || echo proc-refused',
      'mkdir -p /mnt/s && mount -t sysfs sysfs /mnt/s 2>/dev/null && echo sysfs-mounted || echo sysfs-refused',
      'mknod /tmp/disk b 8 0 2>/dev/null && echo block-node-made || echo mknod-refused',
      'mknod /tmp/mem c 1 1 2>/dev/null && echo char-node-made || echo mknod-refused',
      'mkdir -p /mnt/x && mount -t tmpfs own /mnt/x && umount /mnt/x && echo own-mount-ok',
      'hostname guest-named && hostname',
      'ifconfig lo 127.0.0.2 up && echo lo-configured',
      'id -u',
    ].join('\n');
    const result = await runInSandbox({ rootfs, isa: aarch64, argv: ['/bin/sh', '-c', script], timeoutMs: 60_000 });
    expect(result.stdout).toBe('remount-refused\numount-refused\nsysrq-umount-refused\nproc-refused\nsysfs-refused\nmknod-refused\nmknod-refused\nown-mount-ok\nguest-named\nlo-configured\n0\n');
    expect(await readFile('/proc/sys/kernel/hostname', 'utf8')).toBe(hostname);
  });

  it('the guest sees its cgroups as /, not the host\'s cgroup paths, and cannot mount cgroupfs through that namespace', async () => {
    const script = [
      'cut -d: -f3 /proc/self/cgroup | sort -u',
      'mkdir -p /tmp/cg && mount -t cgroup2 none /tmp/cg 2>/dev/null && echo cgroup2-mounted || echo cgroup2-refused',
      'mkdir -p /tmp/mem && mount -t cgroup -o memory none /tmp/mem 2>/dev/null && echo memory-mounted || echo memory-refused',
    ].join('\n');
    const result = await runInSandbox({ rootfs, isa: aarch64, argv: ['/bin/sh', '-c', script], timeoutMs: 60_000 });
    expect(result.stdout).toBe('/\ncgroup2-refused\nmemory-refused\n');
  });

  it('root in the guest cannot make a cgroup namespace, so cannot mount cgroup2 (the host\'s tree where it sits at the root): under QEMU and natively', async () => {
    const probe = join(scratch, 'cgroupns.c');
    await writeFile(probe, [
      '#define _GNU_SOURCE',
      '#include <sched.h>',
      '#include <stdio.h>',
      '#include <sys/mount.h>',
      '#include <sys/stat.h>',
      'int main(void) {',
      '  mkdir("/tmp/cg", 0755);',
      '  if (unshare(CLONE_NEWCGROUP) < 0) { perror("unshare(CLONE_NEWCGROUP)"); return 3; }',
      '  if (mount("none", "/tmp/cg", "cgroup2", 0, 0) < 0) { perror("mount cgroup2"); return 4; }',
      '  puts("cgroup2 mounted");',
      '  return 0;',
      '}',
    ].join('\n'));
    const binaries = { aarch64: join(scratch, 'cgroupns-aarch64'), native: join(scratch, 'cgroupns-native') };
    await execa(toolchain.cc, [...toolchain.cflags, '-static', '-O2', '-o', binaries.aarch64, probe]);
    await execa('cc', ['-static', '-O2', '-o', binaries.native, probe]);
    for (const binary of Object.values(binaries)) {
      const result = await runInSandbox({ rootfs, isa: aarch64, argv: ['/probe'], hostFiles: { '/probe': binary }, timeoutMs: 60_000 });
      expect({ exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr }, binary).toEqual({ exitCode: 3, stdout: '', stderr: 'unshare(CLONE_NEWCGROUP): Operation not permitted\n' });
    }
  });
});
