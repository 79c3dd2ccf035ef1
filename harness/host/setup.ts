// `harness setup`: makes a Debian/Ubuntu host ready, as root: apt sources and packages,
// binfmt_misc and its QEMU handlers, the pinned sources in the cache. Idempotent: each step
// first checks, and a second run changes nothing.
import { mkdir, writeFile } from 'node:fs/promises';
import { machine } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { DEFAULT_SOURCE_LIST, SOURCES, aptServes, defaultSourcesDir, ensureSources } from '../../images/sources.ts';
import { coversDebSrc, debSrcEntry, describeEntry, machineArchive } from './apt-sources.ts';
import { HarnessError } from '../errors.ts';
import { ISAS, type Isa, runsNatively } from '../isa.ts';
import {
  MOUNT_BINFMT_COMMAND,
  type HandlerStatus,
  ensureBinfmtMounted,
  ensureHandlers,
  handlerFor,
  isBinfmtMounted,
  readHandlers,
} from './binfmt.ts';
import { type HostDistro, installCommand, missingPackages, shellCommand, wantedPackages } from './packages.ts';
import { ensureKernel, kernelStatus } from '../vm/kernels.ts';
import { systemPackages } from '../vm/host.ts';
import { APT_DIR, aptEntries, exists, hostDistro, installedPackages } from './probe.ts';

/** The file setup writes its deb-src entry to, below sources.list.d/ (.list or .sources, as the machine's own entry is written). */
const HARNESS_SOURCES_NAME = 'harness-src';
const SUPPORTED_DISTROS = ['debian', 'ubuntu'];
const APT_ENV = { DEBIAN_FRONTEND: 'noninteractive' };

export interface SetupOptions {
  arches?: readonly Isa[];
  /** Say what would be done; change nothing (needs no root). */
  dryRun?: boolean;
  log?: (line: string) => void;
  /** Remove foreign binfmt handlers for these ISAs and register the harness's own. */
  replaceForeign?: boolean;
  sourcesDir?: string;
  /** Where the machine's apt sources are read and the deb-src entry is written (default /etc/apt; tests give a temp dir). */
  aptDir?: string;
  /** Also what triage needs: qemu-system, firmware, cpio, and the pinned Debian kernels. */
  system?: boolean;
}

export interface SetupResult {
  /** Packages apt installed (or would install, in a dry run). */
  installed: string[];
  debSrcAdded: boolean;
  handlers: HandlerStatus[];
  /** Source files fetched into the cache (or that would be). */
  fetched: string[];
  /** Kernels fetched into the cache (or that would be), with --system. */
  kernels: string[];
}

/** What a host without apt or root should do instead; one line. */
export function manualSetupAdvice(isas: readonly Isa[], why: string): string {
  const triplets = isas.map((isa) => `${isa.gccTriplet}-gcc`).join(', ');
  return (
    `${why}: install QEMU user-mode static emulators (qemu-<target>-static), the cross compilers ${triplets} with their Linux headers, ` +
    `util-linux, make, gcc, bzip2, xz; as root run \`${MOUNT_BINFMT_COMMAND}\`; then \`harness doctor\` lists what is still missing`
  );
}

async function requireSupportedHost(isas: readonly Isa[], dryRun: boolean): Promise<HostDistro> {
  const distro = await hostDistro();
  if (!distro || !SUPPORTED_DISTROS.includes(distro.id)) {
    throw new HarnessError(manualSetupAdvice(isas, `harness setup knows Debian and Ubuntu only (this host: ${distro?.id || 'no dpkg'})`));
  }
  if (!dryRun && process.getuid?.() !== 0) {
    throw new HarnessError('harness setup changes apt sources, packages and binfmt_misc: run it as root (sudo harness setup), or see `harness setup --dry-run`');
  }
  return distro;
}

/** What setup does about the deb-src entry: nothing (not needed, or present), or write `text` to `path`. */
export type DebSrcPlan =
  | { action: 'none'; why: string }
  | { action: 'add'; path: string; text: string };

/**
 * The deb-src entry apt-get source needs, for the machine's own mirror and suite as its apt
 * sources name them (URI, suite, signed-by; deb822 or one-line, as the machine writes them).
 * None where the machine's suite lacks the pinned versions: those are fetched by URL, and
 * no other distribution's sources are added to the machine.
 */
export async function planDebSrc(distro: HostDistro, aptDir: string = APT_DIR, userList = process.env.HARNESS_SOURCE_LIST || undefined): Promise<DebSrcPlan> {
  const fromApt = SOURCES.filter((s) => s.kind === 'source' && aptServes(s, distro, userList));
  if (!fromApt.length) {
    const list = userList ?? DEFAULT_SOURCE_LIST;
    return { action: 'none', why: `not needed: ${distro.id} ${distro.codename || '(no codename)'} lacks the pinned source versions, which are fetched by URL from ${list}` };
  }
  const entries = await aptEntries(aptDir);
  const archive = machineArchive(entries, distro.codename);
  if (!archive) {
    throw new HarnessError(
      `${aptDir}: no enabled 'deb' entry for ${distro.codename} main in sources.list or sources.list.d/, so no mirror to take the deb-src line from; add your mirror's entry, or set HARNESS_SOURCE_LIST to fetch the sources by URL (see ${DEFAULT_SOURCE_LIST})`,
    );
  }
  const present = entries.find((e) => coversDebSrc([e], archive));
  if (present) return { action: 'none', why: `present (${describeEntry(present)})` };
  const { text, extension } = debSrcEntry(archive);
  const path = join(aptDir, 'sources.list.d', `${HARNESS_SOURCES_NAME}${extension}`);
  for (const ours of ['.list', '.sources'].map((ext) => join(aptDir, 'sources.list.d', `${HARNESS_SOURCES_NAME}${ext}`))) {
    if (await exists(ours)) throw new HarnessError(`${ours} exists but has no deb-src entry for ${archive.uri} ${archive.suite} main (the mirror of ${archive.file}): fix or delete it, then rerun harness setup`);
  }
  return { action: 'add', path, text };
}

/** Writes the planned deb-src entry (or says why none is needed); true when it wrote one. */
export async function ensureDebSrc(distro: HostDistro, aptDir: string, dryRun: boolean, log: (line: string) => void): Promise<boolean> {
  const plan = await planDebSrc(distro, aptDir);
  if (plan.action === 'none') {
    log(`apt deb-src: ${plan.why}`);
    return false;
  }
  log(`apt deb-src: ${dryRun ? 'would add' : 'adding'} ${plan.path}: ${plan.text.trim().replace(/\n/g, ' | ')}`);
  if (!dryRun) {
    await mkdir(join(aptDir, 'sources.list.d'), { recursive: true });
    await writeFile(plan.path, plan.text);
  }
  return true;
}

async function aptUpdate(log: (line: string) => void): Promise<void> {
  log('apt-get update');
  const result = await execa('apt-get', ['update'], { reject: false, env: APT_ENV, all: true });
  // Some indexes (foreign architectures, third-party repos) fail transiently; what matters is
  // whether the packages install, which is checked afterwards.
  if (result.exitCode !== 0) log(`apt-get update exited ${result.exitCode} (continuing; the install is checked): ${lastLine(result.all)}`);
}

async function installMissing(missing: string[], log: (line: string) => void): Promise<void> {
  const argv = installCommand(missing);
  if (!argv) return;
  log(shellCommand(argv));
  const [file = 'apt-get', ...args] = argv;
  const result = await execa(file, args, { reject: false, env: APT_ENV, all: true });
  const still = missingPackages(missing, await installedPackages(missing));
  if (still.length > 0) {
    throw new HarnessError(`apt-get could not install ${still.join(' ')} (${lastLine(result.all)}); check /etc/apt sources, run apt-get update, then rerun harness setup`);
  }
}

async function planHandlers(isas: readonly Isa[], hostMachine: string, log: (line: string) => void): Promise<void> {
  if (!(await isBinfmtMounted())) log(`binfmt_misc: would run ${MOUNT_BINFMT_COMMAND}`);
  const handlers = await readHandlers();
  for (const isa of isas.filter((isa) => !runsNatively(isa, hostMachine))) {
    const handler = handlerFor(isa, handlers);
    log(`binfmt ${isa.name}: ${handler?.flags.includes('F') ? `ok (${handler.name}, flags ${handler.flags})` : 'would register an F-flag handler'}`);
  }
}

export async function runSetup(opts: SetupOptions = {}): Promise<SetupResult> {
  const isas = opts.arches ?? ISAS;
  const dryRun = opts.dryRun ?? false;
  const log = opts.log ?? (() => {});
  const sourcesDir = opts.sourcesDir ?? defaultSourcesDir();
  const distro = await requireSupportedHost(isas, dryRun);

  const debSrcAdded = await ensureDebSrc(distro, opts.aptDir ?? APT_DIR, dryRun, log);
  const hostMachine = machine();
  const wanted = [...new Set([...wantedPackages(isas, distro), ...(opts.system ? systemPackages(isas, hostMachine) : [])])].sort();
  const missing = missingPackages(wanted, await installedPackages(wanted));
  const missingSources: string[] = [];
  for (const source of SOURCES) if (!(await exists(join(sourcesDir, source.file)))) missingSources.push(source.file);

  if (missing.length === 0) log(`packages: all ${wanted.length} wanted packages are installed; nothing to install`);
  else if (dryRun) log(`packages: would run ${shellCommand(installCommand(missing) ?? [])}`);
  // Installing or fetching needs fresh indexes; when nothing is missing, skip the slow update.
  if (!dryRun && (debSrcAdded || missing.length > 0 || missingSources.length > 0)) await aptUpdate(log);
  if (!dryRun) await installMissing(missing, log);

  let handlers: HandlerStatus[] = [];
  if (dryRun) await planHandlers(isas, hostMachine, log);
  else {
    await ensureBinfmtMounted();
    handlers = await ensureHandlers(isas, { replaceForeign: opts.replaceForeign, hostMachine });
    for (const h of handlers) {
      log(`binfmt ${h.name}: ${h.native ? 'native' : `${h.handler} -> ${h.interpreter} flags ${h.flags}${h.registeredByHarness ? '' : ' (existing, not the harness\'s)'}`}`);
    }
  }

  if (missingSources.length === 0) log(`sources: all in ${sourcesDir}`);
  else if (dryRun) log(`sources: would fetch ${missingSources.join(', ')} into ${sourcesDir} (apt-get source --download-only)`);
  else {
    log(`sources: fetching ${missingSources.join(', ')} into ${sourcesDir}`);
    await ensureSources(sourcesDir);
  }
  const kernels = opts.system ? await ensureSystemKernels(isas, hostMachine, dryRun, log) : [];
  return { installed: missing, debSrcAdded, handlers, fetched: missingSources, kernels };
}

/** The pinned kernels, fetched with private apt lists (the host's sources are not touched). */
async function ensureSystemKernels(isas: readonly Isa[], hostMachine: string, dryRun: boolean, log: (line: string) => void): Promise<string[]> {
  const fetched: string[] = [];
  for (const isa of isas.filter((i) => !runsNatively(i, hostMachine))) {
    const status = await kernelStatus(isa);
    if (status.state === 'none') log(`kernel ${isa.name}: none (${status.reason}); triage reports its failures as not triaged`);
    else if (status.state === 'present') log(`kernel ${isa.name}: ${status.kernel.release} in ${status.path}`);
    else if (dryRun) log(`kernel ${isa.name}: would fetch ${status.kernel.package}=${status.kernel.version} from Debian ${status.kernel.suite}`);
    else await ensureKernel(isa, { log });
    if (status.state === 'missing') fetched.push(`${isa.name} ${status.kernel.release}`);
  }
  return fetched;
}

function lastLine(output: string | undefined): string {
  return output?.trim().split('\n').pop() ?? 'no output';
}
