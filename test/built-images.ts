// The built image (and its musl toolchain) that a test of real runs needs. As root it is built
// when missing: vitest runs the files in any order, so on a cold cache a file may come before
// every file that builds its image, and would skip what it should run. Without root the real
// runs are skipped anyway: it is only looked up. Undefined, with the reason, where it cannot be had.
import { HarnessError } from '../harness/errors.ts';
import { type Isa, isaByName } from '../harness/isa.ts';
import { type BuiltImage, buildImages, findBuiltImage } from '../images/build.ts';

export type ImageForTest = { image: BuiltImage; why?: undefined } | { image?: undefined; why: string };

export async function imageForTest(isa: Isa): Promise<ImageForTest> {
  if (process.getuid?.() !== 0) {
    const image = await findBuiltImage(isa);
    return image ? { image } : { why: `no built ${isa.name} image in the cache (run harness build-images --arch ${isa.name})` };
  }
  try {
    return { image: (await buildImages({ arches: [isa] })).images[isa.name]! };
  } catch (error) {
    if (!(error instanceof HarnessError)) throw error;
    return { why: `the ${isa.name} image cannot be built here: ${error.message}` };
  }
}

/** imageForTest for each ISA named, one after another (a cold build uses every core), by name. */
export async function imagesForTest(names: readonly string[]): Promise<Map<string, ImageForTest>> {
  const images = new Map<string, ImageForTest>();
  for (const name of names) images.set(name, await imageForTest(isaByName(name)));
  return images;
}
