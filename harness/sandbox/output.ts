// Keeps the head of a stream up to a byte cap and drains (but drops) the rest, so a chatty
// guest never blocks on a full pipe nor fills the harness's memory.
import type { Readable } from 'node:stream';
import { DEFAULT_LIMITS } from '../limits.ts';

export const OUTPUT_CAP_BYTES = DEFAULT_LIMITS.outputBytes;

export interface CappedOutput {
  /** Resolves at the stream's end with the text (plus a note when it was cut) and whether it was. */
  done: Promise<{ text: string; truncated: boolean }>;
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
  if (!stream) return { done: Promise.resolve({ text: '', truncated: false }) };
  const chunks: Buffer[] = [];
  let kept = 0;
  let total = 0;
  const done = new Promise<{ text: string; truncated: boolean }>((resolve) => {
    stream.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (kept < capBytes) {
        chunks.push(chunk);
        kept += chunk.length;
      }
    });
    const finish = () => resolve({ text: capChunks(chunks, total, capBytes), truncated: total > capBytes });
    stream.on('end', finish);
    stream.on('close', finish);
    stream.on('error', finish);
  });
  return { done };
}
