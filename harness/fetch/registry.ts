// Images by registry reference (host[:port]/repo:tag or @sha256:...), pulled with skopeo:
// `skopeo copy --all` copies the whole index (every platform) into an OCI layout in the
// cache, <cacheDir>/registry/<key>/layout, keyed by the reference. The copy goes to a temp
// dir that is checked (every platform known, every blob present and matching its digest)
// before it is renamed into place, so a refused or broken pull leaves nothing behind and a
// later run pulls nothing.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeCacheTempDir, renameIntoPlace } from '../cache-temp.ts';
import { HarnessError } from '../errors.ts';
import { ISAS, platformString } from '../isa.ts';
import { removeTree } from '../rootfs/cache.ts';
import { sha256OfBytes } from '../rootfs/digest.ts';
import { layoutPlatforms } from '../rootfs/oci.ts';
import { describePlatform, isRunnable, unknownPlatforms, type Platform } from '../rootfs/platform.ts';
import type { FetchProgress } from './progress.ts';

export interface RegistryRef {
  /** host[:port]/repository[:tag][@digest], with Docker Hub's defaults filled in. */
  reference: string;
  host: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export interface PullOptions {
  cacheDir: string;
  /** Verify TLS (and require HTTPS); default: on except for a registry on this host. */
  tlsVerify?: boolean;
  signal?: AbortSignal;
  progress?: FetchProgress;
}

export interface PulledImage {
  /** The OCI layout in the cache. */
  layout: string;
  /** Its tag inside the layout. */
  tag: string;
  /** The platforms of every image the index holds (attestations included). */
  platforms: Platform[];
  origin: 'pulled' | 'cache';
}

interface PullRecord {
  reference: string;
  tag: string;
  platforms: Platform[];
}

const RECORD = 'pulled.json';
/** The tag a reference by digest gets inside the cached layout. */
const DIGEST_TAG = 'pulled';
const HOST = /^(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:]+\])(?::\d+)?$/i;
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const inflight = new Map<string, Promise<PulledImage>>();

/**
 * Parses `[docker://]host[:port]/repo[:tag][@sha256:<hex>]`; a name without a registry host
 * is Docker Hub's (`alpine:3.20` is docker.io/library/alpine:3.20). Undefined when it is no
 * such reference.
 */
export function parseRegistryRef(text: string): RegistryRef | undefined {
  const stripped = text.replace(/^docker:\/\//, '');
  const [name, digest, ...extra] = stripped.split('@');
  if (!name || extra.length || (digest !== undefined && !DIGEST.test(digest))) return undefined;
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  const tag = colon > slash ? name.slice(colon + 1) : undefined;
  const path = (tag === undefined ? name : name.slice(0, colon)).split('/');
  const first = path[0]!;
  const hasHost = path.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const host = hasHost ? first : 'docker.io';
  const components = hasHost ? path.slice(1) : path.length === 1 ? ['library', ...path] : path;
  if (!HOST.test(host)) return undefined;
  if (!components.every((component) => COMPONENT.test(component))) return undefined;
  if (tag !== undefined && !TAG.test(tag)) return undefined;
  const repository = components.join('/');
  const effectiveTag = tag ?? (digest ? undefined : 'latest');
  const reference = `${host}/${repository}${effectiveTag ? `:${effectiveTag}` : ''}${digest ? `@${digest}` : ''}`;
  return { reference, host, repository, ...(effectiveTag && { tag: effectiveTag }), ...(digest && { digest }) };
}

/** A registry on this host (a test's, a CI service's) usually speaks plain HTTP: TLS is not checked there. */
export function isLocalRegistry(host: string): boolean {
  const name = host.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  return name === 'localhost' || name === '::1' || /^127\.\d+\.\d+\.\d+$/.test(name);
}

export function pullImage(ref: RegistryRef, options: PullOptions): Promise<PulledImage> {
  const entry = join(options.cacheDir, 'registry', sha256OfBytes(ref.reference));
  const running = inflight.get(entry);
  if (running) return running;
  const work = (async (): Promise<PulledImage> => {
    const hit = await readRecord(entry);
    if (hit) return hit;
    const temp = await makeCacheTempDir(join(options.cacheDir, 'registry'), 'pull');
    try {
      const tag = ref.tag ?? DIGEST_TAG;
      await skopeoCopy(ref, join(temp, 'layout'), tag, options);
      // Reading the platforms also checks every manifest and config against its digest.
      const platforms = await layoutPlatforms(join(temp, 'layout'), tag, ref.reference);
      const unknown = unknownPlatforms(platforms);
      if (unknown.length) {
        throw new HarnessError(`registry image ${ref.reference}: its index holds platform ${unknown.join(', ')}, which no ISA of the harness runs (known: ${ISAS.map(platformString).join(', ')})`);
      }
      const record: PullRecord = { reference: ref.reference, tag, platforms };
      await writeFile(join(temp, RECORD), `${JSON.stringify(record, null, 2)}\n`);
      if (!(await renameIntoPlace(temp, entry))) {
        const winner = await readRecord(entry);
        if (winner) return winner;
        throw new HarnessError(`cache entry ${entry} is incomplete (no ${RECORD}); delete it and run again`);
      }
      return { layout: join(entry, 'layout'), tag, platforms, origin: 'pulled' };
    } finally {
      await removeTree(temp);
    }
  })().finally(() => inflight.delete(entry));
  inflight.set(entry, work);
  return work;
}

async function readRecord(entry: string): Promise<PulledImage | undefined> {
  const text = await readFile(join(entry, RECORD), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const record = JSON.parse(text) as PullRecord;
  return { layout: join(entry, 'layout'), tag: record.tag, platforms: record.platforms, origin: 'cache' };
}

async function skopeoCopy(ref: RegistryRef, layout: string, tag: string, options: PullOptions): Promise<void> {
  const tlsVerify = options.tlsVerify ?? !isLocalRegistry(ref.host);
  const argv = ['copy', '--all', '--quiet', ...(tlsVerify ? [] : ['--src-tls-verify=false']), `docker://${ref.reference}`, `oci:${layout}:${tag}`];
  const shown = options.progress?.start(`docker://${ref.reference} (every platform)`, undefined, 'pull');
  try {
    // Loaded on first use: execa's import costs more than `harness list` may take in all.
    const { execa } = await import('execa');
    await execa('skopeo', argv, { stdin: 'ignore', cancelSignal: options.signal });
  } catch (error) {
    shown?.end(false);
    if (options.signal?.aborted) throw options.signal.reason;
    const failure = error as { code?: string; stderr?: string; shortMessage?: string };
    if (failure.code === 'ENOENT') throw new HarnessError(`registry image ${ref.reference}: skopeo is not installed; run harness setup (or apt-get install skopeo)`);
    throw new HarnessError(`registry image ${ref.reference}: cannot pull: ${skopeoProblem(failure.stderr || failure.shortMessage || '')}`);
  }
  shown?.end(true);
}

/** skopeo's fatal message, unquoted, with what it means in front. */
export function skopeoProblem(stderr: string): string {
  const lines = stderr.trim().split('\n');
  const last = lines[lines.length - 1] ?? '';
  const message = /msg="((?:[^"\\]|\\.)*)"/.exec(last)?.[1]?.replace(/\\(.)/g, '$1') ?? last;
  const meaning = [
    [/connection refused/i, 'the registry is unreachable (connection refused)'],
    [/no such host|server misbehaving|temporary failure in name resolution/i, 'the registry host does not resolve (is this host offline?)'],
    [/network is unreachable|i\/o timeout|no route to host/i, 'the registry cannot be reached (is this host offline?)'],
    [/manifest unknown|name unknown|not found/i, 'the registry has no such repository or tag'],
    [/unauthorized|authentication required|denied|forbidden/i, 'the registry refused access (log in with skopeo login, or check the name)'],
    [/x509|certificate|tls:/i, 'TLS failed (for a registry without valid TLS set tls_verify: false)'],
    [/server gave HTTP response to HTTPS client/i, 'the registry speaks plain HTTP (set tls_verify: false)'],
  ] as const;
  const found = meaning.find(([pattern]) => pattern.test(message))?.[1];
  return found ? `${found}: ${message}` : message;
}

/** The runnable platforms, described once each (attestation manifests left out). */
export function describePlatforms(platforms: readonly Platform[]): string {
  return [...new Set(platforms.filter(isRunnable).map(describePlatform))].join(', ') || 'none';
}
