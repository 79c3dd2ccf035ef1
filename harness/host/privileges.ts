// Whether this process can start a sandbox at all: root, or a user that may create user
// namespaces (the rootless sandbox). Root needs user namespaces too: each guest gets one of
// its own. Checked before a run builds or extracts anything, so a host that cannot run a
// single case says so at once, in one line.
import { readFile } from 'node:fs/promises';
import { HarnessError } from '../errors.ts';

const MAX_USER_NAMESPACES = '/proc/sys/user/max_user_namespaces';
export const ROOT_USERNS_FIX = 'sysctl -w user.max_user_namespaces=15000';

/** Throws when a user namespace cannot be created (not root: the kernel is asked, not guessed from sysctls). */
export async function ensureSandboxPrivileges(): Promise<void> {
  if (process.getuid?.() === 0) {
    // The one sysctl that stops root (absent: a kernel without the knob, which allows them).
    if ((await readFile(MAX_USER_NAMESPACES, 'utf8').catch(() => '')).trim() !== '0') return;
    throw new HarnessError(`${MAX_USER_NAMESPACES} is 0, and the sandbox gives each guest a user namespace of its own, even as root (so that it cannot reach the host's kernel): ${ROOT_USERNS_FIX}`);
  }
  // Loaded past the root check (execa, and the doctor's VM layer): a root run needs neither, and their import costs it more than the check.
  const { execa } = await import('execa');
  const probe = await execa('unshare', ['--user', 'true'], { reject: false });
  if (probe.exitCode === 0) return;
  const row = await (await import('./doctor.ts')).privilegeRow();
  const why = probe.stderr.split('\n')[0] || probe.shortMessage;
  throw new HarnessError(`not root, and user namespaces are unavailable (${why}; ${row.detail}): run as root, or ${row.fix?.replace(/ \(or run as root\)$/, '') ?? 'allow unprivileged user namespaces'}`);
}
