// Reads a `docker save` archive, already unpacked into a staging dir: either the classic
// manifest.json + <id>/layer.tar shape, or the OCI layout newer Docker writes inside it.
import { access, readFile, stat } from 'node:fs/promises';
import { HarnessError } from '../errors.ts';
import type { Isa } from '../isa.ts';
import { sha256OfBytes } from './digest.ts';
import { resolveInRoot } from './in-root.ts';
import { parseJson, readOciLayout, type LayeredImage } from './oci.ts';
import { defaultCommand, pickForIsa, type Candidate, type ImageConfig, type Platform } from './platform.ts';

interface ManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

export async function readDockerArchive(staging: string, isa: Isa, label: string): Promise<LayeredImage> {
  const hasOciIndex = await access(await inStaging(staging, 'index.json')).then(() => true, () => false);
  if (hasOciIndex) return readOciLayout(staging, isa, undefined, label);
  const manifestText = await readFile(await inStaging(staging, 'manifest.json'), 'utf8').catch(() => {
    throw new HarnessError(`${label} is not a docker save archive: it holds neither manifest.json nor index.json`);
  });
  const entries = parseJson<ManifestEntry[]>(manifestText, `${label}: manifest.json`);
  const candidates: Candidate<ManifestEntry & { configBytes: Buffer; config: ImageConfig }>[] = [];
  for (const entry of entries) {
    const configBytes = await readFile(await inStaging(staging, entry.Config)).catch(() => {
      throw new HarnessError(`${label}: manifest.json names config ${entry.Config}, which the archive lacks`);
    });
    const config = parseJson<Platform & ImageConfig>(configBytes.toString('utf8'), `${label}: ${entry.Config}`);
    candidates.push({ platform: config, digest: sha256OfBytes(configBytes), name: entry.RepoTags?.join(' '), image: { ...entry, configBytes, config } });
  }
  const chosen = pickForIsa(candidates, isa, label);
  const layers = await Promise.all(chosen.Layers.map((layer) => inStaging(staging, layer)));
  const sizes = await Promise.all(layers.map(async (layer, i) => {
    const stats = await stat(layer).catch(() => undefined);
    if (!stats?.isFile()) throw new HarnessError(`${label}: manifest.json names layer ${chosen.Layers[i]}, which the archive lacks`);
    return stats.size;
  }));
  return {
    // Docker's image ID: the config names every layer by its diff ID.
    sha256: sha256OfBytes(chosen.configBytes),
    layers,
    defaultCmd: defaultCommand(chosen.config),
    compressedBytes: sizes.reduce((sum, size) => sum + size, 0),
  };
}

/** Names from manifest.json are archive members: resolved inside the staging dir, never beyond. */
function inStaging(staging: string, name: string): Promise<string> {
  return resolveInRoot(staging, name, { followFinal: true, createParents: false }).catch((error: Error) => {
    throw new HarnessError(`docker archive member '${name}' cannot be read: ${error.message}`);
  });
}
