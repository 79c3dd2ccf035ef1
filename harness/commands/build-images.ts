// `harness build-images`: builds the images with a status line per ISA, then prints where
// each output is.
import logUpdate from 'log-update';
import { buildImages } from '../../images/build.ts';
import { EXIT_OK } from '../errors.ts';
import type { Isa } from '../isa.ts';
import { onStopSignals } from './stop-signals.ts';

export interface BuildImagesCommandOptions {
  arches: Isa[];
  jobs: number;
  sourcesDir?: string;
}

function formatBytes(bytes: number): string {
  return `${(bytes / 1_000_000).toFixed(2)} MB`;
}

export async function buildImagesCommand(options: BuildImagesCommandOptions): Promise<number> {
  const live = process.stdout.isTTY && !process.env.CI;
  const stages = new Map(options.arches.map((isa) => [isa.name, 'waiting']));
  const started = Date.now();
  const render = () => logUpdate([...stages].map(([name, stage]) => `${name.padEnd(9)} ${stage}`).join('\n'));
  const stop = onStopSignals();
  try {
    const result = await buildImages({
      arches: options.arches,
      jobs: options.jobs,
      sourcesDir: options.sourcesDir,
      signal: stop.signal,
      onProgress: (isa, stage) => {
        stages.set(isa.name, stage);
        if (live) render();
        else console.log(`[${isa.name}] ${stage}`);
      },
    });
    if (live) logUpdate.done();
    for (const isa of options.arches) {
      const image = result.images[isa.name]!;
      console.log(`${isa.name.padEnd(9)} ${image.cached ? 'cached' : 'built '} ${formatBytes(image.manifest.sizes.rootfsTarGz)}  ${image.rootfsTarGz}`);
    }
    console.log(`OCI layout: ${result.ociLayout}`);
    console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return EXIT_OK;
  } catch (error) {
    // A stop is no bug: the builds' temp dirs are gone, the images built before it are kept.
    if (!stop.signal.aborted) throw error;
    if (live) logUpdate.done();
    console.error('harness: interrupted; images finished before the stop are cached, the others were not built');
    return stop.exitCode();
  } finally {
    stop.dispose();
  }
}
