// The busybox-upstream suite: BusyBox's own testsuite, from the exact source and .config the
// image's BusyBox was built from, run by `runtest` with the image's /bin/sh (ash: the
// .tests files rely on `. file args`, which dash gets wrong). One case per applet, so the
// scheduler spreads applets over cores and ISAs, each in its own copy-on-write view; each
// case's PASS/FAIL/SKIPPED/UNTESTED lines become results of their own (subresults.ts).
import { join } from 'node:path';
import { defaultSourcesDir } from '../../../images/sources.ts';
import { exists } from '../../../images/cache.ts';
import type { TestCase } from '../../case.ts';
import type { Suite, SuiteContext } from '../suite.ts';
import { appletSettings, type AppletSettings } from './applets.ts';
import { chooseSlice, commitUnderTest, inSlice, type RotateBy } from './rotation.ts';
import { GUEST_TESTSUITE, stageTestsuite } from './testsuite.ts';

export const BUSYBOX_UPSTREAM_SUITE = 'busybox-upstream';

/** What testing.sh needs: a working echo (else it compiles scripts/echo.c), and Alpine's skips. */
export const RUNTEST_ENV: Readonly<Record<string, string>> = { ECHO: 'echo', SKIP_KNOWN_BUGS: '1', SKIP_INTERNET_TESTS: '1' };

interface Source {
  tarball: string;
  config: string;
  sha256?: string;
}

/** The BusyBox source and .config of the image, or why there is none at hand. */
async function findSource(ctx: SuiteContext): Promise<Source | { skip: string }> {
  const build = ctx.image.busyboxBuild;
  if (build) {
    if (await exists(build.tarball.path)) return { tarball: build.tarball.path, config: build.config, sha256: build.tarball.sha256 };
    return { skip: `the BusyBox ${build.version} source this image was built from is not at ${build.tarball.path}: run harness setup (it fetches the sources)` };
  }
  const version = ctx.image.busyboxVersion;
  if (!version) return { skip: ctx.image.applets.length ? "the image's BusyBox banner names no version" : 'the image has no BusyBox' };
  const dirs = [...(typeof ctx.settings.sources === 'string' ? [ctx.settings.sources] : []), defaultSourcesDir()];
  const names = [`busybox-${version}.tar.bz2`, `busybox_${version}.orig.tar.bz2`];
  const candidates = dirs.flatMap((dir) => names.map((name) => join(dir, name)));
  let tarball: string | undefined;
  for (const candidate of candidates) if (!tarball && (await exists(candidate))) tarball = candidate;
  if (!tarball) return { skip: `the source of BusyBox ${version} (the image's banner) is not at hand: looked for ${candidates.join(', ')}; put it there or set suites.busybox-upstream.sources` };
  if (typeof ctx.settings.config !== 'string') return { skip: `no .config of the image's BusyBox ${version} build: set suites.busybox-upstream.config to it (runtest reads it to tell compiled-out applets and features)` };
  return { tarball, config: ctx.settings.config };
}

/** Every applet's case (pure): heaviest first, so the longest jobs start early. */
export function upstreamCases(
  testsuite: { layer: string; applets: readonly string[] },
  imageApplets: readonly string[],
  settings: ReadonlyMap<string, AppletSettings> = new Map(),
  defaults: AppletSettings = { timeoutSeconds: 60 },
): TestCase[] {
  const present = new Set(['busybox', ...imageApplets]);
  const order = [...testsuite.applets].sort((a, b) => (settings.get(b)?.timeoutSeconds ?? defaults.timeoutSeconds!) - (settings.get(a)?.timeoutSeconds ?? defaults.timeoutSeconds!) || a.localeCompare(b));
  return order.map((applet): TestCase => {
    const own = settings.get(applet);
    const skip = own?.skip ?? (present.has(applet) ? undefined : `the image's BusyBox has no ${applet} applet (compiled out)`);
    return {
      name: applet,
      suite: BUSYBOX_UPSTREAM_SUITE,
      argv: ['/bin/sh', './runtest', '-v', applet],
      cwd: GUEST_TESTSUITE,
      env: { ...RUNTEST_ENV },
      layers: [testsuite.layer],
      ...(own?.files && { files: Object.entries(own.files).map(([path, content]) => ({ path, content })) }),
      // Each result line is judged on its own (subresults.ts); the job fails on a FAIL line.
      expect: { anyExitCode: true, stdoutExcludes: '^FAIL: ' },
      timeoutSeconds: own?.timeoutSeconds ?? defaults.timeoutSeconds!,
      subResults: 'busybox-runtest',
      ...(skip && { skip }),
    };
  });
}

/** The matrix's narrowing: only the applets named, and of those one rotating slice. */
function narrow(cases: TestCase[], settings: Record<string, unknown>, now = new Date()): TestCase[] {
  const wanted = Array.isArray(settings.applets) ? new Set(settings.applets as string[]) : undefined;
  const chosen = wanted ? cases.filter((c) => wanted.has(c.name)) : cases;
  if (typeof settings.rotate !== 'number' || settings.rotate <= 1) return chosen;
  const rotation = chooseSlice(settings.rotate, (settings.rotateBy as RotateBy | undefined) ?? 'date', now, commitUnderTest());
  const slice = inSlice(chosen.filter((c) => !c.skip), rotation);
  const reason = `not in this run's rotating subset: slice ${rotation.index + 1} of ${rotation.slices}, chosen by ${rotation.chosenBy}; the release matrix runs every applet`;
  return chosen.map((c) => (c.skip || slice.has(c) ? c : { ...c, skip: reason }));
}

export const busyboxUpstreamSuite: Suite = {
  name: BUSYBOX_UPSTREAM_SUITE,
  description: "BusyBox's own testsuite (runtest), from the image's BusyBox source and .config, one case per applet, one result per upstream case",
  async cases(ctx) {
    const source = await findSource(ctx);
    const { defaults, applets } = await appletSettings();
    if ('skip' in source) return [{ name: '(all applets)', suite: BUSYBOX_UPSTREAM_SUITE, argv: ['/bin/true'], expect: {}, skip: source.skip }];
    const testsuite = await stageTestsuite(source.tarball, source.config, ctx.image.applets, source.sha256);
    return narrow(upstreamCases(testsuite, ctx.image.applets, applets, defaults), ctx.settings);
  },
};
