// `harness doctor`: checks the host and names, for each missing thing, the exact command
// that fixes it. Reads only; `harness setup` is the one that changes the machine.
import { readFile } from 'node:fs/promises';
import { machine, release } from 'node:os';
import { join } from 'node:path';
import { SOURCES, aptServes, defaultSourcesDir } from '../../images/sources.ts';
import { EXIT_BAD_INPUT, EXIT_OK } from '../errors.ts';
import { ISAS, type Isa, qemuBinary, runsNatively } from '../isa.ts';
import {
  MOUNT_BINFMT_COMMAND,
  QEMU_APT_PACKAGE,
  binfmtRoot,
  handlerFor,
  isBinfmtMounted,
  qemuVersion,
  readHandlers,
} from './binfmt.ts';
import { CLANG_MAJOR, HOST_TOOLS, type HostDistro, compilerPackages, installCommand, shellCommand, uapiHeadersDir, uapiHeadersPackage } from './packages.ts';
import { ROOT_USERNS_FIX } from './privileges.ts';
import { systemRows } from '../vm/host.ts';
import { aptDebSrcEntries, exists, findOnPath, hostDistro, installedPackages, versionLine } from './probe.ts';

export interface DoctorRow {
  check: string;
  ok: boolean;
  detail: string;
  /** The exact command that fixes a failed check. */
  fix?: string;
  /** Optional checks report but never fail the doctor. */
  required: boolean;
}

export interface DoctorReport {
  rows: DoctorRow[];
}

export interface DoctorOptions {
  /** ISAs to check (default: all). */
  arches?: readonly Isa[];
  /** `uname -m` of the host (default: this machine). */
  hostMachine?: string;
  sourcesDir?: string;
}

const SETUP = 'harness setup';
/** binfmt_misc passes AT_FLAGS_PRESERVE_ARGV0 (the P flag QEMU needs) since Linux 5.12. */
const MIN_KERNEL: readonly [number, number] = [5, 12];

function installFix(...packages: string[]): string {
  return shellCommand(installCommand(packages) ?? []);
}

export function kernelRow(kernelRelease: string): DoctorRow {
  const [major = 0, minor = 0] = kernelRelease.split(/[.-]/).map(Number);
  const ok = major > MIN_KERNEL[0] || (major === MIN_KERNEL[0] && minor >= MIN_KERNEL[1]);
  return {
    check: 'kernel',
    ok,
    detail: `${kernelRelease} (needs >= ${MIN_KERNEL.join('.')} for binfmt P with QEMU)`,
    fix: ok ? undefined : `boot a Linux ${MIN_KERNEL.join('.')} or newer kernel`,
    required: true,
  };
}

export async function privilegeRow(): Promise<DoctorRow> {
  const check = 'root or user namespaces';
  const read = (path: string) => readFile(path, 'utf8').then((t) => t.trim(), () => undefined);
  const maxUserNs = Number(await read('/proc/sys/user/max_user_namespaces') ?? 0);
  if (process.getuid?.() === 0) {
    // Even as root each guest gets a user namespace of its own (sandbox-run.c, enter_guest_namespaces).
    if (maxUserNs === 0) return { check, ok: false, detail: `running as root; user.max_user_namespaces=0, and each guest needs a user namespace of its own`, fix: ROOT_USERNS_FIX, required: true };
    return { check, ok: true, detail: 'running as root', required: true };
  }
  const debianClone = await read('/proc/sys/kernel/unprivileged_userns_clone');
  const apparmor = await read('/proc/sys/kernel/apparmor_restrict_unprivileged_userns');
  const detail = `not root; user.max_user_namespaces=${maxUserNs}, kernel.unprivileged_userns_clone=${debianClone ?? 'absent'}`;
  if (maxUserNs === 0) return { check, ok: false, detail, fix: 'sysctl -w user.max_user_namespaces=15000 (or run as root)', required: true };
  if (debianClone === '0') return { check, ok: false, detail, fix: 'sysctl -w kernel.unprivileged_userns_clone=1 (or run as root)', required: true };
  if (apparmor === '1') {
    return { check, ok: false, detail: `${detail}, AppArmor restricts them`, fix: 'sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or run as root)', required: true };
  }
  return { check, ok: true, detail: `${detail}: rootless sandboxes possible (setup still needs root)`, required: true };
}

async function binfmtMountRow(): Promise<DoctorRow> {
  const ok = await isBinfmtMounted();
  return { check: 'binfmt_misc', ok, detail: ok ? `mounted at ${binfmtRoot}` : `not mounted at ${binfmtRoot}`, fix: ok ? undefined : MOUNT_BINFMT_COMMAND, required: true };
}

async function isaRows(isa: Isa, hostMachine: string, handlers: Awaited<ReturnType<typeof readHandlers>>, hostArch: string): Promise<DoctorRow[]> {
  const rows: DoctorRow[] = [];
  if (runsNatively(isa, hostMachine)) {
    rows.push({ check: `${isa.name}: emulation`, ok: true, detail: `native on ${hostMachine}, no QEMU needed`, required: true });
  } else {
    const version = await qemuVersion(isa, hostMachine).catch(() => undefined);
    rows.push({
      check: `${isa.name}: qemu`,
      ok: version !== undefined,
      detail: version ? `${qemuBinary(isa)} ${version}` : `/usr/bin/${qemuBinary(isa)} missing`,
      fix: version ? undefined : installFix(QEMU_APT_PACKAGE),
      required: true,
    });
    const handler = handlerFor(isa, handlers);
    const hasF = handler?.flags.includes('F') ?? false;
    rows.push({
      check: `${isa.name}: binfmt handler`,
      ok: hasF,
      detail: handler ? `${handler.name} -> ${handler.interpreter} flags ${handler.flags || '(none)'}${hasF ? '' : ', no F: fails in a chroot'}` : 'none registered',
      fix: hasF ? undefined : handler ? `echo -1 > ${join(binfmtRoot, handler.name)} && ${SETUP}` : SETUP,
      required: true,
    });
  }
  const compiler = isa.compiler.kind === 'clang' ? `clang-${CLANG_MAJOR}` : `${isa.gccTriplet}-gcc`;
  const compilerVersion = await versionLine(compiler).catch(() => undefined);
  rows.push({
    check: `${isa.name}: ${isa.compiler.kind === 'clang' ? 'clang' : 'cross gcc'}`,
    ok: compilerVersion !== undefined,
    detail: compilerVersion ?? `${compiler} not found`,
    fix: compilerVersion ? undefined : installFix(...compilerPackages(isa, { debianArch: hostArch })),
    required: true,
  });
  const headersPackage = uapiHeadersPackage(isa);
  if (headersPackage) {
    const headers = await exists(uapiHeadersDir(isa));
    rows.push({
      check: `${isa.name}: kernel headers`,
      ok: headers,
      detail: headers ? uapiHeadersDir(isa) : `${uapiHeadersDir(isa)} missing`,
      fix: headers ? undefined : installFix(headersPackage),
      required: true,
    });
  }
  return rows;
}

async function toolRows(): Promise<DoctorRow[]> {
  const rows = await Promise.all(
    HOST_TOOLS.map(async (tool): Promise<DoctorRow> => {
      const path = await findOnPath(tool.command);
      return {
        check: `tool: ${tool.command}`,
        ok: path !== undefined,
        detail: `${path ?? 'not found'} (${tool.purpose}${tool.required ? '' : '; optional'})`,
        fix: path ? undefined : installFix(tool.debianPackage),
        required: tool.required,
      };
    }),
  );
  const junitparser = await installedPackages(['python3-junitparser']);
  rows.push({
    check: 'tool: python3-junitparser',
    ok: junitparser.size > 0,
    detail: `${junitparser.size > 0 ? 'installed' : 'not installed'} (cross-checks JUnit output in tests; optional)`,
    fix: junitparser.size > 0 ? undefined : installFix('python3-junitparser'),
    required: false,
  });
  return rows;
}

async function overlayRow(): Promise<DoctorRow> {
  const filesystems = await readFile('/proc/filesystems', 'utf8').catch(() => '');
  const ok = /\boverlay$/m.test(filesystems);
  return { check: 'overlayfs', ok, detail: ok ? 'in /proc/filesystems' : 'not in /proc/filesystems', fix: ok ? undefined : 'modprobe overlay', required: true };
}

async function sourceRows(sourcesDir: string, distro: HostDistro | undefined): Promise<DoctorRow[]> {
  const files = await Promise.all(SOURCES.map(async (s) => ({ source: s, file: s.file, present: await exists(join(sourcesDir, s.file)) })));
  // Only fetching with the machine's own apt needs it; sources its suite lacks come by URL, and cached ones need nothing.
  const userList = process.env.HARNESS_SOURCE_LIST || undefined;
  const needed = files.some(({ source, present }) => !present && source.kind === 'source' && aptServes(source, distro, userList));
  const debSrc = await aptDebSrcEntries();
  return [
    {
      check: 'apt deb-src',
      ok: debSrc.length > 0 || !needed,
      detail: debSrc[0] ?? `no deb-src line in /etc/apt (${needed ? 'needed to fetch the sources with apt-get source' : 'not needed here'})`,
      fix: debSrc.length > 0 || !needed ? undefined : SETUP,
      required: needed,
    },
    ...files.map(({ file, present }) => ({
      check: `source: ${file}`,
      ok: present,
      detail: present ? join(sourcesDir, file) : `not in ${sourcesDir}`,
      fix: present ? undefined : SETUP,
      required: true,
    })),
  ];
}

export async function runDoctor(opts: DoctorOptions = {}): Promise<DoctorReport> {
  const isas = opts.arches ?? ISAS;
  const hostMachine = opts.hostMachine ?? machine();
  const [handlers, distro] = await Promise.all([readHandlers(), hostDistro()]);
  const hostArch = distro?.debianArch ?? '';
  const rows: DoctorRow[] = [kernelRow(release()), await privilegeRow(), await binfmtMountRow()];
  for (const isa of isas) rows.push(...(await isaRows(isa, hostMachine, handlers, hostArch)));
  rows.push(...(await toolRows()), await overlayRow(), ...(await sourceRows(opts.sourcesDir ?? defaultSourcesDir(), distro)));
  // Only triage (run --triage, harness triage) needs these: optional.
  rows.push(...(await systemRows(isas, hostMachine)).map((row) => ({ ...row, required: false })));
  return { rows };
}

/** 0 when every required check passes, 2 (bad host) otherwise. */
export function doctorExitCode(report: DoctorReport): number {
  return report.rows.some((row) => row.required && !row.ok) ? EXIT_BAD_INPUT : EXIT_OK;
}

/** An aligned table: mark, check, detail; a failed row's fix on the line below it. */
export function formatDoctorReport(report: DoctorReport): string {
  const width = Math.max(0, ...report.rows.map((row) => row.check.length));
  const lines: string[] = [];
  for (const row of report.rows) {
    const mark = row.ok ? '✓' : row.required ? '✗' : '-';
    lines.push(`${mark} ${row.check.padEnd(width)}  ${row.detail}`);
    if (!row.ok && row.fix) lines.push(`  ${' '.repeat(width)}  fix: ${row.fix}`);
  }
  const failed = report.rows.filter((row) => row.required && !row.ok).length;
  const optional = report.rows.filter((row) => !row.required && !row.ok).length;
  lines.push('');
  lines.push(
    (failed === 0 ? 'all required checks pass' : `${failed} required check${failed === 1 ? '' : 's'} failed`) +
      (optional > 0 ? `; ${optional} optional missing (-)` : ''),
  );
  return lines.join('\n');
}
