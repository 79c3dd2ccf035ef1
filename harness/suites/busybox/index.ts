// The busybox suite: a usage case for every applet the image lists, plus functional rows
// from cases.yaml (each skipped, with the reason, when an applet it needs is compiled out or
// the image's BusyBox is outside the versions the row holds for).
import { fileURLToPath } from 'node:url';
import type { TestCase } from '../../case.ts';
import type { Suite, SuiteContext } from '../suite.ts';
import { helpCase } from './help.ts';
import { loadRows, rowToCase, type ScriptRow } from './rows.ts';

export const BUSYBOX_CASES_FILE = fileURLToPath(new URL('cases.yaml', import.meta.url));

let cachedRows: ScriptRow[] | undefined;

/** The functional rows, validated (read once per process). */
export function busyboxRows(): ScriptRow[] {
  cachedRows ??= loadRows(BUSYBOX_CASES_FILE, { requireApplets: true });
  return cachedRows;
}

/** Distinct applets the functional rows exercise. */
export function appletsCovered(rows: readonly ScriptRow[]): string[] {
  return [...new Set(rows.flatMap((row) => row.applets))].sort();
}

export function busyboxCases(applets: readonly string[], rows: readonly ScriptRow[], suite = 'busybox', busyboxVersion?: string): TestCase[] {
  const present = new Set(applets);
  return [...applets.map((applet) => helpCase(applet, suite, busyboxVersion)), ...rows.map((row) => rowToCase(row, suite, present, busyboxVersion))];
}

export const busyboxSuite: Suite = {
  name: 'busybox',
  description: 'usage of every BusyBox applet, and functional rows (cases.yaml) whose output must agree across ISAs',
  async cases(ctx: SuiteContext): Promise<TestCase[]> {
    return busyboxCases(ctx.image.applets, busyboxRows(), this.name, ctx.image.busyboxVersion);
  },
  // A usage case per applet (about as many as the rows cover) and the rows.
  estimatedCases: () => busyboxRows().length + appletsCovered(busyboxRows()).length,
};
