// Values worked out from a file's bytes (its digests, a tool's version line), kept in the
// cache under the file's identity: device, inode, size, and mtime and ctime to the
// nanosecond, as git's index and ccache trust them. Rewriting a file changes its ctime even
// where its mtime is set back, so a kept value never stands for other bytes. A file changed
// less than RACY_NS before its value was kept may change again within the same clock tick
// unseen (git's "racily clean" entries): such a value is worked out again until it is older.
// Without this, every `harness list` read and hashed each tarball image whole (a sixth of
// its start-up).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cacheRoot } from './paths.ts';
import { writeFileAtomic } from './report/atomic.ts';

interface Kept {
  identity: string;
  /** When the value was kept, ns since the epoch. */
  keptNs: string;
  value: unknown;
}

/** Timestamps tick coarsely (a jiffy; 2 s on FAT): a change this close to keeping is not trusted. */
const RACY_NS = 2_000_000_000n;

const stores = new Map<string, Record<string, Kept>>();

/** The identity of the file at `path` (symlinks followed); undefined when it is not a regular file. */
function identityOf(path: string): { identity: string; changedNs: bigint } | undefined {
  try {
    const stats = statSync(path, { bigint: true });
    if (!stats.isFile()) return undefined;
    return { identity: `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`, changedNs: stats.ctimeNs > stats.mtimeNs ? stats.ctimeNs : stats.mtimeNs };
  } catch {
    return undefined;
  }
}

function load(file: string): Record<string, Kept> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, Kept>;
  } catch {
    return {};
  }
}

/** When the value was kept; 0 for an entry the store mangled, so it is worked out again. */
function keptAt(kept: Kept): bigint {
  try {
    return BigInt(kept.keptNs);
  } catch {
    return 0n;
  }
}

/**
 * compute()'s value for the file at `path`, from the store `<cache>/<store>.json` while the
 * file is unchanged. An undefined value (a failure) is not kept, so it is worked out again.
 */
export async function memoByFile<T>(store: string, path: string, compute: () => Promise<T | undefined>): Promise<T | undefined> {
  const key = resolve(path);
  const now = identityOf(key);
  if (!now) return compute();
  const file = join(cacheRoot(), `${store}.json`);
  let entries = stores.get(file);
  if (!entries) stores.set(file, (entries = load(file)));
  const kept = entries[key];
  if (kept?.identity === now.identity && now.changedNs + RACY_NS < keptAt(kept)) return kept.value as T;
  const value = await compute();
  // A file that changed while compute() read it may have given a value of neither version.
  if (value === undefined || identityOf(key)?.identity !== now.identity) return value;
  entries[key] = { identity: now.identity, keptNs: String(BigInt(Date.now()) * 1_000_000n), value };
  // Files that are gone (tests' temp dirs) are forgotten, so the store does not grow without end.
  for (const known of Object.keys(entries)) if (!existsSync(known)) delete entries[known];
  // Best effort, whole or not at all (another process may write it too: the last one wins).
  await writeFileAtomic(file, JSON.stringify(entries)).catch(() => undefined);
  return value;
}
