// Downloads over http(s) into the cache: <cacheDir>/downloads/<key>/<file name>, keyed by the
// URL and the sha512 it must have. A file is written into a temp dir beside the entries,
// hashed as it arrives, checked, then the dir is renamed into place: a broken transfer, an
// error status or a mismatch leaves nothing behind, and a later run finds only complete
// entries (and fetches nothing).
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import { chmod, readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { rootCertificates } from 'node:tls';
import { makeCacheTempDir, renameIntoPlace } from '../cache-temp.ts';
import { HarnessError } from '../errors.ts';
import { removeTree } from '../rootfs/cache.ts';
import { sha256OfBytes } from '../rootfs/digest.ts';
import { formatBytes, type FetchProgress } from './progress.ts';

export interface DownloadOptions {
  cacheDir: string;
  signal?: AbortSignal;
  progress?: FetchProgress;
}

export interface Download {
  path: string;
  origin: 'downloaded' | 'cache';
}

/** The server answered with an error status: `status` tells a missing file (404) from the rest. */
export class HttpStatusError extends HarnessError {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

const inflight = new Map<string, Promise<Download>>();

export function isHttpUrl(text: string): boolean {
  return /^https?:\/\//i.test(text);
}

export function downloadsDir(cacheDir: string): string {
  return join(cacheDir, 'downloads');
}

/** The file at `url`, which must have this sha512 (128 lower-case hex digits); downloaded once. */
export function downloadVerified(url: string, sha512: string, options: DownloadOptions): Promise<Download> {
  return cachedDownload(url, sha512, options);
}

/**
 * A file whose digest nobody can know beforehand (a checksums file): cached by its URL alone,
 * so a run repeated later checks the tarballs against the same list.
 */
export function downloadUnverified(url: string, options: DownloadOptions): Promise<Download> {
  return cachedDownload(url, undefined, options);
}

function cachedDownload(url: string, sha512: string | undefined, options: DownloadOptions): Promise<Download> {
  const name = fileNameOf(url);
  const entry = join(downloadsDir(options.cacheDir), sha256OfBytes(`${url}\n${sha512 ?? ''}`));
  const running = inflight.get(entry);
  if (running) return running;
  const work = (async (): Promise<Download> => {
    const cached = join(entry, name);
    if ((await readdir(entry).catch(() => [] as string[])).includes(name)) return { path: cached, origin: 'cache' };
    const temp = await makeCacheTempDir(downloadsDir(options.cacheDir), 'download');
    try {
      await chmod(temp, 0o755); // mkdtemp's 0700 would hide the file from unprivileged readers
      const got = await transfer(url, join(temp, name), options);
      if (sha512 !== undefined && got !== sha512) {
        throw new HarnessError(`${url}: sha512 mismatch: expected ${sha512}, got ${got}; the file is corrupt or the checksum names another file (nothing was kept)`);
      }
      // When another process finished the same download first, its entry is as good as ours.
      await renameIntoPlace(temp, entry);
      return { path: cached, origin: 'downloaded' };
    } finally {
      await removeTree(temp);
    }
  })().finally(() => inflight.delete(entry));
  inflight.set(entry, work);
  return work;
}

/** The last path component of the URL, as the cached file's name (the format comes from its bytes). */
function fileNameOf(url: string): string {
  const parsed = parseUrl(url);
  const name = basename(decodeURIComponent(parsed.pathname));
  return /^[\w.+-]+$/.test(name) && name !== '.' && name !== '..' ? name : 'download';
}

function parseUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new HarnessError(`'${url}' is not a valid URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new HarnessError(`${url}: only http:// and https:// URLs can be downloaded`);
  return parsed;
}

/**
 * For HTTPS where NODE_EXTRA_CA_CERTS names a file: a connection pool that trusts those
 * certificates besides Node's own. The `harness` command starts Node without them
 * (launcher.sh), so they are read here, where they are needed; undefined otherwise.
 */
async function extraCaDispatcher(url: URL): Promise<object | undefined> {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (url.protocol !== 'https:' || !file) return undefined;
  const extra = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new HarnessError(`NODE_EXTRA_CA_CERTS=${file}: cannot read it (${error.code ?? error.message}): fix the path or unset it`);
  });
  // require, not import(): the bundle runs as a vm.Script, which has no loader for import() of a package it leaves out.
  const { Agent } = createRequire(import.meta.url)('undici') as typeof import('undici');
  return new Agent({ connect: { ca: [...rootCertificates, extra] } });
}

/** Streams the body into `file`; returns its sha512 (hex). */
async function transfer(url: string, file: string, options: DownloadOptions): Promise<string> {
  const parsed = parseUrl(url);
  const dispatcher = await extraCaDispatcher(parsed);
  // `dispatcher` is undici's own option of Node's fetch, absent from the DOM type.
  const init = { signal: options.signal, redirect: 'follow', ...(dispatcher && { dispatcher }) } as RequestInit;
  const response = await fetch(parsed, init).catch((error: unknown) => {
    if (options.signal?.aborted) throw options.signal.reason;
    throw new HarnessError(`${url}: cannot download: ${networkProblem(error)}`);
  });
  if (!response.ok || !response.body) {
    await response.body?.cancel().catch(() => undefined);
    const hint = response.status === 404 ? 'no such file on the server; check the URL' : 'check the URL and the server';
    throw new HttpStatusError(`${url}: the server answered ${response.status} ${response.statusText}: ${hint}`, response.status);
  }
  // A body sent with Content-Encoding is decoded by fetch: its length is no longer the header's.
  const declared = response.headers.get('content-encoding') ? undefined : Number(response.headers.get('content-length') ?? NaN);
  const total = Number.isFinite(declared) ? declared : undefined;
  const hash = createHash('sha512');
  const shown = options.progress?.start(url, total);
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      shown?.advance(chunk.length);
      done(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), counter, createWriteStream(file, { flags: 'wx', mode: 0o644 }));
    if (total !== undefined && bytes !== total) throw new Error(`got ${bytes} of ${total} bytes`);
  } catch (error) {
    shown?.end(false);
    if (options.signal?.aborted) throw options.signal.reason;
    const got = total === undefined ? formatBytes(bytes) : `${formatBytes(bytes)} of ${formatBytes(total)}`;
    throw new HarnessError(`${url}: the download broke off after ${got} (${networkProblem(error)}); nothing was kept, run again`);
  }
  shown?.end(true);
  return hash.digest('hex');
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused: nothing listens there',
  ECONNRESET: 'the server closed the connection',
  ENOTFOUND: 'the host name does not resolve (is this host offline?)',
  EAI_AGAIN: 'the host name cannot be resolved now (is this host offline?)',
  ENETUNREACH: 'the network is unreachable (is this host offline?)',
  EHOSTUNREACH: 'the host is unreachable',
  ETIMEDOUT: 'the connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
  UND_ERR_SOCKET: 'the server closed the connection',
  CERT_HAS_EXPIRED: 'the server certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server certificate is self-signed',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the server certificate cannot be verified',
};

/** The cause of a fetch failure in words: fetch itself only says "fetch failed" or "terminated". */
function networkProblem(error: unknown): string {
  let cause = error as { code?: string; message?: string; cause?: unknown; errors?: unknown[] } | undefined;
  for (let depth = 0; depth < 4 && cause; depth++) {
    const code = cause.code ?? (cause.errors?.[0] as { code?: string } | undefined)?.code;
    if (code) return NETWORK_CODES[code] ? `${NETWORK_CODES[code]} (${code})` : code;
    if (!cause.cause) break;
    cause = cause.cause as typeof cause;
  }
  return cause?.message ?? String(error);
}
