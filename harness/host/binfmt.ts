// binfmt_misc: which emulator the kernel starts for a foreign ELF binary. Handlers are
// machine-global, so everything here is idempotent, tolerates a racing process, and never
// touches a handler the harness did not register unless asked to.
import { readdirSync, readFileSync } from 'node:fs';
import { access, constants, writeFile } from 'node:fs/promises';
import { machine } from 'node:os';
import { join } from 'node:path';
import { HarnessError } from '../errors.ts';
import { type Isa, qemuBinary, runsNatively } from '../isa.ts';
import { versionLine } from './probe.ts';

export const binfmtRoot = '/proc/sys/fs/binfmt_misc';
/** Handlers named with this prefix are the harness's own; all others are foreign. */
export const HARNESS_HANDLER_PREFIX = 'harness-';
export const QEMU_APT_PACKAGE = 'qemu-user-static';
export const MOUNT_BINFMT_COMMAND = `mount -t binfmt_misc binfmt_misc ${binfmtRoot}`;
/*
 * F: the kernel opens the interpreter at registration, so a chroot needs no emulator inside.
 * P: pass the original argv[0] on, since BusyBox picks the applet by it. QEMU >= 6.0 reads
 * the kernel's AT_FLAGS_PRESERVE_ARGV0 auxv bit and then takes argv[0] from the extra
 * argument. Checked with QEMU 7.2 and Alpine's busybox: `exec -a ls /bin/busybox /etc` lists
 * /etc with FP; with F alone argv[0] is lost and busybox says 'etc: applet not found'.
 */
export const HARNESS_FLAGS = 'FP';

export interface BinfmtHandler {
  /** File name under binfmtRoot, e.g. 'qemu-aarch64'. */
  name: string;
  enabled: boolean;
  interpreter: string;
  /** Kernel flag letters as listed in the handler file, e.g. 'POCF'. */
  flags: string;
  offset: number;
  /** 'magic' handlers match bytes; 'extension' ones a file name suffix. */
  kind: 'magic' | 'extension';
  /** Lower-case hex of the magic bytes (empty for extension handlers). */
  magic: string;
  /** Lower-case hex of the mask; absent means every bit counts. */
  mask?: string;
  extension?: string;
}

export interface HandlerStatus {
  /** The ISA's name. */
  name: string;
  /** Handler that runs the ISA's binaries; null when the ISA runs natively. */
  handler: string | null;
  interpreter: string | null;
  flags: string;
  registeredByHarness: boolean;
  native: boolean;
}

export interface EnsureHandlersOptions {
  /** Remove foreign handlers for these ISAs (and register the harness's own instead). */
  replaceForeign?: boolean;
  /** `uname -m` of the host; defaults to this machine. */
  hostMachine?: string;
}

/** Parses the text of one handler file (as the kernel prints it). */
export function parseHandler(name: string, text: string): BinfmtHandler {
  const handler: BinfmtHandler = { name, enabled: false, interpreter: '', flags: '', offset: 0, kind: 'magic', magic: '' };
  for (const line of text.split('\n')) {
    const [key = '', ...rest] = line.trim().split(/\s+/);
    const value = rest.join(' ');
    if (key === 'enabled') handler.enabled = true;
    else if (key === 'disabled') handler.enabled = false;
    else if (key === 'interpreter') handler.interpreter = value;
    else if (key === 'flags:') handler.flags = value;
    else if (key === 'offset') handler.offset = Number(value);
    else if (key === 'magic') handler.magic = value.toLowerCase();
    else if (key === 'mask') handler.mask = value.toLowerCase();
    else if (key === 'extension') {
      handler.kind = 'extension';
      handler.extension = value;
    }
  }
  return handler;
}

/** Turns binfmt register syntax ('\x7f\x45' or plain characters) into bytes. */
export function registerSyntaxToBytes(text: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\' && text[i + 1] === 'x') {
      bytes.push(parseInt(text.slice(i + 2, i + 4), 16));
      i += 3;
    } else {
      bytes.push(text.charCodeAt(i));
    }
  }
  return Buffer.from(bytes);
}

/**
 * True when the handler accepts every binary of the ISA: each bit the handler checks is
 * one the ISA's magic fixes, with the same value.
 */
export function handlerRunsIsa(handler: BinfmtHandler, isa: Isa): boolean {
  if (handler.kind !== 'magic') return false;
  const isaMagic = registerSyntaxToBytes(isa.binfmt.magic);
  const isaMask = registerSyntaxToBytes(isa.binfmt.mask);
  const magic = Buffer.from(handler.magic, 'hex');
  const mask = handler.mask ? Buffer.from(handler.mask, 'hex') : Buffer.alloc(magic.length, 0xff);
  for (let i = 0; i < magic.length; i++) {
    const checked = mask[i] ?? 0xff;
    const at = handler.offset + i;
    const fixed = isaMask[at] ?? 0;
    if ((checked & ~fixed & 0xff) !== 0) return false;
    if (((magic[i] ?? 0) & checked) !== ((isaMagic[at] ?? 0) & checked)) return false;
  }
  return true;
}

/** The enabled handler that would run this ISA's binaries, if any. */
export function handlerFor(isa: Isa, handlers: readonly BinfmtHandler[]): BinfmtHandler | undefined {
  // The kernel tries the most recently registered handler first; if several match (rare:
  // setup refuses to add a second), prefer the harness's own, whose flags are known good.
  const matching = handlers.filter((h) => h.enabled && handlerRunsIsa(h, isa));
  return matching.find(isOwnHandler) ?? matching[0];
}

export function isOwnHandler(handler: BinfmtHandler): boolean {
  return handler.name.startsWith(HARNESS_HANDLER_PREFIX);
}

export function harnessHandlerName(isa: Isa): string {
  return `${HARNESS_HANDLER_PREFIX}qemu-${isa.qemuTarget}`;
}

export function qemuInterpreterPath(isa: Isa): string {
  return `/usr/bin/${qemuBinary(isa)}`;
}

/** The line written to binfmtRoot/register for the harness's handler of this ISA. */
export function registrationLine(isa: Isa): string {
  return `:${harnessHandlerName(isa)}:M:0:${isa.binfmt.magic}:${isa.binfmt.mask}:${qemuInterpreterPath(isa)}:${HARNESS_FLAGS}`;
}

export async function isBinfmtMounted(): Promise<boolean> {
  return access(join(binfmtRoot, 'register')).then(() => true, () => false);
}

export async function ensureBinfmtMounted(): Promise<void> {
  if (await isBinfmtMounted()) return;
  try {
    // Loaded here: every run imports this module, and execa's import is a tenth of a short run's start-up.
    const { execa } = await import('execa');
    await execa('mount', ['-t', 'binfmt_misc', 'binfmt_misc', binfmtRoot]);
  } catch (error) {
    throw new HarnessError(`binfmt_misc is not mounted at ${binfmtRoot}, and mounting it failed (${firstLine(error)}): as root run: ${MOUNT_BINFMT_COMMAND}`);
  }
}

export async function readHandlers(): Promise<BinfmtHandler[]> {
  if (!(await isBinfmtMounted())) return [];
  // Synchronous: a handful of small procfs files, where four thread-pool hops a file cost
  // more than the reads (every run reads them before its first case).
  const names = readdirSync(binfmtRoot).filter((name) => name !== 'register' && name !== 'status');
  const handlers = names.map((name) => {
    try {
      return parseHandler(name, readFileSync(join(binfmtRoot, name), 'utf8'));
    } catch {
      // Vanished between readdir and read: another process removed it.
      return undefined;
    }
  });
  return handlers.filter((h): h is BinfmtHandler => h !== undefined).sort((a, b) => a.name.localeCompare(b.name));
}

/** Makes sure each non-native ISA has an enabled F-flag handler; registers the missing ones. */
export async function ensureHandlers(isas: readonly Isa[], opts: EnsureHandlersOptions = {}): Promise<HandlerStatus[]> {
  const hostMachine = opts.hostMachine ?? machine();
  const emulated = isas.filter((isa) => !runsNatively(isa, hostMachine));
  if (emulated.length > 0) await ensureBinfmtMounted();
  const statuses: HandlerStatus[] = [];
  const problems: string[] = [];
  // Read once, and again only after a handler was added or removed.
  let handlers = emulated.length > 0 ? await readHandlers() : [];
  for (const isa of isas) {
    if (!emulated.includes(isa)) {
      statuses.push(handlerStatus(isa, undefined, true));
      continue;
    }
    const { handler, changed } = await ensureHandler(isa, handlers, opts.replaceForeign ?? false);
    if (changed) handlers = await readHandlers();
    if (!handler.flags.includes('F')) {
      problems.push(
        `${handler.name} (${handler.interpreter}) lacks the F flag, so ${isa.name} binaries fail inside a chroot: ` +
          `run 'harness setup --replace-foreign-binfmt'`,
      );
    } else if (!(await isExecutable(handler.interpreter))) {
      // The kernel still holds the old file open (F), but it is gone or replaced: qemu was removed or upgraded.
      problems.push(`${handler.name} points at ${handler.interpreter}, which is missing (needed for ${isa.name}): apt-get install ${QEMU_APT_PACKAGE}, then 'harness setup'`);
    }
    statuses.push(handlerStatus(isa, handler, false));
  }
  if (problems.length > 0) throw new HarnessError(`binfmt: ${problems.join('; ')}`);
  return statuses;
}

function handlerStatus(isa: Isa, handler: BinfmtHandler | undefined, native: boolean): HandlerStatus {
  return {
    name: isa.name,
    handler: handler?.name ?? null,
    interpreter: handler?.interpreter ?? null,
    flags: handler?.flags ?? '',
    registeredByHarness: handler ? isOwnHandler(handler) : false,
    native,
  };
}

/** Which handler runs each ISA now, changing nothing (handler null and not native: missing). */
export async function describeHandlers(isas: readonly Isa[], hostMachine: string = machine()): Promise<HandlerStatus[]> {
  const handlers = (await isBinfmtMounted()) ? await readHandlers() : [];
  return isas.map((isa) =>
    runsNatively(isa, hostMachine) ? handlerStatus(isa, undefined, true) : handlerStatus(isa, handlerFor(isa, handlers.filter((h) => h.enabled)), false),
  );
}

/** The handler that runs the ISA's binaries, registered if need be; `changed` when the table was. */
async function ensureHandler(isa: Isa, handlers: readonly BinfmtHandler[], replaceForeign: boolean): Promise<{ handler: BinfmtHandler; changed: boolean }> {
  const foreign = handlers.filter((h) => !isOwnHandler(h) && h.enabled && handlerRunsIsa(h, isa));
  const own = handlers.find((h) => h.name === harnessHandlerName(isa));
  if (replaceForeign) for (const h of foreign) await removeHandler(h.name);
  else if (foreign[0] && !own?.enabled) return { handler: foreign[0], changed: false };
  if (own?.enabled && isCurrentRegistration(own, isa)) return { handler: own, changed: replaceForeign && foreign.length > 0 };
  // Ours, but stale (other interpreter or flags) or disabled: register it afresh.
  if (own) await removeHandler(own.name);
  await register(isa);
  const registered = (await readHandlers()).find((h) => h.name === harnessHandlerName(isa));
  if (!registered) throw new HarnessError(`binfmt: ${harnessHandlerName(isa)} vanished right after registration; rerun (another process may be removing handlers)`);
  return { handler: registered, changed: true };
}

function isCurrentRegistration(handler: BinfmtHandler, isa: Isa): boolean {
  return handler.interpreter === qemuInterpreterPath(isa) && [...HARNESS_FLAGS].every((flag) => handler.flags.includes(flag));
}

async function register(isa: Isa): Promise<void> {
  const interpreter = qemuInterpreterPath(isa);
  if (!(await isExecutable(interpreter))) throw new HarnessError(`${interpreter} is missing (needed for ${isa.name}): apt-get install ${QEMU_APT_PACKAGE}`);
  try {
    await writeFile(join(binfmtRoot, 'register'), registrationLine(isa));
  } catch (error) {
    // EEXIST: a racing process registered the same name first; the caller re-reads it.
    if (errorCode(error) === 'EEXIST') return;
    if (errorCode(error) === 'EACCES' || errorCode(error) === 'EPERM') {
      throw new HarnessError(`binfmt: not allowed to register ${harnessHandlerName(isa)}: run as root (sudo harness setup)`);
    }
    throw new HarnessError(`binfmt: registering ${harnessHandlerName(isa)} failed (${firstLine(error)}): check ${join(binfmtRoot, 'status')} and dmesg`);
  }
}

async function removeHandler(name: string): Promise<void> {
  try {
    await writeFile(join(binfmtRoot, name), '-1');
  } catch (error) {
    // ENOENT: a racing process removed it already.
    if (errorCode(error) !== 'ENOENT') throw new HarnessError(`binfmt: cannot remove ${name} (${firstLine(error)}): run as root: echo -1 > ${join(binfmtRoot, name)}`);
  }
}

/** Removes the harness-* handlers and nothing else; returns their names. */
export async function removeOwnHandlers(): Promise<string[]> {
  const own = (await readHandlers()).filter(isOwnHandler);
  for (const handler of own) await removeHandler(handler.name);
  return own.map((h) => h.name);
}

const versionCache = new Map<string, Promise<string>>();

/** QEMU's version for this ISA ('7.2.22'), or 'native' when the host runs it itself. */
export function qemuVersion(isa: Isa, hostMachine: string = machine()): Promise<string> {
  if (runsNatively(isa, hostMachine)) return Promise.resolve('native');
  let version = versionCache.get(isa.qemuTarget);
  if (!version) {
    version = readQemuVersion(isa);
    versionCache.set(isa.qemuTarget, version);
    // Don't cache a failure: the user may install QEMU and retry in the same process.
    version.catch(() => versionCache.delete(isa.qemuTarget));
  }
  return version;
}

async function readQemuVersion(isa: Isa): Promise<string> {
  const version = /version\s+(\S+)/.exec((await versionLine(qemuInterpreterPath(isa))) ?? '')?.[1];
  if (!version) throw new HarnessError(`${qemuInterpreterPath(isa)} --version gave no version: apt-get install ${QEMU_APT_PACKAGE}`);
  return version;
}

function isExecutable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(() => true, () => false);
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? (('shortMessage' in error && typeof error.shortMessage === 'string') ? error.shortMessage : error.message) : String(error)).split('\n')[0] ?? '';
}
