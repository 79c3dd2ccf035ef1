// `harness triage RUN` (and qualify's --triage): a finished run's results, its matrix planned
// again for the ISAs that failed, then triage. One call for any command that has results.
import { findIsa } from '../isa.ts';
import type { RunResults } from '../results.ts';
import { prepareRun } from '../prepare.ts';
import { triageResults, type TriageOptions, type TriageReport } from './index.ts';
import { planLookup } from './lookup.ts';

export interface TriageRunOptions extends TriageOptions {
  /** Default: the matrix the run recorded (properties.matrix). */
  matrixPath?: string;
}

/** Triage of a finished run: plans its matrix again for the ISAs that failed, then triages. */
export async function triageRun(run: RunResults, options: TriageRunOptions = {}): Promise<TriageReport> {
  const candidates = run.results.filter((r) => r.verdict === 'failed' || r.verdict === 'known-failure');
  const arches = [...new Set(candidates.map((r) => r.isa))].filter((name) => findIsa(name));
  if (arches.length === 0) return { results: run, boots: [] };
  const prepared = await prepareRun({ matrixPath: options.matrixPath ?? run.properties.matrix, filters: { arches }, build: false, cacheDir: options.cacheDir, signal: options.signal });
  const lookup = planLookup(prepared.cases, (p) => {
    const image = prepared.images.get(`${p.job.image.name}/${p.job.isa.name}`);
    return image && { rootfs: image.facts.rootfs, digest: image.facts.digest };
  });
  return triageResults(run, lookup, options);
}
