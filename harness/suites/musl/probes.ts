// The musl suite's probes: one small C program per promise of a static musl binary, in
// probes/<name>.c, with what each needs inside the guest. Pure data plus the few facts a
// probe takes from the ISA table.
import type { CaseFile } from '../../case.ts';
import type { Isa } from '../../isa.ts';

export interface Probe {
  /** File stem of probes/<name>.c and the case name. */
  name: string;
  /** The promise it checks, one line. */
  promise: string;
  /**
   * True when its stdout is the same on every ISA (the probe prints only ISA-independent
   * facts) and is given by probes/<name>.expected.
   */
  crossIsa: boolean;
  /** Arguments after the binary's guest path; may name other guest paths via guestPath(). */
  args?: (isa: Isa) => string[];
  /** Stdout the probe must print on this ISA, as a regular expression, for probes that are not crossIsa. */
  stdoutMatches?: (isa: Isa) => string;
  /** Files placed in both roots. */
  files?: CaseFile[];
  /** Files only the empty root needs (the image has its own). */
  emptyRootFiles?: CaseFile[];
  /** Other programs from probes/ the probe runs (compiled like it, copied in beside it). */
  helpers?: string[];
  /** Seconds on a native ISA, when the default is not enough. */
  timeoutSeconds?: number;
}

/** Where a compiled program from probes/ lives inside the guest. */
export function guestPath(name: string): string {
  return `/opt/probes/${name}`;
}

const HOSTS_LOCALHOST = '127.0.0.1\tlocalhost localhost.localdomain\n::1\tlocalhost ip6-localhost\n';

/** The layout probe's first lines follow from the ISA's byte order and ELF class (musl's ABIs are LP64 or ILP32). */
function layoutLines(isa: Isa): string {
  const word = isa.elf.class / 8;
  return [
    `endian ${isa.elf.endianness}`,
    `bits ${isa.elf.class}`,
    `sizeof short 2 int 4 long ${word} long long 8 pointer ${word} size_t ${word}`,
    'sizeof off_t 8 time_t 8',
    'offsetof mixed: s 2 i 4 l 8',
  ].join('\n');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export const PROBES: readonly Probe[] = [
  { name: 'static-elf', promise: 'its own ELF headers (/proc/self/exe) have no PT_INTERP and no DT_NEEDED', crossIsa: true },
  {
    name: 'hosts-lookup',
    promise: 'getaddrinfo, getnameinfo and gethostbyname answer from /etc/hosts',
    crossIsa: true,
    files: [{ path: '/etc/hosts', content: `${HOSTS_LOCALHOST}10.11.12.13\tprobe-host.test probe-alias\nfd00::1:2\tprobe-host6.test\n` }],
  },
  {
    name: 'dns-lookup',
    promise: 'getaddrinfo asks the DNS server in /etc/resolv.conf (a responder on 127.0.0.1:53 the probe starts)',
    crossIsa: true,
    args: () => [guestPath('dns-responder')],
    helpers: ['dns-responder'],
    files: [
      { path: '/etc/resolv.conf', content: 'nameserver 127.0.0.1\noptions timeout:2 attempts:2\n' },
      { path: '/etc/hosts', content: HOSTS_LOCALHOST },
    ],
  },
  { name: 'iconv', promise: 'iconv converts UTF-8, ISO-8859-1 and UTF-16 (LE, BE, BOM) with built-in tables', crossIsa: true },
  { name: 'threads', promise: 'pthread_create/join, pthread_once and detached threads with small stacks', crossIsa: true },
  { name: 'thread-local', promise: '_Thread_local copies per thread and pthread key destructors', crossIsa: true },
  { name: 'atomics', promise: 'C11 atomics (fetch_add, CAS, exchange, atomic_flag) lose no update under contention', crossIsa: true },
  { name: 'condvar', promise: 'mutexes and condition variables hand over every item; timed waits time out', crossIsa: true },
  { name: 'signals', promise: 'sigaction with SA_SIGINFO, blocking and pending, sigqueue values, sigaltstack', crossIsa: true },
  { name: 'fork-exec', promise: 'fork, execve, waitpid, pipes and posix_spawn', crossIsa: true },
  { name: 'time64', promise: '64-bit time_t: dates after 2038 format right, file times past 2038, clocks work', crossIsa: true },
  { name: 'file-times', promise: 'utimensat/futimens set and stat/fstat/fstatat read back nanoseconds; UTIME_OMIT, UTIME_NOW', crossIsa: true },
  { name: 'libm', promise: 'libm gives known values within a few ulps', crossIsa: true },
  {
    name: 'layout',
    promise: 'byte order and type sizes match the ISA table (endianness, ELF class)',
    crossIsa: false,
    args: (isa) => [isa.elf.endianness, String(isa.elf.class)],
    stdoutMatches: (isa) => `^${escapeRegExp(layoutLines(isa))}\\nISA-specific: [^\\n]*\\n$`,
  },
  { name: 'big-file', promise: 'a sparse file over 4 GiB: lseek, write, fstat, pread, ftruncate, fseeko', crossIsa: true },
  { name: 'mprotect', promise: 'mmap and mprotect: a write to a PROT_READ page raises SIGSEGV at the address', crossIsa: true },
  { name: 'setjmp', promise: 'setjmp/longjmp and sigsetjmp/siglongjmp restore state and signal mask', crossIsa: true },
  { name: 'regex', promise: 'POSIX regcomp/regexec: ERE, BRE back-references, REG_ICASE, errors', crossIsa: true },
  { name: 'fnmatch-glob', promise: 'fnmatch flags and glob over a directory in /tmp', crossIsa: true },
  { name: 'qsort', promise: 'qsort and bsearch on ints, strings and odd-sized records', crossIsa: true },
  { name: 'locale', promise: 'C.UTF-8 with no locale files: setlocale, mbstowcs, wcwidth, mbrtowc', crossIsa: true },
  {
    name: 'passwd',
    promise: 'getpwnam("root"), getpwuid and getgrnam read /etc/passwd and /etc/group',
    crossIsa: true,
    emptyRootFiles: [
      { path: '/etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' },
      { path: '/etc/group', content: 'root:x:0:root\nnogroup:x:65534:\n' },
    ],
  },
  {
    name: 'string-routines',
    promise: 'memcpy, memmove, memset, memcmp, strlen, strchr, strcpy match a byte-wise reference at every alignment',
    crossIsa: true,
    timeoutSeconds: 60,
  },
  { name: 'printf-strtod', promise: 'printf of doubles (%f %e %g %a) and exact strtod round trips', crossIsa: true },
  { name: 'random', promise: 'getrandom, /dev/urandom and mkstemp', crossIsa: true },
  { name: 'sleep', promise: 'clock_nanosleep (relative, absolute), nanosleep and setitimer sleep long enough', crossIsa: true },
  { name: 'dlopen', promise: 'dlopen in a static binary fails cleanly with a dlerror message', crossIsa: true },
  { name: 'files-dirs', promise: 'stdio, rename, symlink, dup2, O_CLOEXEC, fcntl locks and scandir', crossIsa: true },
  { name: 'int64', promise: '64-bit division, shifts, conversions and printf/strtoull (libgcc helpers on 32-bit ISAs)', crossIsa: true },
  { name: 'unix-socket', promise: 'AF_UNIX socketpair with SCM_RIGHTS and a named socket in /tmp', crossIsa: true },
];

/** Every program to compile: the probes and the helpers they run. */
export function programNames(probes: readonly Probe[] = PROBES): string[] {
  return [...new Set(probes.flatMap((probe) => [probe.name, ...(probe.helpers ?? [])]))];
}
