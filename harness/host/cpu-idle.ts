// The machine's idle CPU time, from the first line of /proc/stat: what `jobs: auto` reads to
// decide whether one more case at once would find a core to run on (scheduler.ts, AutoScale).
import { readFileSync } from 'node:fs';

interface Counters {
  idle: number;
  total: number;
}

function read(): Counters | undefined {
  try {
    // cpu  user nice system idle iowait irq softirq steal ...: idle and iowait are time no task ran.
    const fields = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    if (fields.length < 8 || fields.some((n) => !Number.isFinite(n))) return undefined;
    return { idle: fields[3]! + fields[4]!, total: fields.reduce((a, b) => a + b, 0) };
  } catch {
    return undefined;
  }
}

/** A function that gives the idle share (0 to 1) since its last call; always 0 where /proc/stat cannot be read. */
export function idleShareSampler(): () => number {
  let last = read();
  return () => {
    const now = read();
    const share = now && last && now.total > last.total ? (now.idle - last.idle) / (now.total - last.total) : 0;
    last = now;
    return share;
  };
}
