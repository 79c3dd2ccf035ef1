// Where triage finds each failed case's data (argv, stdin, files, env, timeout, expectation):
// in the plan, not in results.json. `run --triage` hands over the plan it ran; `harness
// triage RUN` plans the run's matrix again, and a case whose image digest changed since is
// reported as not triaged rather than run against another image. results.json stays what
// it is (no copies of probe binaries and case files), and the matrix's `emulator: true`
// claims, which live in the matrix, come along.
import type { PlannedCase } from '../matrix/plan.ts';
import type { CaseResult } from '../results.ts';
import type { TriageLookup } from './index.ts';

const keyOf = (image: string, isa: string, test: string) => `${image}\0${isa}\0${test}`;

/** A lookup over planned cases; `imageOf` gives each case's extracted rootfs and digest. */
export function planLookup(cases: readonly PlannedCase[], imageOf: (p: PlannedCase) => { rootfs: string; digest: string } | undefined): TriageLookup {
  const byKey = new Map(cases.map((p) => [keyOf(p.job.image.name, p.job.isa.name, p.test), p]));
  return (result: CaseResult) => {
    const planned = byKey.get(keyOf(result.image, result.isa, `${result.suite}/${result.case}`));
    const image = planned && imageOf(planned);
    if (!planned || !image || image.digest !== result.imageDigest) return undefined;
    return {
      testCase: planned.testCase,
      timeoutMs: planned.timeoutMs,
      rootfs: image.rootfs,
      ...(planned.knownFailure?.emulator && { emulatorClaim: true }),
      ...(planned.testCase.crossIsa && { crossIsa: true }),
    };
  };
}

