// The CLI: parses arguments and calls the library. No logic of its own beyond choosing
// what to print and which exit code to return.
import { Command, CommanderError, Option } from 'commander';
import { availableParallelism } from 'node:os';
import { reportInternalError } from './crash.ts';
import { DEFAULT_DURATION_FLOOR_MS, type DurationThreshold, parseDurationThreshold } from './duration-threshold.ts';
import { EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK, HarnessError } from './errors.ts';
import { ISA_NAMES, isaByName, ISAS, type Isa } from './isa.ts';
import { harnessVersion } from './paths.ts';
import type { PlanFilters } from './matrix/plan.ts';
import { resolveShard, shardVariablesHelp } from './shard/ci-env.ts';
import { addBisectCommand } from './commands/bisect.ts';

function parseArches(values: string[] | undefined): Isa[] {
  if (!values?.length) return [...ISAS];
  return values.flatMap((value) => value.split(',')).filter(Boolean).map(isaByName);
}

/** A parser of a positive whole number for `flag`, whose errors name the flag. */
const positiveInt = (flag: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new HarnessError(`${flag}: '${value}' is not a positive whole number`);
  return n;
};
const parsePositiveInt = positiveInt('--jobs');

const collect = (value: string, previous: string[] = []) => [...previous, value];
const archOption = () =>
  new Option('-a, --arch <isa>', `ISA to cover; repeat or comma-separate (default: all). Known: ${ISA_NAMES.join(', ')}`).argParser(collect);

/** Builds the program; each action reports its exit code through `setExit`. */
export function buildProgram(setExit: (code: number) => void): Command {
  const act = <A extends unknown[]>(run: (...args: A) => Promise<number>) => async (...args: A) => setExit(await run(...args));
  const program = new Command('harness')
    .description('Boot Alpine-style musl + BusyBox images for every ISA under qemu-user and binfmt_misc, run suites, write JUnit.')
    .version(harnessVersion())
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('doctor')
    .description('Check the host (kernel, binfmt_misc, QEMU per ISA, handlers, cross compilers, sources) and print what is missing with the command that fixes it.')
    .addOption(archOption())
    .action(act(async (opts: { arch?: string[] }) => {
      const { runDoctor, formatDoctorReport, doctorExitCode } = await import('./host/doctor.ts');
      const report = await runDoctor({ arches: parseArches(opts.arch) });
      process.stdout.write(formatDoctorReport(report) + '\n');
      return doctorExitCode(report);
    }));

  program
    .command('setup')
    .description("As root on Debian/Ubuntu: install what is missing (apt), add a deb-src line for the machine's own mirror where its suite has the pinned sources, mount binfmt_misc, register QEMU handlers, fetch the sources (by URL from images/source-urls.list or $HARNESS_SOURCE_LIST where the suite lacks them). Elsewhere: say what to do.")
    .addOption(archOption())
    .option('-n, --dry-run', 'print what would be done, change nothing')
    .option('--replace-foreign-binfmt', 'replace QEMU handlers registered by something else (e.g. binfmt-support) that lack the F flag')
    .option('--system', 'also what triage needs: qemu-system-* and firmware, cpio, and the pinned Debian kernels (fetched into the cache)')
    .action(act(async (opts: { arch?: string[]; dryRun?: boolean; replaceForeignBinfmt?: boolean; system?: boolean }) => {
      const { runSetup } = await import('./host/setup.ts');
      const log = (line: string) => console.log(line);
      await runSetup({ arches: parseArches(opts.arch), dryRun: opts.dryRun, replaceForeign: opts.replaceForeignBinfmt, system: opts.system, log });
      return EXIT_OK;
    }));

  program
    .command('binfmt')
    .description("Show which binfmt_misc handler runs each ISA (interpreter, flags, who registered it); register missing ones with --register, remove the harness's own with --remove.")
    .addOption(archOption())
    .option('--register', 'register missing QEMU handlers (F and P flags) from the ISA table')
    .option('--replace-foreign', 'with --register: also replace handlers the harness did not register')
    .option('--remove', 'remove the handlers the harness registered (never others)')
    .action(act(async (opts: { arch?: string[]; register?: boolean; replaceForeign?: boolean; remove?: boolean }) => {
      const binfmt = await import('./host/binfmt.ts');
      if (opts.remove) {
        const removed = await binfmt.removeOwnHandlers();
        console.log(removed.length ? `removed: ${removed.join(', ')}` : 'no harness handlers registered');
        return EXIT_OK;
      }
      const arches = parseArches(opts.arch);
      await binfmt.ensureBinfmtMounted();
      const statuses = opts.register
        ? await binfmt.ensureHandlers(arches, { replaceForeign: opts.replaceForeign })
        : await binfmt.describeHandlers(arches);
      for (const s of statuses) {
        const who = s.native ? 'native, no handler needed' : s.handler ? `${s.handler} -> ${s.interpreter} flags ${s.flags || '-'}${s.registeredByHarness ? ' (harness)' : ' (foreign)'}` : 'MISSING: run `harness binfmt --register`';
        console.log(`${s.name.padEnd(9)} ${who}`);
      }
      return statuses.every((s) => s.native || s.handler) ? EXIT_OK : EXIT_BAD_INPUT;
    }));

  program
    .command('build-images')
    .description('Build the Alpine-style rootfs images (musl + static BusyBox) from pinned sources, one per ISA, plus a multi-arch OCI layout; cached by their inputs.')
    .addOption(archOption())
    .option('-j, --jobs <n>', 'ISAs built at once (default: the number of cores)', parsePositiveInt)
    .option('--sources <dir>', 'directory holding busybox_1.35.0.orig.tar.bz2 and musl_1.2.3.orig.tar.gz (default: fetched with apt-get source into the cache)')
    .action(act(async (opts: { arch?: string[]; jobs?: number; sources?: string }) => {
      const { buildImagesCommand } = await import('./commands/build-images.ts');
      return buildImagesCommand({ arches: parseArches(opts.arch), jobs: opts.jobs ?? availableParallelism(), sourcesDir: opts.sources });
    }));

  const filterOptions = (command: Command) =>
    command
      .addOption(archOption())
      .option('-s, --suite <name>', 'suite to run: image, busybox, busybox-upstream, musl, static; repeat or comma-separate', collect)
      .option('-i, --image <name>', 'image (by its name in the matrix) to run; repeat or comma-separate', collect)
      .option('-g, --grep <pattern>', 'only cases whose <suite>/<case> or ISA contains this (case-insensitive), or matches /regex/');
  const filtersOf = (opts: FilterFlags) => ({ arches: opts.arch, suites: opts.suite, images: opts.image, grep: opts.grep, ...shardFiltersOf(opts) });

  // Every command that runs a plan (list, run, check) takes these and passes shardFiltersOf() in its filters.
  const shardOptions = (command: Command) =>
    command
      .option('--shard <K/N>', 'only shard K of N (1-based) of the selected cases; default: from the CI variables below')
      .option('--shard-total <n>', 'the shard count where the environment gives only an index (Kubernetes JOB_COMPLETION_INDEX)', positiveInt('--shard-total'))
      .option('--no-shard', 'ignore the CI shard variables: the whole plan')
      .option('--timings <path>', "earlier results.json, or a directory of them, whose case durations balance the shards (default: estimates from each ISA's slowdown)")
      .addHelpText('after', `\nShards from CI variables (--shard wins; the report's properties.shard records which was used):\n${shardVariablesHelp()}`);

  shardOptions(filterOptions(
    program
      .command('list')
      .description('Print the cases a matrix expands to (ISA x image x suite x test) without running any; default matrix: matrices/default.yaml.')
      .argument('[matrix]', 'matrix file'),
  )).action(act(async (matrixPath: string | undefined, opts: FilterFlags) => {
    const { listCommand } = await import('./commands/list.ts');
    return listCommand(matrixPath, filtersOf(opts));
  }));

  shardOptions(filterOptions(
    program
      .command('run')
      .description('Boot every image of a matrix for each ISA under qemu-user, run its suites in parallel and write JUnit and JSON; builds missing images first. Default matrix: matrices/default.yaml.')
      .argument('[matrix]', 'matrix file'),
  ))
    .option('-j, --jobs <n>', 'cases run at once (default: the matrix, else auto: twice the number of cores, more while they stand idle; a number here is fixed)', parsePositiveInt)
    .option('--fail-fast', 'stop starting cases after the first failure')
    .option('--junit <file>', "JUnit XML path, or '-' for stdout (default: reports/<run>/junit.xml)")
    .option('--json <file>', "results JSON path, or '-' for stdout (default: reports/<run>/results.json)")
    .option('--html <file>', 'HTML report path (default: report.html beside the JUnit)')
    .option('-q, --quiet', 'no progress, only the summary')
    .addOption(junitCaseFilesOption())
    .option('--bisect', 'exit for `git bisect run`: 0 the selected cases pass, 1 one fails, 125 the state cannot be judged (image does not build, fetch or boot, or fails its ISA check), 130 interrupted')
    .option('--triage', 'run each failure again under qemu-system with the ISA\'s real Linux kernel: emulator-only or failed (needs `harness setup --system`)')
    .action(act(async (matrixPath: string | undefined, opts: FilterFlags & { jobs?: number; failFast?: boolean; junit?: string; json?: string; html?: string; quiet?: boolean; junitCaseFiles?: boolean; bisect?: boolean; triage?: boolean }) => {
      const { runCommand } = await import('./commands/run.ts');
      return runCommand({ matrixPath, filters: filtersOf(opts), jobs: opts.jobs, failFast: opts.failFast, junitPath: opts.junit, jsonPath: opts.json, htmlPath: opts.html, quiet: opts.quiet ?? false, junit: { caseFiles: opts.junitCaseFiles }, bisect: opts.bisect, triage: opts.triage });
    }));

  program
    .command('merge')
    .description('Merge the results of the shards of one run (results.json files, or directories holding them) into one results.json and one JUnit, applying the cross-ISA oracle and known failures across shards. Refuses (exit 2) shards of different matrices or harness versions, a missing or duplicated shard, a case in two shards.')
    .argument('<shard...>', "each shard's results.json or report directory")
    .option('--junit <file>', 'JUnit XML path (default: reports/merged-<time>/junit.xml)')
    .option('--json <file>', 'results JSON path (default: reports/merged-<time>/results.json)')
    .option('-q, --quiet', 'no summary table, only the paths')
    .addOption(junitCaseFilesOption())
    .action(act(async (shards: string[], opts: { junit?: string; json?: string; quiet?: boolean; junitCaseFiles?: boolean }) => {
      const { mergeCommand } = await import('./commands/merge.ts');
      return mergeCommand({ shards, junitPath: opts.junit, jsonPath: opts.json, quiet: opts.quiet ?? false, caseFiles: opts.junitCaseFiles });
    }));

  shardOptions(program
    .command('check')
    .description('Does this image work on every ISA it has? Runs the image, busybox and musl suites on each ISA the image holds, with no matrix file, and writes JUnit and JSON like run.')
    .argument('<ref>', "a registry reference (host[:port]/repo:tag), an OCI layout, a rootfs tarball or directory path, or an http(s) URL; with {arch} (Alpine's ISA name) in a path or URL, each ISA whose file exists")
    .addOption(archOption())
    .option('-s, --suite <name>', 'only these suites: image, busybox, musl; repeat or comma-separate', collect)
    .option('-g, --grep <pattern>', 'only cases whose <suite>/<case> or ISA contains this (case-insensitive), or matches /regex/')
    .option('--sha512 <hex>', "the tarball's sha512 (a single tarball)")
    .option('--sha512sums <path-or-url>', 'a sha512sum file listing the tarballs (default for a URL: <url>.sha512, as Alpine publishes)')
    .option('--tag <tag>', 'the tag inside an OCI layout (default: every image of the layout)')
    .option('--no-tls-verify', 'do not verify the registry\'s TLS certificate (default: verified, except for localhost/127.0.0.1)')
    .option('-j, --jobs <n>', 'cases run at once (default: auto, twice the number of cores, more while they stand idle; a number here is fixed)', parsePositiveInt)
    .option('--fail-fast', 'stop starting cases after the first failure')
    .option('--junit <file>', 'JUnit XML path (default: reports/<run>/junit.xml)')
    .option('--json <file>', 'results JSON path (default: reports/<run>/results.json)')
    .option('-q, --quiet', 'no progress, only the summary'))
    .action(act(async (ref: string, opts: CheckFlags) => {
      const { checkCommand } = await import('./commands/check.ts');
      return checkCommand(ref, {
        arches: opts.arch && parseArches(opts.arch), filters: { suites: opts.suite, grep: opts.grep, ...shardFiltersOf(opts) },
        sha512: opts.sha512, sha512sums: opts.sha512sums, tag: opts.tag, ...(opts.tlsVerify === false && { tlsVerify: false }),
        jobs: opts.jobs, failFast: opts.failFast, junitPath: opts.junit, jsonPath: opts.json, quiet: opts.quiet ?? false,
      });
    }));

  program
    .command('triage')
    .description('Run the failures of a finished run again under qemu-system with each ISA\'s real Debian kernel; rewrite its results.json and JUnit with the verdicts (emulator-only or failed).')
    .argument('<run>', 'the run: its results.json, or the reports/<run> directory')
    .option('--suggest', 'also print known_failures entries (emulator: true) for the emulator-only cases, ready to paste into a matrix')
    .option('--matrix <file>', 'plan the cases from this matrix instead of the one the run recorded')
    .option('--junit <file>', 'JUnit XML path (default: junit.xml beside the results)')
    .option('--json <file>', 'results JSON path (default: the results.json given, rewritten)')
    .action(act(async (run: string, opts: { suggest?: boolean; matrix?: string; junit?: string; json?: string }) => {
      const { triageCommand } = await import('./commands/triage.ts');
      return triageCommand({ run, suggest: opts.suggest ?? false, matrixPath: opts.matrix, junitPath: opts.junit, jsonPath: opts.json });
    }));

  const runsHelp = 'a results.json or a run directory; repeat for the shards of one run';
  const durationOption = () =>
    new Option('--duration-threshold <percent>', `also report cases slower than the baseline by more than this (e.g. 50%), and by ${DEFAULT_DURATION_FLOOR_MS / 1000} s or more; qualify fails on them`)
      .argParser(parseDurationThreshold);

  filterOptions(
    program
      .command('qualify')
      .description('Release qualification: run the matrix (or take --against RUN), then require every ISA and suite, no failure, no flaky case and nothing that passed in the baseline to stop passing. Prints QUALIFIED or NOT QUALIFIED with the reasons; exit 0, 1, or 2 for bad input.')
      .argument('[matrix]', 'matrix file (default: matrices/default.yaml, or with --against the run\'s own)'),
  )
    .requiredOption('-b, --baseline <run>', `the baseline run: ${runsHelp}`, collect)
    .option('--against <run>', `qualify this existing run instead of running the matrix: ${runsHelp}`, collect)
    .addOption(durationOption())
    .option('-j, --jobs <n>', 'cases run at once (default: the matrix, else auto: twice the number of cores, more while they stand idle; a number here is fixed)', parsePositiveInt)
    .option('--junit <file>', 'JUnit XML path of the run (default: reports/<run>/junit.xml)')
    .option('--json <file>', 'results JSON path of the run (default: reports/<run>/results.json)')
    .option('--html <file>', 'HTML report with the qualification (default: report.html beside the JUnit; with --against only when given)')
    .option('--markdown <file>', 'Markdown summary (also appended to $GITHUB_STEP_SUMMARY when set)')
    .option('-q, --quiet', 'no progress, only the summary and the verdict')
    .option('--triage', 'first run each failure again under qemu-system with the ISA\'s real Linux kernel; emulator-only failures do not fail qualification (needs `harness setup --system`)')
    .action(act(async (matrixPath: string | undefined, opts: FilterFlags & { baseline: string[]; against?: string[]; durationThreshold?: DurationThreshold; jobs?: number; junit?: string; json?: string; html?: string; markdown?: string; quiet?: boolean; triage?: boolean }) => {
      const { qualifyCommand } = await import('./commands/qualify.ts');
      return qualifyCommand({
        matrixPath, baseline: opts.baseline, against: opts.against, filters: filtersOf(opts), jobs: opts.jobs, junitPath: opts.junit, jsonPath: opts.json,
        htmlPath: opts.html, markdownPath: opts.markdown, durationThreshold: opts.durationThreshold, triage: opts.triage, quiet: opts.quiet ?? false,
      });
    }));

  program
    .command('diff')
    .description('Compare two runs per ISA and suite: regressions, fixed, known failures changed, added, gone (and slower with --duration-threshold). Exit 1 when something regressed.')
    .argument('<old>', runsHelp.replace('; repeat for the shards of one run', ''))
    .argument('<new>', runsHelp.replace('; repeat for the shards of one run', ''))
    .option('--json', 'print the comparison as JSON')
    .addOption(durationOption())
    .action(act(async (oldPath: string, newPath: string, opts: { json?: boolean; durationThreshold?: DurationThreshold }) => {
      const { diffCommand } = await import('./commands/report.ts');
      return diffCommand([oldPath], [newPath], { json: opts.json ?? false, durationThreshold: opts.durationThreshold });
    }));

  program
    .command('report')
    .description('Render a run as one self-contained HTML page (grid, failures with their diffs, host, images; with --baseline the changes) and/or Markdown for a CI summary or release notes.')
    .argument('<run...>', runsHelp)
    .option('-b, --baseline <run>', `compare with this run: ${runsHelp}`, collect)
    .option('--html <file>', 'HTML path (default: report.html beside the results, unless only --markdown is given)')
    .option('--markdown <file>', 'Markdown path (within 64 KB, failures first; also appended to $GITHUB_STEP_SUMMARY when set)')
    .addOption(durationOption())
    .action(act(async (runPaths: string[], opts: { baseline?: string[]; html?: string; markdown?: string; durationThreshold?: DurationThreshold }) => {
      const { reportCommand } = await import('./commands/report.ts');
      return reportCommand(runPaths, { baseline: opts.baseline, htmlPath: opts.html, markdownPath: opts.markdown, durationThreshold: opts.durationThreshold });
    }));

  addBisectCommand(program, act);

  return program;
}

interface CheckFlags extends ShardFlags {
  arch?: string[];
  suite?: string[];
  grep?: string;
  sha512?: string;
  sha512sums?: string;
  tag?: string;
  tlsVerify: boolean;
  jobs?: number;
  failFast?: boolean;
  junit?: string;
  json?: string;
  quiet?: boolean;
}

interface ShardFlags {
  /** The K/N given, or false for --no-shard (commander's default for a negatable option is true). */
  shard?: string | boolean;
  shardTotal?: number;
  timings?: string;
}

interface FilterFlags extends ShardFlags {
  arch?: string[];
  suite?: string[];
  image?: string[];
  grep?: string;
}

/** The shard filters from the shard options and the CI variables. */
function shardFiltersOf(opts: ShardFlags): Pick<PlanFilters, 'shard' | 'timings'> {
  const shard = resolveShard({ flag: typeof opts.shard === 'string' ? opts.shard : undefined, total: opts.shardTotal, disabled: opts.shard === false }, process.env);
  return { ...(shard && { shard }), ...(opts.timings !== undefined && { timings: opts.timings }) };
}

const junitCaseFilesOption = () =>
  new Option('--junit-case-files', 'add file= and line= (the cases.yaml row, the probe source) to each JUnit <testcase>, for GitLab; junit-10.xsd has no such attribute');

/** Runs the CLI and returns the exit code (0 all good, 1 tests failed, 2 bad usage, input or host, 70 a harness bug). */
export async function main(argv: string[]): Promise<number> {
  let exitCode = EXIT_OK;
  const program = buildProgram((code) => (exitCode = code));
  for (const command of program.commands) command.exitOverride().showHelpAfterError('(run with --help for usage)');
  try {
    if (argv.length <= 2) {
      program.outputHelp();
      return EXIT_BAD_INPUT;
    }
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? EXIT_OK : EXIT_BAD_INPUT;
    }
    if (error instanceof HarnessError) {
      // One line per problem, each with the prefix (merge reports every problem at once).
      process.stderr.write(error.message.split('\n').map((line) => `harness: ${line}\n`).join(''));
      return error.exitCode;
    }
    process.stderr.write(`${reportInternalError(error, argv)}\n`);
    return EXIT_INTERNAL;
  }
}
