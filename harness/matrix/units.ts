// Durations and sizes as people write them in a matrix. Each parser returns the number or
// a message saying what a valid value looks like.

const DURATION_UNITS_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;

export type Parsed = { value: number } | { error: string };

/** '500ms', '30s', '2m', '1h', '1m30s' -> milliseconds. A bare number is refused: its unit would be a guess. */
export function parseDuration(input: unknown): Parsed {
  const hint = "write a number with a unit (ms, s, m, h), e.g. '30s' or '1m30s'";
  if (typeof input !== 'string') return { error: `${JSON.stringify(input)} is not a duration; ${hint}` };
  const text = input.trim();
  let total = 0;
  let end = 0;
  DURATION_PART.lastIndex = 0;
  for (let m = DURATION_PART.exec(text); m; m = DURATION_PART.exec(text)) {
    total += Number(m[1]) * DURATION_UNITS_MS[m[2]!]!;
    end = DURATION_PART.lastIndex;
  }
  if (text === '' || end !== text.length) return { error: `'${input}' is not a duration; ${hint}` };
  if (total <= 0) return { error: `'${input}' is not a positive duration; ${hint}` };
  return { value: Math.round(total) };
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3,
};
const SIZE = /^(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?$/i;

/** 1200000, '1.2MB', '900kB', '1MiB' -> bytes (SI prefixes are powers of 1000, binary ones of 1024). */
export function parseSize(input: unknown): Parsed {
  const hint = 'write bytes or a number with a unit (B, kB, MB, GB, KiB, MiB, GiB), e.g. 1.2MB';
  const text = typeof input === 'number' ? String(input) : typeof input === 'string' ? input.trim() : undefined;
  const m = text === undefined ? null : SIZE.exec(text);
  if (!m) return { error: `${typeof input === 'string' ? `'${input}'` : JSON.stringify(input)} is not a size; ${hint}` };
  const bytes = Math.round(Number(m[1]) * SIZE_UNITS[(m[2] ?? 'b').toLowerCase()]!);
  if (bytes <= 0) return { error: `'${input}' is not a positive size; ${hint}` };
  return { value: bytes };
}

/** Milliseconds as a matrix would write them: 1500 -> '1.5s', 90000 -> '1m30s', 1800000 -> '30m'. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const parts: string[] = [];
  let rest = ms / 1000;
  for (const [unit, seconds] of [['h', 3600], ['m', 60]] as const) {
    if (rest >= seconds) {
      parts.push(`${Math.floor(rest / seconds)}${unit}`);
      rest %= seconds;
    }
  }
  if (rest > 0) parts.push(`${Number(rest.toFixed(1))}s`);
  return parts.join('');
}
