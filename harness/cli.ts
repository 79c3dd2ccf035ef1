// The CLI: parses arguments and calls the library. No logic of its own beyond choosing
// what to print and which exit code to return.
import { Command, CommanderError, Option } from 'commander';
import { availableParallelism } from 'node:os';
import { EXIT_BAD_INPUT, EXIT_OK, HarnessError } from './errors.ts';
import { ISA_NAMES, isaByName, ISAS, type Isa } from './isa.ts';
import { harnessVersion } from './paths.ts';

function parseArches(values: string[] | undefined): Isa[] {
  if (!values?.length) return [...ISAS];
  return values.flatMap((value) => value.split(',')).filter(Boolean).map(isaByName);
}

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new HarnessError(`--jobs: '${value}' is not a positive whole number`);
  return n;
}

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
    .description('As root on Debian/Ubuntu: install what is missing (apt), mount binfmt_misc, register QEMU handlers, fetch the sources. Elsewhere: say what to do.')
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
      .option('-s, --suite <name>', 'suite to run: image, busybox, musl, static; repeat or comma-separate', collect)
      .option('-i, --image <name>', 'image (by its name in the matrix) to run; repeat or comma-separate', collect)
      .option('-g, --grep <pattern>', 'only cases whose <suite>/<case> or ISA contains this (case-insensitive), or matches /regex/');
  const filtersOf = (opts: FilterFlags) => ({ arches: opts.arch, suites: opts.suite, images: opts.image, grep: opts.grep });

  filterOptions(
    program
      .command('list')
      .description('Print the cases a matrix expands to (ISA x image x suite x test) without running any; default matrix: matrices/default.yaml.')
      .argument('[matrix]', 'matrix file'),
  ).action(act(async (matrixPath: string | undefined, opts: FilterFlags) => {
    const { listCommand } = await import('./commands/run.ts');
    return listCommand(matrixPath, filtersOf(opts));
  }));

  filterOptions(
    program
      .command('run')
      .description('Boot every image of a matrix for each ISA under qemu-user, run its suites in parallel and write JUnit and JSON; builds missing images first. Default matrix: matrices/default.yaml.')
      .argument('[matrix]', 'matrix file'),
  )
    .option('-j, --jobs <n>', 'cases run at once (default: the matrix, else the number of cores)', parsePositiveInt)
    .option('--fail-fast', 'stop starting cases after the first failure')
    .option('--junit <file>', 'JUnit XML path (default: reports/<run>/junit.xml)')
    .option('--json <file>', 'results JSON path (default: reports/<run>/results.json)')
    .option('-q, --quiet', 'no progress, only the summary')
    .option('--triage', 'run each failure again under qemu-system with the ISA\'s real Linux kernel: emulator-only or failed (needs `harness setup --system`)')
    .action(act(async (matrixPath: string | undefined, opts: FilterFlags & { jobs?: number; failFast?: boolean; junit?: string; json?: string; quiet?: boolean; triage?: boolean }) => {
      const { runCommand } = await import('./commands/run.ts');
      return runCommand({ matrixPath, filters: filtersOf(opts), jobs: opts.jobs, failFast: opts.failFast, junitPath: opts.junit, jsonPath: opts.json, quiet: opts.quiet ?? false, triage: opts.triage });
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

  return program;
}

interface FilterFlags {
  arch?: string[];
  suite?: string[];
  image?: string[];
  grep?: string;
}

/** Runs the CLI and returns the exit code (0 all good, 1 tests failed, 2 bad usage, input or host). */
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
      process.stderr.write(`harness: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
}
