// The known word closest to a misspelt one, for error messages (no dependency: the ISA table
// uses it, and every command loads that).
/** The known word closest to `word`, when it is close enough to be a typo. */
export function didYouMean(word: string, known: readonly string[]): string | undefined {
  const canonical = (s: string) => s.toLowerCase().replace(/-/g, '_');
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(canonical(word), canonical(candidate));
    if (!best || distance < best.distance) best = { candidate, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(word.length / 3)) ? best.candidate : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
