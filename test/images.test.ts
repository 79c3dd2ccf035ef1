// The image build for real: musl + BusyBox cross-built for a 64-bit little-endian, a
// big-endian and a 32-bit ISA, checked file by file, as an OCI layout (skopeo, umoci),
// booted under qemu-user through binfmt in a chroot, and its failure modes on bad input.
// Images go to the harness cache (built once, reused by later runs); the bad-input
// cases use fresh cache dirs.
import { createHash } from 'node:crypto';
import { access, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { execa } from 'execa';
import { extract } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseElf, readElf, elfMismatch } from '../harness/elf.ts';
import { HarnessError } from '../harness/errors.ts';
import { ensureHandlers } from '../harness/host/binfmt.ts';
import { type Isa, isaByName } from '../harness/isa.ts';
import { cacheRoot, REPO_ROOT } from '../harness/paths.ts';
import { type BuildResult, buildImages, findBuiltImage, toolchainFor } from '../images/build.ts';
import { TEMP_PREFIX } from '../harness/cache-temp.ts';
import { MULTI_PLATFORM_TAG, OCI_MEDIA, REF_NAME } from '../images/oci.ts';
import { SOURCES, sourcesFor } from '../images/sources.ts';

const ISAS_UNDER_TEST = ['aarch64', 's390x', 'armv7'].map(isaByName);
const MAX_ROOTFS_TAR_GZ = 1_200_000;
const IS_ROOT = process.getuid?.() === 0;
const ROOT_REASON = IS_ROOT ? '' : ' (skipped: chroot and binfmt need root)';
if (!IS_ROOT) console.warn('image boot tests skipped: chroot and binfmt_misc need root');

interface TarMember {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  linkname?: string;
  content: Buffer;
}

async function readTarGz(path: string): Promise<Map<string, TarMember>> {
  const members = new Map<string, TarMember>();
  const parser = extract();
  const done = new Promise<void>((resolve, reject) => {
    parser.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
      stream.on('end', () => {
        const name = header.name.replace(/^\.\//, '/').replace(/(.)\/$/, '$1');
        members.set(name, {
          name, type: header.type ?? 'file', mode: header.mode ?? 0, uid: header.uid ?? -1, gid: header.gid ?? -1,
          linkname: header.linkname ?? undefined, content: Buffer.concat(chunks),
        });
        next();
      });
    });
    parser.on('finish', resolve);
    parser.on('error', reject);
  });
  parser.end(gunzipSync(await readFile(path)));
  await done;
  return members;
}

/** Every leftover temp dir under a cache, at any depth. */
async function tempDirsIn(cacheDir: string): Promise<string[]> {
  const entries = await readdir(cacheDir, { recursive: true }).catch(() => [] as string[]);
  return entries.filter((entry) => entry.split('/').some((part) => part.startsWith(TEMP_PREFIX)));
}

const cacheDir = cacheRoot();
let result: BuildResult;
let scratch: string;
const progress: string[] = [];

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'images-test-'));
  const started = Date.now();
  result = await buildImages({ arches: ISAS_UNDER_TEST, cacheDir, onProgress: (isa, stage) => progress.push(`${isa.name}: ${stage}`) });
  console.log(`images for ${ISAS_UNDER_TEST.map((i) => i.name).join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${progress.join('; ')}`);
});

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe.each(ISAS_UNDER_TEST.map((isa) => [isa.name, isa] as const))('image %s', (_name, isa: Isa) => {
  const image = () => {
    const built = result.images[isa.name];
    if (!built) throw new Error(`no ${isa.name} image in the build result`);
    return built;
  };

  it('has a rootfs.tar.gz whose sha512 matches its .sha512 file, the manifest and the result', async () => {
    const { rootfsTarGz, sha512, manifest } = image();
    const gz = await readFile(rootfsTarGz);
    const actual = createHash('sha512').update(gz).digest('hex');
    expect(await readFile(`${rootfsTarGz}.sha512`, 'utf8')).toBe(`${actual}  rootfs.tar.gz\n`);
    expect(sha512).toBe(actual);
    expect(manifest.rootfs.sha512).toBe(actual);
    expect(manifest.sizes.rootfsTarGz).toBe(gz.length);
    expect(gz.length).toBeLessThan(MAX_ROOTFS_TAR_GZ);
  });

  it('has a manifest naming the ISA, the pinned sources, the versions and the cross compiler', () => {
    const { manifest, dir } = image();
    expect(manifest.isa).toMatchObject({ name: isa.name, gccTriplet: isa.gccTriplet, muslArch: isa.muslArch, qemuTarget: isa.qemuTarget });
    expect(manifest.sources).toEqual(sourcesFor(isa).map(({ name, version, file, sha256 }) => ({ name, version, file, sha256 })));
    expect(manifest.versions).toEqual({ busybox: '1.35.0', musl: '1.2.3' });
    expect(manifest.toolchain.compiler.startsWith(`${isa.gccTriplet}-gcc `)).toBe(true);
    expect(dir.endsWith(`${isa.name}-${manifest.inputHash}`)).toBe(true);
    expect(manifest.sizes.busybox).toBeGreaterThan(500_000);
    expect(manifest.sizes.rootfsTar).toBeGreaterThan(manifest.sizes.rootfsTarGz);
  });

  it('lays out the rootfs like Alpine: static busybox for the ISA, musl loader, locked root, empty /dev', async () => {
    const members = await readTarGz(image().rootfsTarGz);
    const member = (path: string) => {
      const found = members.get(path);
      if (!found) throw new Error(`${path} missing from the ${isa.name} rootfs`);
      return found;
    };
    const busybox = member('/bin/busybox');
    const facts = parseElf(busybox.content);
    expect(elfMismatch(facts, isa)).toBeUndefined();
    expect(facts.interpreter).toBeUndefined();
    expect(busybox.mode).toBe(0o755);

    const loader = member(`/lib/ld-musl-${isa.muslArch}.so.1`);
    expect(loader.type).toBe('file');
    expect(elfMismatch(parseElf(loader.content), isa)).toBeUndefined();
    expect(member(`/lib/libc.musl-${isa.muslArch}.so.1`)).toMatchObject({ type: 'symlink', linkname: `ld-musl-${isa.muslArch}.so.1` });
    for (const applet of ['/bin/sh', '/bin/ls', '/usr/bin/tr', '/usr/bin/wc', '/sbin/init']) {
      expect(member(applet)).toMatchObject({ type: 'symlink', linkname: '/bin/busybox' });
    }

    const shadow = member('/etc/shadow');
    expect(shadow.content.toString().split('\n')[0]).toMatch(/^root:\*:/);
    expect(shadow.mode).toBe(0o640);
    const osRelease = member('/etc/os-release').content.toString();
    for (const field of ['ID', 'NAME', 'VERSION_ID', 'PRETTY_NAME']) expect(osRelease).toMatch(new RegExp(`^${field}=.+`, 'm'));
    expect(member('/etc/localtime').content.subarray(0, 4).toString()).toBe('TZif');
    expect(member('/tmp')).toMatchObject({ type: 'directory', mode: 0o1777 });
    expect(member('/root')).toMatchObject({ type: 'directory', mode: 0o700 });
    expect(member('/dev').type).toBe('directory');
    expect([...members.keys()].filter((path) => path.startsWith('/dev/'))).toEqual([]);
    expect([...members.values()].filter((m) => m.uid !== 0 || (m.gid !== 0 && m.name !== '/etc/shadow')).map((m) => m.name)).toEqual([]);
  });

  it('keeps a musl toolchain in the cache that compiles static programs for the ISA', async () => {
    const toolchain = await toolchainFor(isa, cacheDir);
    expect(toolchain).toEqual(image().toolchain);
    const specs = await readFile(join(toolchain!.sysroot, 'lib', 'musl-gcc.specs'), 'utf8');
    expect(specs).toContain(`/lib/ld-musl-${isa.muslArch}.so.1`);
    expect(specs).not.toContain(`${toolchain!.sysroot}/lib/ld-musl`);
    const source = join(scratch, `hello-${isa.name}.c`);
    const program = join(scratch, `hello-${isa.name}`);
    await writeFile(source, '#include <stdio.h>\n#include <linux/limits.h>\nint main(void) { printf("%d\\n", PATH_MAX); return 0; }\n');
    await execa(toolchain!.cc, [...toolchain!.cflags, '-static', '-O2', '-o', program, source]);
    const facts = await readElf(program);
    expect(elfMismatch(facts, isa)).toBeUndefined();
    expect(facts.interpreter).toBeUndefined();
  });

  it('is accepted by skopeo in the OCI layout, by its tag and by platform from the multi-platform tag', async () => {
    const { architecture, variant } = isa.platform;
    const byTag = JSON.parse((await execa('skopeo', ['inspect', `oci:${result.ociLayout}:${isa.name}`])).stdout);
    expect(byTag).toMatchObject({ Architecture: architecture, Os: 'linux', Digest: expect.stringMatching(/^sha256:/) });
    const override = ['--override-arch', architecture, ...(variant ? ['--override-variant', variant] : [])];
    const multi = `oci:${result.ociLayout}:${MULTI_PLATFORM_TAG}`;
    const byPlatform = JSON.parse((await execa('skopeo', [...override, 'inspect', multi])).stdout);
    // Digest is the multi-platform index's here; the layers say which image was picked.
    expect(byPlatform).toMatchObject({ Architecture: architecture, Layers: byTag.Layers });
    expect(byTag.Layers).toEqual([`sha256:${image().manifest.rootfs.gzSha256}`]);
    const config = JSON.parse((await execa('skopeo', [...override, 'inspect', '--config', multi])).stdout);
    expect(config).toMatchObject({ architecture, os: 'linux', config: { Cmd: ['/bin/sh'] } });
    expect(config.rootfs.diff_ids).toEqual([`sha256:${image().manifest.rootfs.tarSha256}`]);
  });

  it.skipIf(!IS_ROOT)(`boots in a chroot under qemu-user via binfmt${ROOT_REASON}`, async () => {
    await ensureHandlers([isa]);
    const root = await mkdtemp(join(scratch, `root-${isa.name}-`));
    try {
      await execa('tar', ['xzf', image().rootfsTarGz, '-C', root, '--numeric-owner']);
      const { stdout } = await execa('chroot', [root, '/bin/sh', '-c', 'uname -m; echo hello world | tr a-z A-Z | wc -c']);
      expect(stdout.split('\n').map((line) => line.trim())).toEqual([isa.unameMachine, '12']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('build cache and OCI layout', () => {
  it('finds every image again in seconds without building', async () => {
    const started = Date.now();
    const stages: string[] = [];
    const again = await buildImages({ arches: ISAS_UNDER_TEST, cacheDir, onProgress: (isa, stage) => stages.push(`${isa.name}: ${stage}`) });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(stages).toEqual(ISAS_UNDER_TEST.map((isa) => `${isa.name}: cached`));
    for (const isa of ISAS_UNDER_TEST) {
      expect(again.images[isa.name]).toMatchObject({ cached: true, sha512: result.images[isa.name]!.sha512 });
      expect((await findBuiltImage(isa, cacheDir))?.dir).toBe(result.images[isa.name]!.dir);
    }
    expect(again.ociLayout).toBe(result.ociLayout);
  });

  it('lists one tagged manifest per platform and one multi-platform index in index.json', async () => {
    interface Entry { mediaType: string; platform?: unknown; annotations: Record<string, string> }
    const index = JSON.parse(await readFile(join(result.ociLayout, 'index.json'), 'utf8')) as { manifests: Entry[] };
    const images = index.manifests.filter((m) => m.mediaType === OCI_MEDIA.manifest);
    expect(images.map((m) => m.platform)).toEqual(ISAS_UNDER_TEST.map((isa) => isa.platform));
    expect(images.map((m) => m.annotations[REF_NAME])).toEqual(ISAS_UNDER_TEST.map((isa) => isa.name));
    expect(index.manifests.filter((m) => m.mediaType === OCI_MEDIA.index).map((m) => m.annotations[REF_NAME])).toEqual([MULTI_PLATFORM_TAG]);
    await access(join(result.ociLayout, 'oci-layout'));
  });

  it('unpacks one platform with umoci', async () => {
    const bundle = join(scratch, 'umoci-bundle');
    try {
      await execa('umoci', ['unpack', '--rootless', '--image', `${result.ociLayout}:aarch64`, bundle]);
      const facts = await readElf(join(bundle, 'rootfs', 'bin', 'busybox'));
      expect(elfMismatch(facts, isaByName('aarch64'))).toBeUndefined();
    } finally {
      await rm(bundle, { recursive: true, force: true });
    }
  });
});

describe('bad input', () => {
  const aarch64 = isaByName('aarch64');

  it('rejects a source tarball with the wrong sha256 (exit 2) and leaves no temp dir', async () => {
    const sourcesDir = await mkdtemp(join(scratch, 'sources-'));
    const emptyCache = await mkdtemp(join(scratch, 'cache-'));
    for (const source of SOURCES) await writeFile(join(sourcesDir, source.file), `not ${source.file}\n`);
    const error = await buildImages({ arches: [aarch64], sourcesDir, cacheDir: emptyCache }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HarnessError);
    expect((error as HarnessError).exitCode).toBe(2);
    const first = SOURCES[0]!;
    const got = createHash('sha256').update(`not ${first.file}\n`).digest('hex');
    expect((error as Error).message).toContain(join(sourcesDir, first.file));
    expect((error as Error).message).toContain(`expected ${first.sha256}, got ${got}`);
    expect(await tempDirsIn(emptyCache)).toEqual([]);
    expect(await tempDirsIn(sourcesDir)).toEqual([]);
  });

  it('names a missing cross compiler and its package before doing any work (exit 2)', async () => {
    const emptyCache = await mkdtemp(join(scratch, 'cache-'));
    const noCompiler: Isa = { ...aarch64, gccTriplet: 'nonexistent-linux-gnu', compiler: { kind: 'gcc', package: 'gcc-nonexistent-linux-gnu' } };
    const error = await buildImages({ arches: [aarch64, noCompiler], cacheDir: emptyCache }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HarnessError);
    expect((error as HarnessError).exitCode).toBe(2);
    expect((error as Error).message).toBe(
      'aarch64: cross compiler nonexistent-linux-gnu-gcc not found; run `harness setup` or `apt-get install gcc-nonexistent-linux-gnu`',
    );
    expect(await readdir(emptyCache)).toEqual([]);
  });

  it('removes the temp dir when a build is aborted midway', async () => {
    const emptyCache = await mkdtemp(join(scratch, 'cache-'));
    const controller = new AbortController();
    const onProgress = (_isa: Isa, stage: string) => {
      if (stage.startsWith('building musl')) setTimeout(() => controller.abort(new Error('test abort')), 1500);
    };
    const error = await buildImages({ arches: [aarch64], cacheDir: emptyCache, onProgress, signal: controller.signal }).catch((e: unknown) => e);
    expect((error as Error).message).toContain('test abort');
    expect(await tempDirsIn(emptyCache)).toEqual([]);
    expect(await readdir(join(emptyCache, 'images'))).toEqual([]);
  });

  it('build-images stopped by SIGINT exits 130 with one line, leaving no temp dir (no internal error)', async () => {
    const emptyCache = await mkdtemp(join(scratch, 'cache-'));
    const child = execa('node', [join(REPO_ROOT, 'harness', 'bin.mjs'), 'build-images', '--arch', 'aarch64', '--sources', join(cacheRoot(), 'sources')], {
      env: { HARNESS_CACHE: emptyCache, CI: 'true' }, reject: false, all: true,
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('building musl')) child.kill('SIGINT');
    });
    const result = await child;
    expect(result.stdout).toContain('[aarch64] building musl');
    expect(result.exitCode).toBe(130);
    expect(result.stderr.trim()).toBe('harness: interrupted; images finished before the stop are cached, the others were not built');
    expect(await tempDirsIn(emptyCache)).toEqual([]);
    expect(await readdir(join(emptyCache, 'images'))).toEqual([]);
  });
});
