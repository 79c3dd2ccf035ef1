// Whether this process can start a sandbox at all: root, or a user that may create user
// namespaces (the rootless sandbox). Checked before a run builds or extracts anything, so
// a host that cannot run a single case says so at once, in one line.
import { HarnessError } from '../errors.ts';

/** Throws when not root and a user namespace cannot be created (the kernel is asked, not guessed from sysctls). */
export async function ensureSandboxPrivileges(): Promise<void> {
  if (process.getuid?.() === 0) return;
  // Loaded past the root check (execa, and the doctor's VM layer): a root run needs neither, and their import costs it more than the check.
  const { execa } = await import('execa');
  const probe = await execa('unshare', ['--user', 'true'], { reject: false });
  if (probe.exitCode === 0) return;
  const row = await (await import('./doctor.ts')).privilegeRow();
  const why = probe.stderr.split('\n')[0] || probe.shortMessage;
  throw new HarnessError(`not root, and user namespaces are unavailable (${why}; ${row.detail}): run as root, or ${row.fix?.replace(/ \(or run as root\)$/, '') ?? 'allow unprivileged user namespaces'}`);
}
