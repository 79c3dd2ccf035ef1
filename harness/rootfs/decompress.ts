// Opens an archive file as a stream of plain tar bytes, whatever it was compressed with.
// The format comes from the file's magic bytes, not its name: OCI layers have no suffix.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { HarnessError } from '../errors.ts';

export type Compression = 'none' | 'gzip' | 'xz' | 'bzip2' | 'zstd';

const MAGIC: Array<[Compression, number[]]> = [
  ['gzip', [0x1f, 0x8b]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
];

/** Decompressors run as child processes: Node has gzip built in, not these. */
const TOOLS: Partial<Record<Compression, string>> = { xz: 'xz', bzip2: 'bzip2', zstd: 'zstd' };

export function detectCompression(head: Buffer): Compression {
  const match = MAGIC.find(([, magic]) => magic.every((byte, i) => head[i] === byte));
  return match ? match[0] : 'none';
}

export async function compressionOf(file: string): Promise<Compression> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(8);
    await handle.read(head, 0, head.length, 0);
    return detectCompression(head);
  } finally {
    await handle.close();
  }
}

export interface TarBytes {
  stream: Readable;
  /**
   * Resolves when the bytes were read to the end or reading was stopped by destroy();
   * rejects only when the file or its decompressor failed.
   */
  done: Promise<void>;
  /** Stops reading early (on error or abort). */
  destroy(): void;
}

export async function openTarBytes(file: string, signal?: AbortSignal): Promise<TarBytes> {
  const compression = await compressionOf(file);
  const tool = TOOLS[compression];
  if (tool) {
    // Loaded on first use: execa's import costs more than `harness list` may take in all.
    const { execa } = await import('execa');
    const child = execa(tool, ['-dc', file], { stdin: 'ignore', buffer: { stdout: false, stderr: true }, cancelSignal: signal });
    const done = child.then(
      () => undefined,
      (error: { stderr?: string; shortMessage?: string; isCanceled?: boolean; isTerminated?: boolean; code?: string }) => {
        if (error.isCanceled) throw signal?.reason ?? new Error('aborted');
        if (error.isTerminated) return; // destroy() killed it
        if (error.code === 'ENOENT') throw new HarnessError(`${file} is ${compression}-compressed but '${tool}' is not installed; install it (apt-get install ${tool === 'xz' ? 'xz-utils' : tool})`);
        // zstd redraws its progress line with \r: the message is the last redraw.
        const why = (error.stderr || error.shortMessage || '').trim().split('\n')[0]!.split('\r').at(-1)!.trim();
        throw new HarnessError(`${file}: the archive is truncated or corrupt (${tool} -dc: ${why}); fetch it again`);
      },
    );
    return { stream: child.stdout, done, destroy: () => child.kill() };
  }
  const raw = createReadStream(file);
  const stream = compression === 'gzip' ? raw.pipe(createGunzip()) : raw;
  const done = Promise.all([finished(raw), finished(stream)]).then(
    () => undefined,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ERR_STREAM_PREMATURE_CLOSE') return; // destroy() stopped it
      if (error.code?.startsWith('Z_')) throw new HarnessError(`${file}: the archive is truncated or corrupt (gzip: ${error.message}); fetch it again`);
      if (error.code?.startsWith('E')) throw new HarnessError(`${file}: cannot read it (${error.code})`);
      // Anything else is the tar parser's error, passed back through the pipe: the extractor names it.
    },
  );
  return { stream, done, destroy: () => { stream.destroy(); raw.destroy(); } };
}
