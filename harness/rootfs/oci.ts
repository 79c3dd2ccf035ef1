// Reads an OCI image layout (index.json + blobs/) down to the layer files of the image
// for one ISA. Every blob is checked against its digest before it is used.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { HarnessError } from '../errors.ts';
import type { Isa } from '../isa.ts';
import { sha256OfBytes, sha256OfFile } from './digest.ts';
import { defaultCommand, pickForIsa, type Candidate, type ImageConfig, type Platform } from './platform.ts';

/** An image reduced to what extraction needs; docker archives read into the same shape. */
export interface LayeredImage {
  /** sha256 hex naming the image: the manifest digest (OCI) or the config digest (docker). */
  sha256: string;
  /** Layer archives, lowest first. */
  layers: string[];
  defaultCmd: string[];
  compressedBytes: number;
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

interface Index {
  manifests?: Descriptor[];
}

interface Manifest {
  config: Descriptor;
  layers: Descriptor[];
}

const REF_NAME = 'org.opencontainers.image.ref.name';
const INDEX_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];
const DIGEST = /^sha256:([0-9a-f]{64})$/;

export async function readOciLayout(layout: string, isa: Isa, tag: string | undefined, label: string): Promise<LayeredImage> {
  const candidates = await layoutCandidates(layout, tag, label);
  const chosen = pickForIsa(candidates, isa, label);
  const manifest = await readBlobJson<Manifest>(layout, chosen.digest, label);
  const config = await readBlobJson<ImageConfig>(layout, manifest.config.digest, label);
  const layers = await Promise.all(manifest.layers.map((layer) => verifiedBlob(layout, layer.digest, label)));
  const sizes = await Promise.all(layers.map(async (layer) => (await stat(layer)).size));
  return {
    sha256: DIGEST.exec(chosen.digest)![1]!,
    layers,
    defaultCmd: defaultCommand(config),
    compressedBytes: sizes.reduce((sum, size) => sum + size, 0),
  };
}

/** The platforms of the images a layout (under `tag`, or all of it) holds, attestations included. */
export async function layoutPlatforms(layout: string, tag: string | undefined, label: string): Promise<Platform[]> {
  return (await layoutCandidates(layout, tag, label)).map((candidate) => candidate.platform);
}

async function layoutCandidates(layout: string, tag: string | undefined, label: string): Promise<Candidate<Descriptor>[]> {
  const indexText = await readFile(join(layout, 'index.json'), 'utf8').catch(() => {
    throw new HarnessError(`${label} is not an OCI image layout: ${join(layout, 'index.json')} is missing`);
  });
  const index = parseJson<Index>(indexText, `${label}: index.json`);
  const top = (index.manifests ?? []).filter((descriptor) => !tag || descriptor.annotations?.[REF_NAME] === tag);
  if (tag && top.length === 0) {
    const tags = (index.manifests ?? []).map((descriptor) => descriptor.annotations?.[REF_NAME]).filter(Boolean);
    throw new HarnessError(`${label}: no tag '${tag}' in index.json; tags present: ${tags.join(', ') || 'none'}`);
  }
  return manifestCandidates(layout, top, label);
}

/** Flattens nested indexes (multi-arch lists) into image manifests with their platforms. */
async function manifestCandidates(layout: string, descriptors: Descriptor[], label: string, name?: string): Promise<Candidate<Descriptor>[]> {
  const found: Candidate<Descriptor>[] = [];
  for (const descriptor of descriptors) {
    const listedAs = name ?? descriptor.annotations?.[REF_NAME];
    if (INDEX_TYPES.includes(descriptor.mediaType ?? '')) {
      const nested = await readBlobJson<Index>(layout, descriptor.digest, label);
      found.push(...(await manifestCandidates(layout, nested.manifests ?? [], label, listedAs)));
      continue;
    }
    // A lone manifest often carries no platform: its config says.
    const platform = descriptor.platform ?? (await readBlobJson<Platform>(layout, (await readBlobJson<Manifest>(layout, descriptor.digest, label)).config.digest, label));
    found.push({ platform, digest: descriptor.digest, name: listedAs, image: descriptor });
  }
  return found;
}

function blobPath(layout: string, digest: string, label: string): string {
  const hex = DIGEST.exec(digest)?.[1];
  if (!hex) throw new HarnessError(`${label}: unsupported or malformed blob digest '${digest}' (expected sha256:<64 hex>)`);
  return join(layout, 'blobs', 'sha256', hex);
}

async function verifiedBlob(layout: string, digest: string, label: string): Promise<string> {
  const path = blobPath(layout, digest, label);
  checkDigest(path, digest, await sha256OfFile(path).catch(() => missingBlob(path, digest, label)), label);
  return path;
}

async function readBlobJson<T>(layout: string, digest: string, label: string): Promise<T> {
  const path = blobPath(layout, digest, label);
  const bytes = await readFile(path).catch(() => missingBlob(path, digest, label));
  checkDigest(path, digest, sha256OfBytes(bytes), label);
  return parseJson<T>(bytes.toString('utf8'), `${label}: blob ${digest}`);
}

function missingBlob(path: string, digest: string, label: string): never {
  throw new HarnessError(`${label}: blob ${digest} is missing (${path}); the layout is incomplete`);
}

function checkDigest(path: string, digest: string, gotHex: string, label: string): void {
  if (`sha256:${gotHex}` !== digest) throw new HarnessError(`${label}: blob ${path} is corrupt: expected ${digest}, got sha256:${gotHex}`);
}

export function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new HarnessError(`${what} is not valid JSON: ${(error as Error).message}`);
  }
}
