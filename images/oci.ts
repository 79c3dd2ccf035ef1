// Writes one multi-platform OCI image layout over built rootfs tarballs: a gzip layer, a
// config and a manifest per ISA. index.json lists each manifest with its platform, tagged
// with the ISA name (umoci and skopeo take `<dir>:<isa>`), plus a nested image index over
// all of them tagged `latest`, from which skopeo picks by --override-arch/--override-variant.
// (skopeo 1.9 refuses an untagged `oci:<dir>` whose index.json has more than one entry,
// and umoci finds a tag that reaches several manifests ambiguous: hence both kinds of tag.)
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Isa } from '../harness/isa.ts';
import { sha256Hex } from './tarball.ts';

export const OCI_MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

/** index.json annotation that names a manifest; `oci:<dir>:<isa>` and umoci's `<dir>:<isa>` use it. */
export const REF_NAME = 'org.opencontainers.image.ref.name';
/** The tag of the nested index over every platform. */
export const MULTI_PLATFORM_TAG = 'latest';

export interface OciImageInput {
  isa: Isa;
  rootfsTarGz: string;
  gzSha256: string;
  gzSize: number;
  /** sha256 of the uncompressed tar: the layer's diff_id. */
  tarSha256: string;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/** Writes the layout into dir, an empty directory. */
export async function writeOciLayout(dir: string, images: OciImageInput[], createdSeconds: number): Promise<void> {
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const putJson = async (mediaType: string, value: object): Promise<Descriptor> => {
    const bytes = Buffer.from(JSON.stringify(value));
    const hex = sha256Hex(bytes);
    await writeFile(join(blobs, hex), bytes);
    return { mediaType, digest: `sha256:${hex}`, size: bytes.length };
  };
  const created = new Date(createdSeconds * 1000).toISOString();
  const manifests = [];
  for (const image of images) {
    await copyFile(image.rootfsTarGz, join(blobs, image.gzSha256));
    const layer: Descriptor = { mediaType: OCI_MEDIA.layer, digest: `sha256:${image.gzSha256}`, size: image.gzSize };
    const config = await putJson(OCI_MEDIA.config, {
      created,
      ...image.isa.platform,
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: [`sha256:${image.tarSha256}`] },
      history: [{ created, created_by: 'images/build.ts (musl + BusyBox from source)' }],
    });
    const manifest = await putJson(OCI_MEDIA.manifest, { schemaVersion: 2, mediaType: OCI_MEDIA.manifest, config, layers: [layer] });
    manifests.push({ ...manifest, platform: image.isa.platform, annotations: { [REF_NAME]: image.isa.name } });
  }
  const multiPlatform = await putJson(OCI_MEDIA.index, {
    schemaVersion: 2,
    mediaType: OCI_MEDIA.index,
    manifests: manifests.map(({ annotations: _tag, ...descriptor }) => descriptor),
  });
  const index = { schemaVersion: 2, mediaType: OCI_MEDIA.index, manifests: [{ ...multiPlatform, annotations: { [REF_NAME]: MULTI_PLATFORM_TAG } }, ...manifests] };
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
}
