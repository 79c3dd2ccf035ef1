// Keeps the head of a stream up to a byte cap and drains (but drops) the rest, so a chatty
// guest never blocks on a full pipe nor fills the harness's memory.
import type { Readable } from 'node:stream';

export const OUTPUT_CAP_BYTES = 1024 * 1024;

export interface CappedOutput {
  /** Resolves at the stream's end with the text, plus a note when it was cut. */
  text: Promise<string>;
}

export function truncationNote(totalBytes: number, capBytes: number): string {
  return `\n[harness: output truncated: ${totalBytes} bytes, kept the first ${capBytes}]\n`;
}

/** Joins chunks into at most capBytes, with the truncation note when more came. */
export function capChunks(chunks: readonly Buffer[], totalBytes: number, capBytes: number): string {
  const kept = Buffer.concat(chunks).subarray(0, capBytes).toString('utf8');
  return totalBytes > capBytes ? kept + truncationNote(totalBytes, capBytes) : kept;
}

export function collectCapped(stream: Readable | null | undefined, capBytes = OUTPUT_CAP_BYTES): CappedOutput {
  if (!stream) return { text: Promise.resolve('') };
  const chunks: Buffer[] = [];
  let kept = 0;
  let total = 0;
  const text = new Promise<string>((resolve) => {
    stream.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (kept < capBytes) {
        chunks.push(chunk);
        kept += chunk.length;
      }
    });
    const finish = () => resolve(capChunks(chunks, total, capBytes));
    stream.on('end', finish);
    stream.on('close', finish);
    stream.on('error', finish);
  });
  return { text };
}
