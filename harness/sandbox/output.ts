// The output cap: the sandbox helper passes on the head of each stream up to the cap and
// drains (but drops) the rest, so a chatty guest never blocks on a full pipe nor fills the
// harness's memory; this joins what came, with a note when it was cut.
import { DEFAULT_LIMITS } from '../limits.ts';

export const OUTPUT_CAP_BYTES = DEFAULT_LIMITS.outputBytes;

export function truncationNote(totalBytes: number, capBytes: number): string {
  return `\n[harness: output truncated: ${totalBytes} bytes, kept the first ${capBytes}]\n`;
}

/** Joins chunks into at most capBytes, with the truncation note when more came. */
export function capChunks(chunks: readonly Buffer[], totalBytes: number, capBytes: number): string {
  const kept = Buffer.concat(chunks).subarray(0, capBytes).toString('utf8');
  return totalBytes > capBytes ? kept + truncationNote(totalBytes, capBytes) : kept;
}
