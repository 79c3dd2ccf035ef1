// `harness bisect`: the command line of the two bisect modes; the work is in harness/bisect/.
import { availableParallelism } from 'node:os';
import { Option, type Command } from 'commander';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_TESTS_FAILED, HarnessError } from '../errors.ts';
import { isaByName } from '../isa.ts';
import { onStopSignals } from './stop-signals.ts';

interface BisectFlags {
  images?: string;
  source?: string;
  good?: string;
  bad?: string;
  component?: 'busybox' | 'musl';
  case: string;
  arch: string;
  firstFixed?: boolean;
  reruns: string;
  reportDir?: string;
  buildDir?: string;
  jobs?: string;
}

function positive(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new HarnessError(`${flag}: '${value}' is not a positive whole number`);
  return n;
}

function checkFlags(opts: BisectFlags): void {
  if (Boolean(opts.images) === Boolean(opts.source)) throw new HarnessError('bisect: give --images LIST (a series of images) or --source DIR (a git tree), not both or neither');
  if (opts.images && (opts.good || opts.bad || opts.component)) throw new HarnessError('bisect --images: --good, --bad and --component belong to --source; the series\' first image is the good end, its last the bad end');
  if (opts.source) {
    const missing = (['good', 'bad', 'component'] as const).filter((flag) => !opts[flag]);
    if (missing.length) throw new HarnessError(`bisect --source: also give ${missing.map((flag) => `--${flag}`).join(', ')}`);
    if (opts.firstFixed) throw new HarnessError('bisect --source: --first-fixed applies to --images; to find a fixing commit, bisect with `git bisect start --term-new fixed` and `git bisect run harness run <matrix> --bisect`');
  }
}

async function bisect(opts: BisectFlags): Promise<number> {
  checkFlags(opts);
  const isa = isaByName(opts.arch);
  const reruns = positive('--reruns', opts.reruns);
  const stop = onStopSignals();
  try {
    const { formatStep, formatLog } = await import('../bisect/log.ts');
    const direction = opts.firstFixed ? 'first-fixed' : 'first-bad';
    const onStep = (step: Parameters<typeof formatStep>[0]) => console.log(formatStep(step, direction));
    const common = { caseId: opts.case, isa, reportDir: opts.reportDir, signal: stop.signal, onStep };
    const result = opts.images
      ? await (await import('../bisect/images.ts')).bisectImages({ ...common, images: opts.images, direction, reruns })
      : await (await import('../bisect/source.ts')).bisectSource({
        ...common, sourceDir: opts.source!, good: opts.good!, bad: opts.bad!, component: opts.component!, reruns,
        jobs: opts.jobs ? positive('--jobs', opts.jobs) : availableParallelism(), buildRoot: opts.buildDir,
      });
    console.log(formatLog(result.log).split('\n').slice(result.log.steps.length).join('\n'));
    console.log(`log: ${result.logPath}`);
    return result.log.answer.kind === 'found' ? EXIT_OK : EXIT_TESTS_FAILED;
  } catch (error) {
    if (stop.signal.aborted) {
      console.error(`harness: bisect interrupted${opts.source ? '; the source tree is back as it was' : ''}`);
      return EXIT_INTERRUPTED;
    }
    throw error;
  } finally {
    stop.dispose();
  }
}

export function addBisectCommand(program: Command, act: <A extends unknown[]>(run: (...args: A) => Promise<number>) => (...args: A) => Promise<void>): void {
  program
    .command('bisect')
    .description('Find the image of a series (--images), or the commit of a BusyBox or musl tree (--source), that broke a case on one ISA. '
      + 'Exit 0 with an answer, 1 when the boundary is flaky or only unjudgeable states remain, 2 bad input, 130 interrupted. '
      + 'Writes bisect.json beside each step\'s run report.')
    .option('--images <list>', 'a file of image references, one a line (tarball, OCI layout as oci:DIR[:TAG], rootfs dir, docker-archive:FILE), oldest first; or a quoted glob, sorted by version')
    .option('--source <dir>', 'a git tree of the component\'s source; --good and --bad are commits in it')
    .option('--good <ref>', 'with --source: a commit where the case passes')
    .option('--bad <ref>', 'with --source: a later commit where it fails')
    .addOption(new Option('--component <name>', 'with --source: what the tree is; only it is rebuilt, incrementally, for only that ISA').choices(['busybox', 'musl']))
    .requiredOption('--case <id>', "the case, as <suite>/<case> (e.g. 'busybox/rev and tac'; `harness list` prints them)")
    .requiredOption('-a, --arch <isa>', 'the ISA to bisect on')
    .option('--first-bad', 'find the first image that fails (default)')
    .option('--first-fixed', 'find the first image that passes, in a series that starts broken')
    .option('--reruns <n>', 'runs of each side of the boundary to rule out a flaky case', '3')
    .option('--report-dir <dir>', 'where bisect.json and the steps\' reports go (default: reports/bisect-<time>/)')
    .option('--build-dir <dir>', 'with --source: where the kept build dirs go (default: <cache>/bisect; kept, so the next bisect of the tree is incremental too)')
    .option('-j, --jobs <n>', 'with --source: make jobs (default: the number of cores)')
    .action(act(bisect));
}
