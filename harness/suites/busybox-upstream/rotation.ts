// A deterministic rotating subset: the applets split into N slices, and one slice runs,
// chosen by the UTC date or by the commit under test. Every slice runs within N days (or
// about N commits), and anyone can tell which ran from the skip reasons. Pure.

export type RotateBy = 'date' | 'commit';

export interface Rotation {
  slices: number;
  by: RotateBy;
  /** The slice that runs, 0-based. */
  index: number;
  /** What chose it, for the skip reasons: the date or the commit. */
  chosenBy: string;
}

/** Environment variables CI systems put the commit under test in (GitHub, GitLab, Jenkins, Buildkite, CircleCI). */
const COMMIT_VARIABLES = ['GITHUB_SHA', 'CI_COMMIT_SHA', 'GIT_COMMIT', 'BUILDKITE_COMMIT', 'CIRCLE_SHA1'] as const;

export function commitUnderTest(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const name of COMMIT_VARIABLES) if (/^[0-9a-f]{7,40}$/i.test(env[name] ?? '')) return env[name]!.toLowerCase();
  return undefined;
}

/** Which slice runs; by commit without a commit in the environment, falls back to the date (and says so). */
export function chooseSlice(slices: number, by: RotateBy, now: Date, commit: string | undefined): Rotation {
  if (by === 'commit' && commit) return { slices, by, index: parseInt(commit.slice(0, 8), 16) % slices, chosenBy: `commit ${commit.slice(0, 12)}` };
  const day = Math.floor(now.getTime() / 86_400_000);
  const date = now.toISOString().slice(0, 10);
  return { slices, by: 'date', index: day % slices, chosenBy: by === 'commit' ? `date ${date} (no commit in ${COMMIT_VARIABLES.join(', ')})` : `date ${date}` };
}

/** Slice i holds every slices-th item from i on: given items heaviest first, the slices are balanced. */
export function inSlice<T>(items: readonly T[], rotation: Pick<Rotation, 'slices' | 'index'>): Set<T> {
  return new Set(items.filter((_, i) => i % rotation.slices === rotation.index));
}
