// Probe binaries do not depend on where the checkout is: the same sources compiled from two
// copies of the probes directory at different paths give byte-identical binaries (their
// messages use __FILE__, which -ffile-prefix-map maps to 'probes').
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { isaByName } from '../harness/isa.ts';
import { PROBES_DIR, probeFlags } from '../harness/suites/musl/compile.ts';
import { imageForTest } from './built-images.ts';

const aarch64 = isaByName('aarch64');
const { image, why } = await imageForTest(aarch64);
const toolchain = image?.toolchain;
if (why) console.warn(`reproducible-probes.test: skipped: ${why}`);

describe.skipIf(!toolchain)('reproducible probes', () => {
  let scratch: string | undefined;
  afterAll(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('two checkouts at different paths build byte-identical probe binaries, with no path in them', async () => {
    scratch = await mkdtemp(join(tmpdir(), 'repro-probes-'));
    const build = async (checkout: string) => {
      const dir = join(scratch!, checkout, 'harness/suites/musl/probes');
      await cp(PROBES_DIR, dir, { recursive: true });
      const out = join(scratch!, `${checkout}.bin`);
      // iconv.c uses probe.h's CHECK, whose message carries __FILE__.
      await execa(toolchain!.cc, [...toolchain!.cflags, ...probeFlags(dir), '-o', out, join(dir, 'iconv.c')]);
      return { dir, bytes: await readFile(out) };
    };
    const [a, b] = await Promise.all([build('checkout-one'), build('second-checkout-elsewhere')]);
    expect(a.bytes.equals(b.bytes)).toBe(true);
    expect(a.bytes.includes(Buffer.from(a.dir))).toBe(false);
    expect(a.bytes.includes(Buffer.from('probes/iconv.c'))).toBe(true);
  });
});
