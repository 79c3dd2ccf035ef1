// prepareImage and checkImageIsa on real archives: the Alpine 3.20.3 minirootfs tarballs,
// OCI layouts and docker-save archives built from them, and hostile tars built here.
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HarnessError } from '../harness/errors.ts';
import { isaByName } from '../harness/isa.ts';
import { REPO_ROOT } from '../harness/paths.ts';
import { checkImageIsa, ImageIsaMismatchError, prepareImage, type ImageSource } from '../harness/rootfs/index.ts';
import { dockerSaveArchive, packTar, sha256, tarOfDirectory, writeOciLayout, type Member } from './fixtures/rootfs/images.ts';

const ALPINE = '/work/shared/alpine-minirootfs/3.20.3';
const HAVE_ALPINE = existsSync(join(ALPINE, 'checksums.sha512'));
const ALPINE_REASON = HAVE_ALPINE ? '' : ` (skipped: ${ALPINE} is absent)`;
if (!HAVE_ALPINE) console.warn(`rootfs tests on real images skipped: ${ALPINE} is absent`);
const IS_ROOT = process.getuid?.() === 0;

const aarch64 = isaByName('aarch64');
const x86_64 = isaByName('x86_64');
const s390x = isaByName('s390x');
const alpineTarball = (arch: string) => join(ALPINE, `alpine-minirootfs-3.20.3-${arch}.tar.gz`);

let scratch: string;
/** A fresh cache for each test that needs an empty one. */
const freshCache = () => mkdtemp(join(scratch, 'cache-'));
/** Entries in <cache>/rootfs/ (completed images and leftover temp dirs alike). */
const cacheEntries = async (cacheDir: string) => readdir(join(cacheDir, 'rootfs')).catch(() => [] as string[]);

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'rootfs-test-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function alpineSha512(arch: string): Promise<string> {
  const line = (await readFile(join(ALPINE, 'checksums.sha512'), 'utf8')).split('\n').find((row) => row.endsWith(`-${arch}.tar.gz`));
  return line!.split(/\s+/)[0]!;
}

async function writeTarball(name: string, members: Member[]): Promise<string> {
  const path = join(scratch, name);
  await writeFile(path, await packTar(members));
  return path;
}

describe(`Alpine minirootfs tarballs${ALPINE_REASON}`, () => {
  it.skipIf(!HAVE_ALPINE)('extracts with the right sha512, keeps BusyBox symlinks, then hits the cache', async () => {
    const cacheDir = await freshCache();
    const path = alpineTarball('aarch64');
    const source: ImageSource = { kind: 'tarball', path, sha512: await alpineSha512('aarch64') };
    const started = Date.now();
    const first = await prepareImage(source, aarch64, { cacheDir });
    const extractMs = Date.now() - started;
    const expectedDigest = `sha256:${sha256(await readFile(path))}`;
    expect(first).toMatchObject({ digest: expectedDigest, origin: 'extracted', defaultCmd: ['/bin/sh'], skipped: [], compressedBytes: (await stat(path)).size });
    expect(first.rootfs).toBe(join(cacheDir, 'rootfs', expectedDigest.slice('sha256:'.length), 'rootfs'));
    expect(await readlink(join(first.rootfs, 'bin/ls'))).toBe('/bin/busybox');
    expect(await readlink(join(first.rootfs, 'sbin/init'))).toBe('/bin/busybox');
    expect((await stat(join(first.rootfs, 'bin/busybox'))).mode & 0o7777).toBe(0o755);
    expect((await stat(join(first.rootfs, 'etc/shadow'))).mode & 0o7777).toBe(0o640);
    expect((await readFile(join(first.rootfs, 'etc/alpine-release'), 'utf8')).trim()).toBe('3.20.3');
    if (IS_ROOT) expect((await stat(join(first.rootfs, 'etc/shadow'))).gid).toBe(42); // shadow group, numerically

    const before = await stat(first.rootfs);
    const again = Date.now();
    const second = await prepareImage(source, aarch64, { cacheDir });
    const hitMs = Date.now() - again;
    console.log(`aarch64 minirootfs: extracted in ${extractMs} ms, cache hit in ${hitMs} ms`);
    expect(second).toMatchObject({ digest: first.digest, rootfs: first.rootfs, origin: 'cache' });
    expect(hitMs).toBeLessThan(extractMs);
    expect((await stat(second.rootfs)).ino).toBe(before.ino);
    expect(await cacheEntries(cacheDir)).toEqual([expectedDigest.slice('sha256:'.length)]);
  });

  it.skipIf(!HAVE_ALPINE)('refuses a wrong sha512 naming path, expected and got, and caches nothing', async () => {
    const cacheDir = await freshCache();
    const path = alpineTarball('aarch64');
    const wrong = await alpineSha512('x86_64');
    const error = await prepareImage({ kind: 'tarball', path, sha512: wrong }, aarch64, { cacheDir }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HarnessError);
    expect((error as HarnessError).exitCode).toBe(2);
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toContain(`expected ${wrong}`);
    expect((error as Error).message).toContain(`got ${await alpineSha512('aarch64')}`);
    expect(await cacheEntries(cacheDir)).toEqual([]);
  });

  it.skipIf(!HAVE_ALPINE)('checkImageIsa passes aarch64 labelled aarch64 and names both ISAs when labelled s390x', async () => {
    const image = await prepareImage({ kind: 'tarball', path: alpineTarball('aarch64') }, aarch64, { cacheDir: await freshCache() });
    await expect(checkImageIsa(image.rootfs, aarch64)).resolves.toBeUndefined();
    const error = await checkImageIsa(image.rootfs, s390x, '/bin/busybox', 'alpine-aarch64.tar.gz').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ImageIsaMismatchError);
    expect(error).toBeInstanceOf(HarnessError);
    expect((error as Error).message).toBe('image alpine-aarch64.tar.gz labelled s390x: /bin/busybox is AArch64 (e_machine 183), ELF64 little-endian; expected IBM S/390 ELF64 big-endian');
    // /bin/sh is a symlink to /bin/busybox: followed inside the rootfs.
    await expect(checkImageIsa(image.rootfs, x86_64, '/bin/sh')).rejects.toThrow(/\/bin\/sh is AArch64 .* expected x86-64 ELF64 little-endian/);
  });

  it.skipIf(!HAVE_ALPINE)('concurrent calls in one process share one extraction', async () => {
    const cacheDir = await freshCache();
    const source: ImageSource = { kind: 'tarball', path: alpineTarball('x86_64') };
    const [a, b] = await Promise.all([prepareImage(source, x86_64, { cacheDir }), prepareImage(source, x86_64, { cacheDir })]);
    expect(a.rootfs).toBe(b.rootfs);
    expect(await cacheEntries(cacheDir)).toEqual([a.digest.slice('sha256:'.length)]);
    await expect(checkImageIsa(a.rootfs, x86_64)).resolves.toBeUndefined();
  });

  it.skipIf(!HAVE_ALPINE)('concurrent processes: one rename wins, the loser removes its copy', async () => {
    const cacheDir = await freshCache();
    const script = fileURLToPath(new URL('./fixtures/rootfs/prepare.ts', import.meta.url));
    const run = () => execa('npx', ['tsx', script, alpineTarball('x86_64'), 'x86_64', cacheDir], { cwd: REPO_ROOT });
    const [a, b] = await Promise.all([run(), run()]);
    const [imageA, imageB] = [JSON.parse(a.stdout), JSON.parse(b.stdout)];
    expect(imageA.rootfs).toBe(imageB.rootfs);
    expect([imageA.origin, imageB.origin].sort()).toEqual(['cache', 'extracted']);
    expect(await cacheEntries(cacheDir)).toEqual([imageA.digest.slice('sha256:'.length)]);
    expect(await readlink(join(imageA.rootfs, 'bin/ls'))).toBe('/bin/busybox');
  });
});

describe(`OCI layouts and docker archives built from the minirootfs${ALPINE_REASON}`, () => {
  let layout: string;
  let manifestDigests: string[];
  let x86Layer: Buffer;
  let armLayer: Buffer;

  beforeAll(async () => {
    if (!HAVE_ALPINE) return;
    layout = join(scratch, 'oci-layout');
    [x86Layer, armLayer] = await Promise.all([readFile(alpineTarball('x86_64')), readFile(alpineTarball('aarch64'))]);
    // A second arm64 layer: a whiteout, and an opaque directory keeping this layer's own file.
    const armTop = await packTar([
      { name: 'etc/.wh.motd' },
      { name: 'etc/apk/world', content: 'busybox-extras\n' },
      { name: 'etc/apk/.wh..wh..opq' },
    ]);
    manifestDigests = await writeOciLayout(layout, [
      { platform: { os: 'linux', architecture: 'amd64' }, layers: [x86Layer], config: { Cmd: ['/bin/sh', '-c', 'echo amd64'] } },
      { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, layers: [armLayer, armTop], config: { Entrypoint: ['/bin/busybox'], Cmd: ['sh'] } },
    ]);
  });

  it.skipIf(!HAVE_ALPINE)('picks the manifest for each ISA, reads Entrypoint + Cmd, applies whiteouts', async () => {
    const cacheDir = await freshCache();
    const amd = await prepareImage({ kind: 'oci', path: layout }, x86_64, { cacheDir });
    expect(amd).toMatchObject({ digest: manifestDigests[0], defaultCmd: ['/bin/sh', '-c', 'echo amd64'], compressedBytes: x86Layer.length });
    await checkImageIsa(amd.rootfs, x86_64);

    const arm = await prepareImage({ kind: 'oci', path: layout }, aarch64, { cacheDir });
    expect(arm).toMatchObject({ digest: manifestDigests[1], defaultCmd: ['/bin/busybox', 'sh'], origin: 'extracted' });
    await checkImageIsa(arm.rootfs, aarch64);
    expect(existsSync(join(arm.rootfs, 'etc/motd'))).toBe(false);
    expect(await readdir(join(arm.rootfs, 'etc/apk'))).toEqual(['world']);
    expect(await readFile(join(arm.rootfs, 'etc/apk/world'), 'utf8')).toBe('busybox-extras\n');
    expect(await readlink(join(arm.rootfs, 'bin/ls'))).toBe('/bin/busybox');
  });

  it.skipIf(!HAVE_ALPINE)('a platform the layout lacks is a HarnessError listing the platforms present', async () => {
    await expect(prepareImage({ kind: 'oci', path: layout }, s390x, { cacheDir: await freshCache() }))
      .rejects.toThrow(/no image for linux\/s390x \(ISA s390x\); platforms present: linux\/amd64, linux\/arm64\/v8/);
  });

  it.skipIf(!HAVE_ALPINE)('reads a classic docker-save archive: config Cmd, platform checked', async () => {
    const cacheDir = await freshCache();
    const { archive, configDigest } = await dockerSaveArchive({ os: 'linux', architecture: 'amd64' }, [gunzipSync(x86Layer)], { Cmd: ['/bin/ash'] });
    const path = join(scratch, 'docker-save.tar');
    await writeFile(path, archive);
    const image = await prepareImage({ kind: 'docker-archive', path }, x86_64, { cacheDir });
    expect(image).toMatchObject({ digest: configDigest, defaultCmd: ['/bin/ash'] });
    await checkImageIsa(image.rootfs, x86_64);
    expect(await readlink(join(image.rootfs, 'bin/ls'))).toBe('/bin/busybox');
    await expect(prepareImage({ kind: 'docker-archive', path }, aarch64, { cacheDir })).rejects.toThrow(/no image for linux\/arm64\/v8 .*platforms present: linux\/amd64/);
    expect((await cacheEntries(cacheDir)).filter((name) => name.startsWith('.tmp-'))).toEqual([]);
  });

  it.skipIf(!HAVE_ALPINE)('reads an OCI layout inside a docker-save archive (newer Docker)', async () => {
    const path = join(scratch, 'docker-save-oci.tar');
    await writeFile(path, await tarOfDirectory(layout));
    const image = await prepareImage({ kind: 'docker-archive', path }, aarch64, { cacheDir: await freshCache() });
    expect(image).toMatchObject({ digest: manifestDigests[1], defaultCmd: ['/bin/busybox', 'sh'] });
    await checkImageIsa(image.rootfs, aarch64);
  });
});

describe('hostile and odd archives', () => {
  it('refuses a member climbing out with ..; nothing lands outside, nothing is cached', async () => {
    const cacheDir = await freshCache();
    const path = await writeTarball('dotdot.tar', [{ name: 'ok', content: 'fine' }, { name: '../escape', content: 'out' }, { name: '../../escape', content: 'out' }]);
    await expect(prepareImage({ kind: 'tarball', path }, x86_64, { cacheDir })).rejects.toThrow(/member '\.\.\/escape' climbs out of the rootfs/);
    expect(existsSync(join(cacheDir, 'rootfs', 'escape'))).toBe(false);
    expect(existsSync(join(cacheDir, 'escape'))).toBe(false);
    expect(await cacheEntries(cacheDir)).toEqual([]);
  });

  it('keeps absolute names, symlinked parents, replaced symlinks and hard links inside the rootfs', async () => {
    const cacheDir = await freshCache();
    const outside = join(scratch, 'outside'); // where a naive extractor would write
    const path = await writeTarball('hostile.tar', [
      { name: `${outside}/abs`, content: 'absolute' },
      { name: 'lib', type: 'symlink', linkname: `${outside}/xyz` },
      { name: 'lib/evil', content: 'via symlinked parent' },
      { name: 'up', type: 'symlink', linkname: '../../../../../../../..' },
      { name: `up${outside}/up-evil`, content: 'via relative symlink' },
      { name: 'swap', type: 'symlink', linkname: `${outside}/swap-target` },
      { name: 'swap', content: 'replaces the symlink' },
      { name: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\n' },
      { name: 'passwd-link', type: 'link', linkname: '/etc/passwd' },
    ]);
    const image = await prepareImage({ kind: 'tarball', path }, x86_64, { cacheDir });
    expect(existsSync(outside)).toBe(false);
    expect(await readFile(join(image.rootfs, outside, 'abs'), 'utf8')).toBe('absolute');
    expect(await readFile(join(image.rootfs, outside, 'xyz/evil'), 'utf8')).toBe('via symlinked parent');
    expect(await readFile(join(image.rootfs, outside, 'up-evil'), 'utf8')).toBe('via relative symlink');
    expect((await lstat(join(image.rootfs, 'swap'))).isFile()).toBe(true);
    expect(await readlink(join(image.rootfs, 'lib'))).toBe(`${outside}/xyz`);
    const link = await stat(join(image.rootfs, 'passwd-link'));
    expect(link.ino).toBe((await stat(join(image.rootfs, 'etc/passwd'))).ino);
    expect(link.ino).not.toBe((await stat('/etc/passwd')).ino);
  });

  it.each([
    ['to a file the archive lacks', '/etc/passwd', /hard link to '\/etc\/passwd', which is no earlier file/],
    ['climbing out with ..', '../../../etc/passwd', /hard link to '\.\.\/\.\.\/\.\.\/etc\/passwd', which climbs out/],
    ['through a symlink to the host /etc', 'host-etc/passwd', /hard link to 'host-etc\/passwd', which is no earlier file/],
  ])('refuses a hard link %s, caching nothing', async (_case, linkname, message) => {
    const cacheDir = await freshCache();
    const hostPasswd = await stat('/etc/passwd');
    const path = await writeTarball(`hardlink-${sha256(linkname).slice(0, 8)}.tar`, [
      { name: 'etc', type: 'directory' },
      { name: 'host-etc', type: 'symlink', linkname: '/etc' },
      { name: 'stolen', type: 'link', linkname },
    ]);
    await expect(prepareImage({ kind: 'tarball', path }, x86_64, { cacheDir })).rejects.toThrow(message);
    expect(await cacheEntries(cacheDir)).toEqual([]);
    expect((await stat('/etc/passwd')).nlink).toBe(hostPasswd.nlink);
  });

  it('creates no device nodes or FIFOs, records them, keeps setuid bits, numeric owners and read-only dirs', async () => {
    const cacheDir = await freshCache();
    const path = await writeTarball('devices.tar', [
      { name: 'dev', type: 'directory', mode: 0o755 },
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o660 },
      { name: 'dev/initctl', type: 'fifo', mode: 0o600 },
      { name: 'bin/su', content: 'not really su', mode: 0o4755, uid: 0, gid: 0 },
      { name: 'home/user/file', content: 'x', mode: 0o640, uid: 1234, gid: 5678 },
      { name: 'ro', type: 'directory', mode: 0o555 },
      { name: 'ro/inside', content: 'written before ro is made read-only' },
    ]);
    const image = await prepareImage({ kind: 'tarball', path }, x86_64, { cacheDir });
    expect(await readdir(join(image.rootfs, 'dev'))).toEqual([]);
    expect(image.skipped).toEqual([
      { name: 'dev/null', reason: 'character device not created' },
      { name: 'dev/sda', reason: 'block device not created' },
      { name: 'dev/initctl', reason: 'FIFO not created' },
    ]);
    expect((await stat(join(image.rootfs, 'bin/su'))).mode & 0o7777).toBe(0o4755);
    expect((await stat(join(image.rootfs, 'ro'))).mode & 0o7777).toBe(0o555);
    expect(await readFile(join(image.rootfs, 'ro/inside'), 'utf8')).toBe('written before ro is made read-only');
    if (IS_ROOT) expect(await stat(join(image.rootfs, 'home/user/file'))).toMatchObject({ uid: 1234, gid: 5678 });
    // A cache hit answers the same record.
    expect((await prepareImage({ kind: 'tarball', path }, x86_64, { cacheDir })).skipped).toEqual(image.skipped);
  });

  it.each([['xz', ['xz', '-c']], ['bzip2', ['bzip2', '-c']], ['zstd', ['zstd', '-c', '-q']]])('reads %s-compressed tarballs by their magic bytes', async (_name, command) => {
    const plain = await writeTarball(`plain-${_name}.tar`, [{ name: 'bin/busybox', content: 'stand-in' }, { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox' }]);
    const compressed = join(scratch, `compressed-${_name}`); // no suffix: the magic decides
    await execa(command[0]!, [...command.slice(1), plain], { stdout: { file: compressed } });
    const image = await prepareImage({ kind: 'tarball', path: compressed }, x86_64, { cacheDir: await freshCache() });
    expect(await readlink(join(image.rootfs, 'bin/sh'))).toBe('/bin/busybox');
    expect(await readFile(join(image.rootfs, 'bin/busybox'), 'utf8')).toBe('stand-in');
  });

  it('applies OCI whiteouts inside the rootfs only, and refuses one that whites out its parent', async () => {
    const cacheDir = await freshCache();
    const victim = join(scratch, 'victim');
    await mkdir(victim);
    await writeFile(join(victim, 'file'), 'host file');
    const lower = await packTar([{ name: 'lib', type: 'symlink', linkname: victim }, { name: 'etc/keep', content: 'k' }, { name: 'etc/gone', content: 'g' }]);
    const layout = join(scratch, 'oci-whiteouts');
    await writeOciLayout(layout, [{ platform: { os: 'linux', architecture: 'amd64' }, layers: [lower, await packTar([{ name: 'lib/.wh.file' }, { name: 'etc/.wh.gone' }])], config: {} }]);
    const image = await prepareImage({ kind: 'oci', path: layout }, x86_64, { cacheDir });
    expect(await readFile(join(victim, 'file'), 'utf8')).toBe('host file');
    expect(await readdir(join(image.rootfs, 'etc'))).toEqual(['keep']);
    expect(image.defaultCmd).toEqual(['/bin/sh']);

    const parentWhiteout = join(scratch, 'oci-parent-whiteout');
    await writeOciLayout(parentWhiteout, [{ platform: { os: 'linux', architecture: 'amd64' }, layers: [lower, await packTar([{ name: 'etc/.wh...' }])], config: {} }]);
    await expect(prepareImage({ kind: 'oci', path: parentWhiteout }, x86_64, { cacheDir })).rejects.toThrow(/member 'etc\/\.wh\.\.\.' whites out its own parent/);
    expect((await cacheEntries(cacheDir)).filter((name) => name.startsWith('.tmp-'))).toEqual([]);
  });

  it('refuses an OCI blob digest that is a path', async () => {
    const layout = join(scratch, 'oci-bad-digest');
    await mkdir(layout);
    await writeFile(join(layout, 'index.json'), JSON.stringify({ manifests: [{ digest: 'sha256:../../../../etc/passwd', platform: { os: 'linux', architecture: 'amd64' } }] }));
    await expect(prepareImage({ kind: 'oci', path: layout }, x86_64, { cacheDir: await freshCache() })).rejects.toThrow(/malformed blob digest 'sha256:\.\.\//);
  });

  it('stops on abort and leaves nothing behind', async () => {
    const cacheDir = await freshCache();
    const path = await writeTarball('abort.tar', [{ name: 'a', content: 'a' }, { name: 'b', content: 'b' }]);
    const controller = new AbortController();
    const preparing = prepareImage({ kind: 'tarball', path }, x86_64, { cacheDir, signal: controller.signal });
    controller.abort(new Error('run cancelled'));
    await expect(preparing).rejects.toThrow('run cancelled');
    expect(await cacheEntries(cacheDir)).toEqual([]);
  });

  it('reports a corrupt compressed tarball as a HarnessError and leaves nothing behind', async () => {
    const cacheDir = await freshCache();
    const path = join(scratch, 'corrupt.tar.xz');
    await writeFile(path, Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Buffer.alloc(512, 7)]));
    await expect(prepareImage({ kind: 'tarball', path }, x86_64, { cacheDir })).rejects.toThrow(/corrupt\.tar\.xz: the archive is truncated or corrupt \(xz -dc: /);
    expect(await cacheEntries(cacheDir)).toEqual([]);
  });

  it('an archive cut at any byte, plain or compressed, ends in a rootfs or a one-line HarnessError, never a hang, and caches nothing half-written', async () => {
    // Cut inside a member's data, the tar stream failed without ending that member: the
    // extraction waited forever (xz, 128 bytes, cut at 81-83: found by test/properties).
    const tar = await packTar([{ name: 'etc', content: ' ', mode: 0o644 }, { name: 'b', content: 'x'.repeat(3000) }]);
    const forms: Record<string, Buffer> = {
      none: tar,
      xz: Buffer.from((await execa('xz', ['-c', '-q'], { input: tar, encoding: 'buffer' })).stdout),
      zstd: Buffer.from((await execa('zstd', ['-c', '-q'], { input: tar, encoding: 'buffer' })).stdout),
    };
    for (const [compression, bytes] of Object.entries(forms)) {
      const cacheDir = await freshCache();
      // Every byte of the compressed forms; every 16th of the plain tar's 5 KiB.
      for (let cut = 1; cut < bytes.length; cut += compression === 'none' ? 16 : 1) {
        const path = join(scratch, `cut-${compression}-${cut}.tar`);
        await writeFile(path, bytes.subarray(0, cut));
        const outcome = await Promise.race([
          prepareImage({ kind: 'tarball', path }, x86_64, { cacheDir }).then((image) => image.rootfs, (error: Error) => error),
          new Promise<string>((resolve) => setTimeout(() => resolve('still extracting after 10 s'), 10_000)),
        ]);
        const where = `${compression} cut at ${cut} of ${bytes.length}`;
        if (outcome instanceof Error) {
          expect(outcome, where).toBeInstanceOf(HarnessError);
          expect(outcome.message, where).toContain(path);
          expect(outcome.message, where).not.toContain('\n');
        } else expect(outcome, where).toMatch(new RegExp(`^${join(cacheDir, 'rootfs')}/`));
        expect((await cacheEntries(cacheDir)).filter((name) => name.startsWith('.tmp-')), where).toEqual([]);
        await rm(path);
      }
    }
  });

  it('uses a directory in place, with a content digest that ignores times', async () => {
    const dir = join(scratch, 'dir-image');
    await mkdir(join(dir, 'bin'), { recursive: true });
    await writeFile(join(dir, 'bin/busybox'), 'stand-in');
    const first = await prepareImage({ kind: 'directory', path: dir }, x86_64);
    expect(first).toMatchObject({ rootfs: dir, origin: 'in-place', defaultCmd: ['/bin/sh'] });
    await writeFile(join(dir, 'bin/busybox'), 'stand-in'); // same bytes, new mtime
    expect((await prepareImage({ kind: 'directory', path: dir }, x86_64)).digest).toBe(first.digest);
    await writeFile(join(dir, 'bin/busybox'), 'changed');
    expect((await prepareImage({ kind: 'directory', path: dir }, x86_64)).digest).not.toBe(first.digest);
    await expect(checkImageIsa(dir, x86_64)).rejects.toThrow(/\/bin\/busybox is not an ELF binary/);
  });

  it('names a missing image path', async () => {
    await expect(prepareImage({ kind: 'tarball', path: join(scratch, 'nope.tar.gz') }, x86_64, { cacheDir: await freshCache() }))
      .rejects.toThrow(/tarball image .*nope\.tar\.gz does not exist/);
  });
});
