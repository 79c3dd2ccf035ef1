// One image reference written as text (a line of a bisect series, a command-line argument)
// turned into an ImageSource. Transports as skopeo spells them (`oci:`, `docker-archive:`,
// `dir:`, `tarball:`), else the path decides: an OCI layout, a rootfs directory, a tarball.
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { HarnessError } from '../errors.ts';
import type { ImageSource } from './index.ts';

const TRANSPORTS = ['oci', 'docker-archive', 'dir', 'tarball'] as const;
/** References the harness cannot fetch itself: say so instead of treating them as paths. */
const REMOTE = /^(?:https?|docker|ftp):\/\//i;

function transportOf(text: string): { transport?: (typeof TRANSPORTS)[number]; rest: string } {
  const colon = text.indexOf(':');
  const prefix = colon > 0 ? text.slice(0, colon) : '';
  const transport = TRANSPORTS.find((known) => known === prefix);
  return transport ? { transport, rest: text.slice(colon + 1) } : { rest: text };
}

/** `path[:tag]` of an OCI reference; a colon inside the path is kept when no tag follows it. */
function splitTag(rest: string): { path: string; tag?: string } {
  const colon = rest.lastIndexOf(':');
  if (colon <= 0 || rest.slice(colon + 1).includes('/')) return { path: rest };
  return { path: rest.slice(0, colon), tag: rest.slice(colon + 1) };
}

/** The sha512 in `<tarball>.sha512` (sha512sum format), when that file exists beside it. */
async function sidecarSha512(tarball: string): Promise<string | undefined> {
  const text = await readFile(`${tarball}.sha512`, 'utf8').catch(() => undefined);
  return text?.trim().split(/\s+/)[0];
}

/**
 * Resolves `text` against `baseDir` (relative paths). `label` names where the reference
 * was written (e.g. `series.txt:4`) in errors.
 */
export async function resolveImageReference(text: string, baseDir: string, label: string = text): Promise<ImageSource> {
  const reference = text.trim();
  if (!reference) throw new HarnessError(`${label}: empty image reference`);
  if (REMOTE.test(reference)) {
    throw new HarnessError(`${label}: '${reference}' is a URL or registry reference, which this harness cannot fetch; download it (skopeo copy, curl) and name the file or OCI layout`);
  }
  const { transport, rest } = transportOf(reference);
  const { path: rawPath, tag } = transport === 'oci' ? splitTag(rest) : { path: rest, tag: undefined };
  const path = isAbsolute(rawPath) ? rawPath : resolve(baseDir, rawPath);
  const stats = await stat(path).catch(() => undefined);
  if (!stats) throw new HarnessError(`${label}: image ${path} does not exist`);
  const isOciLayout = stats.isDirectory() && (await stat(resolve(path, 'oci-layout')).then(() => true, () => false));
  const kind = transport ?? (isOciLayout ? 'oci' : stats.isDirectory() ? 'dir' : 'tarball');
  const wantsDirectory = kind === 'oci' || kind === 'dir';
  if (wantsDirectory !== stats.isDirectory()) throw new HarnessError(`${label}: ${path} must be a ${wantsDirectory ? 'directory' : 'file'} for a ${kind} reference`);
  switch (kind) {
    case 'oci':
      return { kind: 'oci', path, ...(tag && { tag }) };
    case 'dir':
      return { kind: 'directory', path };
    case 'docker-archive':
      return { kind: 'docker-archive', path };
    case 'tarball': {
      const sha512 = await sidecarSha512(path);
      return { kind: 'tarball', path, ...(sha512 && { sha512 }) };
    }
  }
}

/** The reference as one would write it back: the transport and the path. */
export function describeImageSource(source: ImageSource): string {
  switch (source.kind) {
    case 'oci':
      return `oci:${source.path}${source.tag ? `:${source.tag}` : ''}`;
    case 'directory':
      return source.path;
    case 'docker-archive':
      return `docker-archive:${source.path}`;
    case 'tarball':
      return source.path;
  }
}
