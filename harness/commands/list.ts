// `harness list`: the planned cases, printed. It loads only the planning modules (prepare.ts).
import type { PlanFilters } from '../matrix/plan.ts';
import { formatJobList } from '../matrix/list.ts';
import { EXIT_OK } from '../errors.ts';
import { prepareRun } from '../prepare.ts';

export async function listCommand(matrixPath: string | undefined, filters: PlanFilters): Promise<number> {
  const prepared = await prepareRun({ matrixPath, filters, build: false, onNotice: printNotice });
  console.log(formatJobList(prepared.cases, prepared.plan.skipped));
  const shard = prepared.shard;
  if (shard) console.log(`\nshard ${shard.index}/${shard.total} (from ${shard.source}), predicted case time ${(shard.predictedMs / 1000).toFixed(1)} s${shard.timings.length ? `, balanced by ${shard.timings.length} earlier results file(s)` : ', estimated from the ISAs\' slowdown'}`);
  if (prepared.unbuilt.length) {
    console.log(`\nnot built yet (their cases appear once \`harness build-images\` has run): ${prepared.unbuilt.join(', ')}`);
  }
  return EXIT_OK;
}

export const printNotice = (line: string) => console.error(`harness: note: ${line}`);
