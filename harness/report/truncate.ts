// Long outputs in reports: the head and, mostly, the tail (where errors are), saying how much was cut.

/** Output kept per stream of a failed case. */
const OUTPUT_HEAD_CHARS = 16 * 1024;
const OUTPUT_TAIL_CHARS = 48 * 1024;

/** Keeps the head and tail of long output, saying how much was cut. */
export function truncateOutput(text: string): string {
  if (text.length <= OUTPUT_HEAD_CHARS + OUTPUT_TAIL_CHARS) return text;
  const cut = text.length - OUTPUT_HEAD_CHARS - OUTPUT_TAIL_CHARS;
  return `${text.slice(0, OUTPUT_HEAD_CHARS)}\n[... ${cut} characters truncated ...]\n${text.slice(-OUTPUT_TAIL_CHARS)}`;
}
