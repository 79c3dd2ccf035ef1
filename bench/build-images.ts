// Measures the image build against its targets: all ISAs cold (fresh cache) within 15 min
// on 2 cores, an unchanged rebuild within 5 s, each rootfs.tar.gz under 1.2 MB, and a
// second clean build of one ISA giving the same bytes.
// Usage: npx tsx bench/build-images.ts [isa ...]   (default: every ISA of the table)
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Isa, ISAS, isaByName } from '../harness/isa.ts';
import { type BuildResult, buildImages } from '../images/build.ts';

const COLD_TARGET_S = 15 * 60;
const WARM_TARGET_S = 5;
const SIZE_TARGET_BYTES = 1_200_000;

const arches = process.argv.length > 2 ? process.argv.slice(2).map(isaByName) : [...ISAS];
const verdict = (ok: boolean) => (ok ? 'ok' : 'MISSED');
const seconds = (ms: number) => (ms / 1000).toFixed(1);

async function timedBuild(isas: Isa[], cacheDir: string, perIsa?: Map<string, number>): Promise<{ result: BuildResult; ms: number }> {
  const started = Date.now();
  const startedAt = new Map<string, number>();
  const result = await buildImages({
    arches: isas,
    cacheDir,
    onProgress: (isa, stage) => {
      const elapsed = Date.now() - started;
      console.log(`  ${seconds(elapsed).padStart(6)} s  ${isa.name}: ${stage}`);
      if (stage === 'unpacking sources') startedAt.set(isa.name, Date.now());
      if (stage === 'done') perIsa?.set(isa.name, Date.now() - (startedAt.get(isa.name) ?? started));
    },
  });
  return { result, ms: Date.now() - started };
}

const scratch = await mkdtemp(join(tmpdir(), 'bench-images-'));
try {
  console.log(`cold build of ${arches.map((i) => i.name).join(', ')} on ${availableParallelism()} cores, cache ${scratch}/cold`);
  const perIsa = new Map<string, number>();
  const cold = await timedBuild(arches, join(scratch, 'cold'), perIsa);
  console.log('warm build (same inputs)');
  const warm = await timedBuild(arches, join(scratch, 'cold'));

  const probe = arches[0]!;
  console.log(`second clean build of ${probe.name} (reproducibility)`);
  const again = await timedBuild([probe], join(scratch, 'again'));
  const first = cold.result.images[probe.name]!.sha512;
  const second = again.result.images[probe.name]!.sha512;

  console.log('\nISA        build s   busybox B   rootfs.tar.gz B   size target');
  let sizesOk = true;
  for (const isa of arches) {
    const image = cold.result.images[isa.name]!;
    const gz = image.manifest.sizes.rootfsTarGz;
    sizesOk &&= gz < SIZE_TARGET_BYTES;
    console.log(`${isa.name.padEnd(10)} ${seconds(perIsa.get(isa.name) ?? 0).padStart(7)} ${String(image.manifest.sizes.busybox).padStart(11)} ${String(gz).padStart(17)}   ${verdict(gz < SIZE_TARGET_BYTES)}`);
  }
  console.log(`\ncold total: ${seconds(cold.ms)} s (target < ${COLD_TARGET_S} s on 2 cores) ${verdict(cold.ms / 1000 < COLD_TARGET_S)}`);
  console.log(`warm total: ${seconds(warm.ms)} s (target < ${WARM_TARGET_S} s) ${verdict(warm.ms / 1000 < WARM_TARGET_S)}`);
  console.log(`sizes: every rootfs.tar.gz < ${SIZE_TARGET_BYTES} B ${verdict(sizesOk)}`);
  console.log(`reproducible: ${probe.name} sha512 ${first.slice(0, 16)}… vs ${second.slice(0, 16)}… ${verdict(first === second)}`);
} finally {
  await rm(scratch, { recursive: true, force: true });
}
