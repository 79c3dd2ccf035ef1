// binfmt_misc on the real kernel: handlers registered with F and P run a real Alpine
// aarch64 BusyBox directly, in a chroot, and by argv[0].
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  binfmtRoot,
  ensureHandlers,
  handlerFor,
  handlerRunsIsa,
  harnessHandlerName,
  isOwnHandler,
  parseHandler,
  qemuVersion,
  readHandlers,
  registerSyntaxToBytes,
  registrationLine,
  removeOwnHandlers,
  type BinfmtHandler,
} from '../harness/host/binfmt.ts';
import { ISAS, isaByName, type Isa } from '../harness/isa.ts';

const isRoot = process.getuid?.() === 0;
const ROOTFS_TARBALL = '/work/shared/alpine-minirootfs/3.20.3/alpine-minirootfs-3.20.3-aarch64.tar.gz';
const hasRootfs = existsSync(ROOTFS_TARBALL);
if (!isRoot) console.warn('binfmt.test: kernel tests skipped: they register binfmt handlers and need root');
if (!hasRootfs) console.warn(`binfmt.test: Alpine run tests skipped: ${ROOTFS_TARBALL} is absent`);

/** The handler the kernel would list for the harness's registration of this ISA. */
function handlerFromIsa(isa: Isa): BinfmtHandler {
  return parseHandler(harnessHandlerName(isa), [
    'enabled',
    `interpreter /usr/bin/qemu-${isa.qemuTarget}-static`,
    'flags: PF',
    'offset 0',
    `magic ${registerSyntaxToBytes(isa.binfmt.magic).toString('hex')}`,
    `mask ${registerSyntaxToBytes(isa.binfmt.mask).toString('hex')}`,
  ].join('\n'));
}

describe('binfmt parsing and matching (pure)', () => {
  it('parses a magic handler and an extension handler', () => {
    const magic = parseHandler('qemu-aarch64', 'enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POCF\noffset 0\nmagic 7f454c46\nmask FFFFFF00\n');
    expect(magic).toEqual({
      name: 'qemu-aarch64', enabled: true, interpreter: '/usr/libexec/qemu-binfmt/aarch64-binfmt-P', flags: 'POCF',
      offset: 0, kind: 'magic', magic: '7f454c46', mask: 'ffffff00',
    });
    const ext = parseHandler('jar', 'disabled\ninterpreter /usr/bin/jexec\nflags: \nextension .jar\n');
    expect(ext).toMatchObject({ enabled: false, kind: 'extension', extension: '.jar', flags: '' });
    expect(ISAS.map((isa) => handlerRunsIsa(ext, isa))).not.toContain(true);
  });

  it('decodes register syntax into bytes', () => {
    expect([...registerSyntaxToBytes('\\x7fELF\\x02')]).toEqual([0x7f, 0x45, 0x4c, 0x46, 0x02]);
  });

  it('matches each ISA handler to its own ISA only (armhf and armv7 share qemu-arm), by magic and mask', () => {
    for (const handlerIsa of ISAS) {
      const runs = ISAS.filter((isa) => handlerRunsIsa(handlerFromIsa(handlerIsa), isa)).map((isa) => isa.name);
      const sameEmulator = ISAS.filter((isa) => isa.qemuTarget === handlerIsa.qemuTarget).map((isa) => isa.name);
      expect(runs, `handler of ${handlerIsa.name}`).toEqual(sameEmulator);
    }
  });

  it('ignores the name: a handler with a misleading name matches by magic, a disabled one not at all', () => {
    const aarch64 = isaByName('aarch64');
    const misnamed = { ...handlerFromIsa(isaByName('s390x')), name: 'qemu-aarch64' };
    const disabled = { ...handlerFromIsa(aarch64), name: 'other', enabled: false };
    expect(handlerFor(aarch64, [misnamed, disabled])).toBeUndefined();
    expect(handlerFor(isaByName('s390x'), [misnamed])?.name).toBe('qemu-aarch64');
  });

  it('a handler that checks a byte the ISA leaves open does not count', () => {
    const aarch64 = isaByName('aarch64');
    // Byte 7 (ELF OS ABI) is masked out for aarch64; a handler insisting on it misses some binaries.
    const strict = { ...handlerFromIsa(aarch64), mask: 'ff'.repeat(20) };
    expect(handlerRunsIsa(strict, aarch64)).toBe(false);
  });

  it('builds the registration line from the ISA table with F and P', () => {
    const armv7 = isaByName('armv7');
    expect(registrationLine(armv7)).toBe(`:harness-qemu-arm:M:0:${armv7.binfmt.magic}:${armv7.binfmt.mask}:/usr/bin/qemu-arm-static:FP`);
  });
});

describe.skipIf(!isRoot)('binfmt on the real kernel (root)', () => {
  const wanted = ['aarch64', 's390x', 'armv7'].map(isaByName);
  const foreignName = `hqtest-foreign-${process.pid}`;
  let rootfs = '';

  beforeAll(async () => {
    if (hasRootfs) {
      rootfs = await mkdtemp(join(tmpdir(), 'binfmt-test-'));
      await execa('tar', ['-xzf', ROOTFS_TARBALL, '-C', rootfs]);
    }
  });
  afterAll(async () => {
    if (rootfs) await rm(rootfs, { recursive: true, force: true });
    if (existsSync(join(binfmtRoot, foreignName))) await writeFile(join(binfmtRoot, foreignName), '-1');
  });

  it('ensureHandlers gives aarch64, s390x and armv7 an F-flag handler and is idempotent', async () => {
    const first = await ensureHandlers(wanted, { hostMachine: 'x86_64' });
    const again = await ensureHandlers(wanted, { hostMachine: 'x86_64' });
    expect(again).toEqual(first);
    for (const [i, status] of first.entries()) {
      expect(status.name).toBe(wanted[i]?.name);
      expect(status.native).toBe(false);
      expect(status.flags).toContain('F');
      expect(status.interpreter).toMatch(/qemu/);
    }
    const handlers = await readHandlers();
    for (const isa of wanted) expect(handlerFor(isa, handlers)?.flags).toContain('F');
  });

  it('reports x86_64 and x86 as native on an x86_64 host, with no handler', async () => {
    const statuses = await ensureHandlers(['x86_64', 'x86'].map(isaByName), { hostMachine: 'x86_64' });
    expect(statuses.map((s) => [s.name, s.native, s.handler])).toEqual([['x86_64', true, null], ['x86', true, null]]);
    await expect(qemuVersion(isaByName('x86'), 'x86_64')).resolves.toBe('native');
  });

  it('parses the real handler files as the kernel prints them', async () => {
    for (const handler of await readHandlers()) {
      const raw = await readFile(join(binfmtRoot, handler.name), 'utf8');
      expect(raw.startsWith(handler.enabled ? 'enabled' : 'disabled')).toBe(true);
      expect(raw).toContain(`interpreter ${handler.interpreter}`);
      if (handler.kind === 'magic') expect(raw).toContain(`magic ${handler.magic}`);
    }
    const aarch64 = (await readHandlers()).find((h) => handlerRunsIsa(h, isaByName('aarch64')));
    expect(aarch64?.magic).toBe(registerSyntaxToBytes(isaByName('aarch64').binfmt.magic).toString('hex'));
  });

  it('qemuVersion reads the emulator version', async () => {
    const version = await qemuVersion(isaByName('s390x'), 'x86_64');
    const { stdout } = await execa('/usr/bin/qemu-s390x-static', ['--version']);
    expect(stdout.split('\n')[0]).toContain(`version ${version}`);
  });

  describe.skipIf(!hasRootfs)('Alpine 3.20.3 aarch64 BusyBox through binfmt', () => {
    it('runs the static musl loader directly, which runs busybox uname -m', async () => {
      const { stdout } = await execa(join(rootfs, 'lib/ld-musl-aarch64.so.1'), [join(rootfs, 'bin/busybox'), 'uname', '-m']);
      expect(stdout).toBe('aarch64');
    });

    it('runs busybox in a chroot with no emulator inside (F flag)', async () => {
      expect(existsSync(join(rootfs, 'usr/bin/qemu-aarch64-static'))).toBe(false);
      const { stdout } = await execa('chroot', [rootfs, '/bin/busybox', 'uname', '-m']);
      expect(stdout).toBe('aarch64');
    });

    it('dispatches applets by argv[0]: a symlink, and argv[0] alone (P flag)', async () => {
      const viaSymlink = await execa('chroot', [rootfs, '/bin/ls', '/etc']);
      expect(viaSymlink.stdout.split('\n')).toContain('alpine-release');
      // Only argv[0] says 'ls' here: without P, QEMU would hand busybox its path instead.
      const viaArgv0 = await execa('chroot', [rootfs, '/bin/sh', '-c', 'exec -a ls /bin/busybox /etc']);
      expect(viaArgv0.stdout).toBe(viaSymlink.stdout);
    });
  });

  it('keeps a foreign handler with F, refuses one without F, and replaces it only when asked', async () => {
    const riscv64 = isaByName('riscv64');
    const foreignRiscv = `hqtest-riscv64-${process.pid}`;
    const registerForeign = (flags: string) =>
      writeFile(join(binfmtRoot, 'register'), `:${foreignRiscv}:M:0:${riscv64.binfmt.magic}:${riscv64.binfmt.mask}:/usr/bin/qemu-riscv64-static:${flags}`);
    const removeForeign = async () => {
      if (existsSync(join(binfmtRoot, foreignRiscv))) await writeFile(join(binfmtRoot, foreignRiscv), '-1');
    };
    const ownName = harnessHandlerName(riscv64);
    try {
      if (existsSync(join(binfmtRoot, ownName))) await writeFile(join(binfmtRoot, ownName), '-1');
      await registerForeign('');
      await expect(ensureHandlers([riscv64], { hostMachine: 'x86_64' })).rejects.toThrow(`${foreignRiscv} (/usr/bin/qemu-riscv64-static) lacks the F flag`);
      await removeForeign();
      await registerForeign('F');
      const [kept] = await ensureHandlers([riscv64], { hostMachine: 'x86_64' });
      expect(kept).toMatchObject({ handler: foreignRiscv, flags: 'F', registeredByHarness: false });
      const [replaced] = await ensureHandlers([riscv64], { hostMachine: 'x86_64', replaceForeign: true });
      expect(replaced).toMatchObject({ handler: ownName, registeredByHarness: true });
      expect(existsSync(join(binfmtRoot, foreignRiscv))).toBe(false);
    } finally {
      await removeForeign();
      await ensureHandlers([riscv64], { hostMachine: 'x86_64' });
    }
  });

  it('removeOwnHandlers removes only harness-* handlers, leaving a foreign one', async () => {
    await writeFile(join(binfmtRoot, 'register'), `:${foreignName}:M:0:HQ-bogus-${process.pid}::/bin/false:`);
    const before = await readHandlers();
    const ownIsas = ISAS.filter((isa) => before.some((h) => h.name === harnessHandlerName(isa)));
    try {
      const removed = await removeOwnHandlers();
      expect(removed.sort()).toEqual(before.filter(isOwnHandler).map((h) => h.name).sort());
      const after = await readHandlers();
      expect(after.filter(isOwnHandler)).toEqual([]);
      expect(after.map((h) => h.name).sort()).toEqual(before.filter((h) => !isOwnHandler(h)).map((h) => h.name).sort());
      expect(after.find((h) => h.name === foreignName)).toMatchObject({ enabled: true, interpreter: '/bin/false', flags: '' });
    } finally {
      // Other tests (and other processes) need the handlers back.
      await ensureHandlers(ownIsas, { hostMachine: 'x86_64' });
    }
    expect((await readHandlers()).filter(isOwnHandler).map((h) => h.name).sort()).toEqual(before.filter(isOwnHandler).map((h) => h.name).sort());
  });
});
