// applets.yaml: what an applet's testsuite needs under the harness beyond the defaults (a
// longer timeout, a reason it cannot run in an image). Data, read once per process.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { HarnessError } from '../../errors.ts';
import { parseDuration } from '../../matrix/units.ts';

export const APPLETS_FILE = fileURLToPath(new URL('applets.yaml', import.meta.url));

export interface AppletSettings {
  /** Seconds on a native ISA; the ISA's timeoutMultiplier scales it. */
  timeoutSeconds?: number;
  skip?: string;
  /** Guest path -> text: what the applet's tests expect of a configured machine. */
  files?: Record<string, string>;
}

export interface AppletTable {
  defaults: AppletSettings;
  applets: Map<string, AppletSettings>;
}

function readEntry(value: unknown, where: string, file: string): AppletSettings {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HarnessError(`${file}: ${where}: expected a mapping of timeout, skip, files, why`);
  const entry = value as Record<string, unknown>;
  for (const key of Object.keys(entry)) if (!['timeout', 'skip', 'files', 'why'].includes(key)) throw new HarnessError(`${file}: ${where}.${key}: unknown key; known: timeout, skip, files, why`);
  const settings: AppletSettings = {};
  if (entry.timeout !== undefined) {
    const parsed = parseDuration(entry.timeout);
    if ('error' in parsed) throw new HarnessError(`${file}: ${where}.timeout: ${parsed.error}`);
    settings.timeoutSeconds = parsed.value / 1000;
  }
  if (entry.skip !== undefined) {
    if (typeof entry.skip !== 'string' || !entry.skip.trim()) throw new HarnessError(`${file}: ${where}.skip: expected the reason the applet cannot run`);
    settings.skip = entry.skip;
  }
  if (entry.files !== undefined) {
    const files = entry.files as Record<string, unknown>;
    const bad = typeof files !== 'object' || files === null || Object.entries(files).some(([path, text]) => !path.startsWith('/') || typeof text !== 'string');
    if (bad) throw new HarnessError(`${file}: ${where}.files: expected a mapping of absolute guest paths to their text`);
    settings.files = files as Record<string, string>;
  }
  return settings;
}

export function parseAppletTable(text: string, file: string): AppletTable {
  const doc = parse(text) as { defaults?: unknown; applets?: unknown } | null;
  const defaults = readEntry(doc?.defaults ?? {}, 'defaults', file);
  if (defaults.timeoutSeconds === undefined) throw new HarnessError(`${file}: defaults.timeout: required (e.g. 60s)`);
  const rows = doc?.applets ?? {};
  if (typeof rows !== 'object' || Array.isArray(rows)) throw new HarnessError(`${file}: applets: expected a mapping of applet name to settings`);
  return { defaults, applets: new Map(Object.entries(rows as Record<string, unknown>).map(([name, value]) => [name, readEntry(value, `applets.${name}`, file)])) };
}

let table: Promise<AppletTable> | undefined;

export function appletSettings(): Promise<AppletTable> {
  table ??= readFile(APPLETS_FILE, 'utf8').then((text) => parseAppletTable(text, APPLETS_FILE));
  return table;
}
