/*
 * sandbox-run: runs test cases inside an image, each in fresh namespaces, with no shell and
 * no mount/ip/chroot binaries in between (each of those is a ~1-2 ms exec; see index.ts).
 * Built once per source hash by helper.ts with the host's cc.
 *
 *   sandbox-run --serve PARENT-PID
 *   sandbox-run CASE-OPTIONS -- PROGRAM [ARG]...
 *   sandbox-run --remove-cgroups DIR...
 *
 * CASE-OPTIONS: [--userns] [--linux32] [--copy] [--pid1] [--cwd DIR] [--hostname NAME] --mnt DIR
 *               [--lower DIR]... [--cgroup DIR]... [--tmpfs-size BYTES] [--rlimit-as BYTES]
 *               [--host-file GUEST-PATH HOST-PATH]... [--env NAME=VALUE]... [--stdin] [--output-cap BYTES]
 *               [--timeout-ms MS] [--stderr-to-stdout] [--report-file PATH]...
 *
 * --serve (the harness's per-case path: one long-lived helper per job slot, so a case costs
 * a clone here and no process start in the harness): reads requests on fd 0 and runs their
 * cases one at a time, in order (the harness sends a slot's next case while one runs, so it
 * starts here the moment the last one is reaped), and answers on fd 1 (protocol below). PARENT-PID is the process that started it: the
 * helper ends with it (PR_SET_PDEATHSIG), and at once if it died before that was armed. Without --serve: one case from argv, with this
 * process's stdin/stdout/stderr and environment, its status lines on fd 3, then exits like the
 * guest (the VM's /init runs cases so).
 *
 * Limits (the harness decides them; limits.ts, cgroup.ts): --cgroup: a cgroup directory the
 * harness made for this helper's cases; this process joins it before cloning init (join_cgroups),
 * so every guest process is charged to it. --tmpfs-size: the per-run tmpfs (every write of the case, /tmp included) is
 * that big; when the guest leaves it full, a "full tmpfs" line precedes the exit status.
 * --rlimit-as: RLIMIT_AS of the guest (the emulator itself), where no cgroup is available.
 * --output-cap (serve): bytes of stdout and of stderr passed on; the rest is read and counted.
 * --timeout-ms: SIGKILL the namespace that long after the clone, with a "timed out" line
 * before its status (the VM's /init uses it; under --serve the harness sends kill instead).
 * --stderr-to-stdout: the guest's fd 2 is its fd 1 (as 2>&1), so a program whose usage goes
 * to stderr needs no shell around it: under qemu-user a shell is a second emulated start,
 * which doubles the cost of a short case. --cwd: the guest's working directory. --env: the guest's environment, instead of
 * this process's. --stdin (serve): the request's trailing bytes are the guest's stdin (a
 * pipe); without it the guest reads /dev/null.
 *
 * --report-file (serve): after the case, before the next one starts, the file's text goes to
 * the harness in a "file" frame (its cgroup counters and cgroup.procs).
 * --host-file: copies a host file into the guest's root (its writable top), mode kept.
 * --lower: read-only layers, topmost first (none: an empty root). --mnt: an empty host
 * directory; each run mounts its own tmpfs on it, inside its own mount namespace, so runs
 * share it without seeing each other.
 *
 * Protocol (--serve). Request: "ID VERB ARGSLEN STDINLEN\n", then ARGSLEN bytes of
 * NUL-terminated arguments (CASE-OPTIONS -- PROGRAM [ARG]...), then STDINLEN bytes of stdin.
 * VERB is "run" or "kill" (lengths 0: kill case ID's whole namespace if it runs; if it still
 * waits, drop it, answered with an error status at once). Answer frames: "ID KIND LEN\n" then
 * LEN bytes; KIND "out" and "err" (guest output, up to the cap), "status" (the status lines
 * below), "file" (each --report-file, in order), and last "done" with "OUT-BYTES ERR-BYTES
 * MICROSECONDS" (whole output sizes, and the case's time from clone to reaping its init).
 *
 * Process tree:  this (P, host pid ns) -> init (pid 1 of a new pid and mount ns, cloned into
 * them; rootless, into new user/uts/ipc/net ns too) -> the guest program (pid 2; as root, in a
 * user, mount, uts, ipc and net ns of its own: enter_guest_namespaces). init exits as soon as the guest does, and
 * the kernel then kills whatever the guest left behind. Status lines: "exit N", "signal N"
 * or "error MESSAGE" (a setup failure: the guest never ran). SIGTERM/SIGINT/SIGHUP on P:
 * SIGKILL the namespace, reap it, exit. If P itself is SIGKILLed, init gets SIGKILL by
 * PR_SET_PDEATHSIG, which ends the namespace all the same.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STATUS_FD 3
#define SYNC_FD 4
#define REQUEST_FD 0
#define ANSWER_FD 1
#define MAX_LOWERS 8
#define MAX_CGROUPS 4
#define MAX_ENV 256
#define MAX_HOST_FILES 64
#define MAX_REPORT_FILES 8

extern char **environ;

struct spec {
  int userns, linux32, force_copy, guest_pid1, has_stdin, stderr_to_stdout, nlowers, ncgroups, nenv;
  const char *hostname, *mnt, *tmpfs_size, *cwd;
  int nhost_files, nreport_files;
  char *lowers[MAX_LOWERS], *cgroups[MAX_CGROUPS], *env[MAX_ENV + 1], *host_files[2 * MAX_HOST_FILES], *report_files[MAX_REPORT_FILES];
  unsigned long long rlimit_as, output_cap, timeout_ms;
  char **argv;
};

#define STATUS_LINE_MAX 4096

/* One status line, newline included, cut to STATUS_LINE_MAX; its length, or -1. */
static int format_line(char *line, const char *fmt, va_list ap) {
  int n = vsnprintf(line, STATUS_LINE_MAX - 1, fmt, ap);
  if (n < 0) return -1;
  if (n > STATUS_LINE_MAX - 2) n = STATUS_LINE_MAX - 2;
  line[n++] = '\n';
  return n;
}

/* In init: the one channel to the harness, a setup failure, never mixed with guest output. */
static void report(const char *fmt, ...) {
  char line[STATUS_LINE_MAX];
  va_list ap;
  va_start(ap, fmt);
  int n = format_line(line, fmt, ap);
  va_end(ap);
  if (n > 0 && write(STATUS_FD, line, n) < 0) { /* nobody listening: nothing more to do */ }
}

static void die(const char *fmt, ...) {
  char msg[3000];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  report("error %s: %s", msg, strerror(errno));
  _exit(125);
}

static void path_join(char *out, size_t size, const char *a, const char *b) {
  if ((size_t)snprintf(out, size, "%s%s", a, b) >= size) {
    errno = ENAMETOOLONG;
    die("path %s%s", a, b);
  }
}

static void mount_or_die(const char *src, const char *target, const char *type, unsigned long flags, const char *data) {
  if (mount(src, target, type, flags, data) < 0) die("mount %s on %s", type ? type : src, target);
}

/* The guest's umask, kept while init makes its root with none (child_main). */
static mode_t guest_umask;

/* A directory with the mode of a real root's (/tmp 1777): made so (the umask is 0 here), or
 * the image's own, put right only where it differs, as a chmod of an image file copies it up
 * into the case's tmpfs. */
static void mkdir_or_die(const char *path, mode_t mode) {
  if (mkdir(path, mode) == 0) return;
  struct stat st;
  if (errno != EEXIST || stat(path, &st) < 0) die("mkdir %s", path);
  if ((st.st_mode & 07777) != mode && chmod(path, mode) < 0) die("chmod %s", path);
}

/* Copy fallback for hosts where overlayfs is refused: cp -a each layer, bottom first. */
static void copy_layers(char **lowers, int nlowers, const char *root) {
  for (int i = nlowers - 1; i >= 0; i--) {
    char src[4096];
    path_join(src, sizeof src, lowers[i], "/.");
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
      execl("/bin/cp", "cp", "-a", src, root, (char *)NULL);
      _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      errno = EIO;
      die("cp -a %s %s (copy fallback)", src, root);
    }
  }
}

static void make_root(char **lowers, int nlowers, const char *mnt, int userns, int force_copy, const char *tmpfs_size, char *root, size_t size) {
  char upper[4096], work[4096], tmpfs_opts[64];
  path_join(root, size, mnt, "/root");
  path_join(upper, sizeof upper, mnt, "/upper");
  path_join(work, sizeof work, mnt, "/work");
  /* Everything a case writes lands in this tmpfs, which dies with the mount namespace. */
  if (tmpfs_size) snprintf(tmpfs_opts, sizeof tmpfs_opts, "mode=0755,size=%s", tmpfs_size);
  else snprintf(tmpfs_opts, sizeof tmpfs_opts, "mode=0755");
  mount_or_die("sandbox", mnt, "tmpfs", MS_NOSUID, tmpfs_opts);
  mkdir_or_die(root, 0755);
  if (nlowers > 0 && !force_copy) {
    mkdir_or_die(upper, 0755);
    mkdir_or_die(work, 0755);
    char opts[16384];
    int n = snprintf(opts, sizeof opts, "upperdir=%s,workdir=%s%s,lowerdir=", upper, work, userns ? ",userxattr" : "");
    for (int i = 0; i < nlowers; i++) n += snprintf(opts + n, sizeof opts - n, "%s%s", i ? ":" : "", lowers[i]);
    if (n >= (int)sizeof opts) {
      errno = E2BIG;
      die("overlay options");
    }
    if (mount("overlay", root, "overlay", 0, opts) == 0) return;
  }
  copy_layers(lowers, nlowers, root);
  /* pivot_root needs the new root to be a mount point of its own. */
  mount_or_die(root, root, NULL, MS_BIND, NULL);
}

/* --host-file: a host file copied into the new root (its writable top, so the guest may change
 * it copy-on-write as any file), with the host file's mode; missing parents are made 0755. */
static void copy_in(const char *root, const char *guest_path, const char *host_path) {
  char target[4096];
  path_join(target, sizeof target, root, guest_path);
  for (char *slash = strchr(target + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
    *slash = 0;
    if (mkdir(target, 0755) < 0 && errno != EEXIST) die("mkdir %s", target);
    *slash = '/';
  }
  int in = open(host_path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (in < 0 || fstat(in, &st) < 0) die("open %s", host_path);
  int out = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) die("create %s", target);
  char buf[65536];
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0)
    if (write(out, buf, n) != n) die("write %s", target);
  if (n < 0) die("read %s", host_path);
  if (fchmod(out, st.st_mode & 07777) < 0) die("chmod %s", target);
  close(in);
  close(out);
}

struct device {
  const char *name;
  unsigned major, minor;
};

/* Binds a host device node over an empty file in the guest's /dev (mknod is refused rootless).
 * The host node must be the character device it claims: a /dev/null replaced by a regular
 * file would hand every guest its contents. */
static void bind_device(const char *dev, const struct device *device) {
  char target[4096], source[64];
  const char *name = device->name;
  path_join(target, sizeof target, dev, name);
  snprintf(source, sizeof source, "/dev%s", name);
  struct stat st;
  if (stat(source, &st) < 0) die("host device %s", source);
  if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != device->major || minor(st.st_rdev) != device->minor) {
    errno = ENODEV;
    die("host device %s is not the character device %u:%u (recreate it: mknod -m 666 %s c %u %u)", source, device->major, device->minor, source, device->major, device->minor);
  }
  int fd = open(target, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
  if (fd < 0) die("create %s", target);
  close(fd);
  mount_or_die(source, target, NULL, MS_BIND, NULL);
}

static void symlink_or_die(const char *to, const char *dev, const char *name) {
  char link[4096];
  path_join(link, sizeof link, dev, name);
  if (symlink(to, link) < 0) die("symlink %s", link);
}

/* As container engines do: the parts of /proc that reach the host kernel (sysctls, sysrq,
 * IRQs, buses) are read-only for the guest, who may be real root. */
static void protect_proc(const char *proc) {
  static const char *const readonly[] = {"/sys", "/sysrq-trigger", "/irq", "/bus"};
  for (size_t i = 0; i < sizeof readonly / sizeof *readonly; i++) {
    char path[4096];
    path_join(path, sizeof path, proc, readonly[i]);
    if (access(path, F_OK) < 0) continue;
    mount_or_die(path, path, NULL, MS_BIND | MS_REC, NULL);
    mount_or_die(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  }
}

static void populate(const char *root) {
  char proc[4096], dev[4096], tmp[4096], sub[4096];
  path_join(proc, sizeof proc, root, "/proc");
  path_join(dev, sizeof dev, root, "/dev");
  path_join(tmp, sizeof tmp, root, "/tmp");
  mkdir_or_die(proc, 0555);
  mount_or_die("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  protect_proc(proc);
  mkdir_or_die(dev, 0755);
  mount_or_die("dev", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k");
  static const struct device devices[] = {{"/null", 1, 3}, {"/zero", 1, 5}, {"/full", 1, 7}, {"/random", 1, 8}, {"/urandom", 1, 9}, {"/tty", 5, 0}};
  for (size_t i = 0; i < sizeof devices / sizeof *devices; i++) bind_device(dev, &devices[i]);
  path_join(sub, sizeof sub, dev, "/shm");
  mkdir_or_die(sub, 01777);
  mount_or_die("shm", sub, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  path_join(sub, sizeof sub, dev, "/pts");
  mkdir_or_die(sub, 0755);
  mount_or_die("devpts", sub, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
  symlink_or_die("pts/ptmx", dev, "/ptmx");
  symlink_or_die("/proc/self/fd", dev, "/fd");
  symlink_or_die("/proc/self/fd/0", dev, "/stdin");
  symlink_or_die("/proc/self/fd/1", dev, "/stdout");
  symlink_or_die("/proc/self/fd/2", dev, "/stderr");
  /* /tmp stays in the overlay, whose upper is the per-run tmpfs: RAM-backed and private like
   * a tmpfs of its own, but files the case placed under /tmp stay visible. */
  mkdir_or_die(tmp, 01777);
}

static void loopback_up(void) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) die("SIOCGIFFLAGS lo");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) die("SIOCSIFFLAGS lo");
  close(fd);
}

static void enter_root(const char *root) {
  /* pivot_root, then drop the old root: unlike a bare chroot, no path leads back to the host. */
  if (chdir(root) < 0) die("chdir %s", root);
  if (syscall(SYS_pivot_root, ".", ".") < 0) die("pivot_root %s", root);
  if (umount2(".", MNT_DETACH) < 0) die("umount old root");
  if (chdir("/") < 0) die("chdir /");
}

static void reset_signals(void) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
}

/* The cgroups this process sits in. It joins a case's before cloning init, which is then born
 * inside them with all it starts: no process moves per case. Moving one takes the kernel's
 * cgroup threadgroup lock for writing, which waits out an RCU grace period and holds up every
 * fork and exit on the machine meanwhile (0.5-1 ms a case at two at once, bench/micro.ts).
 * Served, the cgroups are the helper's own set (the harness gives each helper one), so it
 * joins them once; the helper counts as one of their tasks (cgroup.ts allows for it). */
static char joined[MAX_CGROUPS][4096];
static int njoined;

/* Joins the spec's cgroups unless already in them; on failure the reason is in `why`. */
static int join_cgroups(const struct spec *s, char *why, size_t size) {
  int same = s->ncgroups == njoined;
  for (int i = 0; same && i < s->ncgroups; i++) same = !strcmp(joined[i], s->cgroups[i]);
  if (same) return 0;
  njoined = 0;
  for (int i = 0; i < s->ncgroups; i++) {
    char procs[4096];
    if ((size_t)snprintf(procs, sizeof procs, "%s/cgroup.procs", s->cgroups[i]) >= sizeof procs) errno = ENAMETOOLONG;
    else {
      int fd = open(procs, O_WRONLY | O_CLOEXEC);
      int ok = fd >= 0 && write(fd, "0", 1) == 1;
      if (fd >= 0) close(fd);
      if (ok) continue;
    }
    snprintf(why, size, "join the cgroup %s", s->cgroups[i]);
    return -1;
  }
  for (int i = 0; i < s->ncgroups; i++) snprintf(joined[i], sizeof joined[i], "%s", s->cgroups[i]);
  njoined = s->ncgroups;
  return 0;
}

/* After the guest: a write-full tmpfs explains the guest's ENOSPC failures (overlay statfs is its upper's). */
static void report_full_tmpfs(void) {
  struct statfs fs;
  if (statfs("/", &fs) == 0 && fs.f_blocks > 0 && fs.f_bavail == 0) report("full tmpfs");
}

static void exec_guest(const struct spec *s, char **argv, const char *cwd) {
  reset_signals();
  umask(guest_umask);
  if (s->rlimit_as) {
    struct rlimit limit = {s->rlimit_as, s->rlimit_as};
    if (setrlimit(RLIMIT_AS, &limit) < 0) die("setrlimit(RLIMIT_AS)");
  }
  setsid(); /* no controlling terminal of the host's */
  if (s->linux32 && personality(PER_LINUX32) < 0) die("personality(PER_LINUX32)");
  close(STATUS_FD);
  /* A missing directory is the case's fault (a guest path), not a sandbox failure. */
  if (cwd && chdir(cwd) < 0) {
    fprintf(stderr, "sandbox: cannot change to the working directory %s: %s\n", cwd, strerror(errno));
    _exit(126);
  }
  /* Set before execvp: its PATH search is the guest's. */
  if (s->nenv) environ = (char **)s->env;
  execvp(argv[0], argv);
  int err = errno;
  fprintf(stderr, "sandbox: cannot run %s: %s\n", argv[0], strerror(err));
  _exit(err == ENOENT ? 127 : 126);
}

static int write_id_map(pid_t pid, const char *file, const char *text);

/*
 * Run as root, the guest still must not reach the host's kernel: real root in the first
 * namespaces could remount the read-only parts of /proc writable, unmount them, mount another
 * /proc, make a block device node of the host's disk, load a module, set the clock. So the
 * guest enters a user namespace of its own, its ids mapped one to one (root is still root to
 * the image's files), and takes a copy of the finished mount tree with it: the kernel locks
 * every mount of a copy made for a less privileged namespace, so the guest, root with every
 * capability inside its namespaces, can mount and unmount its own but not undo those. Its
 * network, hostname and IPC namespaces are made then too, owned by it, so `ifconfig` and
 * `hostname` work there. Rootless needs none of it: init is in a user namespace already.
 *
 * `enter_guest_namespaces` runs in the guest-to-be; a peer still in the first user namespace
 * (init, or a child of init when the guest is pid 1) writes its id maps in `map_guest_ids`.
 */
struct peer_pipes {
  int to_peer[2], to_guest[2];
};

/*
 * One more way out remains for that guest: a cgroup namespace, which it may make, lets
 * it mount cgroup2, rooted at its cgroup, which on a host whose processes sit at the v2 root
 * is the host's whole tree, writable by uid 0 (seen: cgroup.max.depth written back). So the
 * guest may not make cgroup namespaces: unshare and clone with CLONE_NEWCGROUP get EPERM,
 * clone3 (whose flags a filter cannot read) ENOSYS, on which libcs fall back to clone. The
 * 32-bit x86 ABI is the same syscalls under other numbers; x32 gets ENOSYS outright. No
 * no_new_privs: the guest holds CAP_SYS_ADMIN in its namespace, and setuid programs keep working.
 */
#define RETURN(value) BPF_STMT(BPF_RET | BPF_K, (value))

static void forbid_cgroup_namespaces(void) {
#if defined(__x86_64__)
  enum { ARG0 = offsetof(struct seccomp_data, args[0]), NR = offsetof(struct seccomp_data, nr), ARCH = offsetof(struct seccomp_data, arch) };
  /* Jumps count the instructions they skip: ALLOW is 20, FLAGS (the check of unshare's and clone's first argument) 17. */
  struct sock_filter filter[] = {
    /*  0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARCH),
    /*  1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 9, 0),
    /*  2 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 17),
    /*  3 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
    /*  4 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1), /* x32 */
    /*  5 */ RETURN(SECCOMP_RET_ERRNO | ENOSYS),
    /*  6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
    /*  7 */ RETURN(SECCOMP_RET_ERRNO | ENOSYS),
    /*  8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_unshare, 8, 0),
    /*  9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 7, 0),
    /* 10 */ RETURN(SECCOMP_RET_ALLOW),
    /* 11: i386, whose clone is 120, unshare 310, clone3 435 */
    /* 11 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
    /* 12 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 435, 0, 1),
    /* 13 */ RETURN(SECCOMP_RET_ERRNO | ENOSYS),
    /* 14 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 310, 2, 0),
    /* 15 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 120, 1, 0),
    /* 16 */ RETURN(SECCOMP_RET_ALLOW),
    /* 17 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0),
    /* 18 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWCGROUP, 0, 1),
    /* 19 */ RETURN(SECCOMP_RET_ERRNO | EPERM),
    /* 20 */ RETURN(SECCOMP_RET_ALLOW),
  };
  struct sock_fprog program = {sizeof filter / sizeof *filter, filter};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) < 0) die("seccomp (no cgroup namespaces for the guest)");
#endif
  /* Elsewhere (the triage VMs, whose cgroups are the throwaway VM's own) none yet. */
}

static void enter_guest_namespaces(const struct spec *s, const struct peer_pipes *p) {
  char byte = 0;
  if (unshare(CLONE_NEWUSER) < 0) die("unshare the guest's user namespace (is /proc/sys/user/max_user_namespaces 0?)");
  if (write(p->to_peer[1], &byte, 1) != 1 || read(p->to_guest[0], &byte, 1) != 1 || byte != 1) die("wait for the guest's id maps");
  if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC) < 0) die("unshare the guest's namespaces");
  if (sethostname(s->hostname, strlen(s->hostname)) < 0) die("sethostname");
  loopback_up();
  forbid_cgroup_namespaces();
}

static void map_guest_ids(pid_t guest, const struct peer_pipes *p) {
  char byte = 0;
  if (read(p->to_peer[0], &byte, 1) != 1) die("wait for the guest's user namespace");
  if (write_id_map(guest, "uid_map", "0 0 4294967295") < 0 || write_id_map(guest, "gid_map", "0 0 4294967295") < 0) die("write the guest's id maps");
  byte = 1;
  if (write(p->to_guest[1], &byte, 1) != 1) die("start the guest");
}

static void open_peer_pipes(struct peer_pipes *p) {
  if (pipe2(p->to_peer, O_CLOEXEC) < 0 || pipe2(p->to_guest, O_CLOEXEC) < 0) die("pipe");
}

/* After the fork each side keeps only its ends, so either one's death is the other's EOF. */
static void keep_ends(struct peer_pipes *p, int guest_side) {
  close(guest_side ? p->to_peer[0] : p->to_peer[1]);
  close(guest_side ? p->to_guest[1] : p->to_guest[0]);
}

static void close_ends(struct peer_pipes *p, int guest_side) {
  close(guest_side ? p->to_peer[1] : p->to_peer[0]);
  close(guest_side ? p->to_guest[0] : p->to_guest[1]);
}

/* fork(), after which the side that becomes the guest (the child, or with !child_is_guest the
 * parent) has entered its namespaces and the other side has written its id maps. */
static pid_t fork_entering_guest(const struct spec *s, int child_is_guest) {
  struct peer_pipes pipes;
  open_peer_pipes(&pipes);
  pid_t parent = getpid(), pid = fork();
  if (pid < 0) die("fork");
  int guest_side = (pid == 0) == child_is_guest;
  keep_ends(&pipes, guest_side);
  if (guest_side) enter_guest_namespaces(s, &pipes);
  else map_guest_ids(pid == 0 ? parent : pid, &pipes);
  close_ends(&pipes, guest_side);
  return pid;
}

/* pid 1 of the namespace: start the guest, reap everything, leave when the guest does. */
static int run_init(const struct spec *s, char **argv, const char *cwd) {
  pid_t guest = s->userns ? fork() : fork_entering_guest(s, 1);
  if (guest < 0) die("fork guest");
  if (guest == 0) exec_guest(s, argv, cwd);
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) die("waitpid");
    if (pid == guest) return status;
  }
}

/* This process's command line, which init (a clone of it) overwrites with "init". */
static char *cmdline_start;
static size_t cmdline_size;

/* Guest's ps shows pid 1 as plain "init", not this helper's host paths: copies what the
 * guest needs out of the memory it wipes. */
static char **rename_to_init(char **guest_argv, const char **cwd) {
  int n = 0;
  while (guest_argv[n]) n++;
  char **copy = calloc(n + 1, sizeof *copy);
  if (!copy) die("calloc");
  for (int i = 0; i < n; i++)
    if (!(copy[i] = strdup(guest_argv[i]))) die("strdup");
  if (*cwd && !(*cwd = strdup(*cwd))) die("strdup");
  memset(cmdline_start, 0, cmdline_size);
  strcpy(cmdline_start, "init");
  prctl(PR_SET_NAME, "init");
  return copy;
}

/* Puts the fds init needs at 0..4 (stdin, stdout, stderr, status, sync) and closes the rest:
 * nothing of P's (its request and answer pipes) may reach the namespace. */
static void take_fds(const int src[5]) {
  int high[5];
  for (int i = 0; i < 5; i++)
    if ((high[i] = fcntl(src[i], F_DUPFD, 10)) < 0) _exit(125);
  for (int i = 0; i < 5; i++)
    if (dup2(high[i], i) < 0) _exit(125);
#ifdef SYS_close_range
  if (syscall(SYS_close_range, 5, ~0U, 0) == 0) return;
#endif
  for (int fd = 5; fd < 4096; fd++) close(fd);
}

struct child {
  const struct spec *spec;
  int fds[5];
};

/* init: cloned into fresh pid and mount namespaces (rootless: user, uts, ipc and net too). */
static int child_main(void *arg) {
  const struct child *c = arg;
  const struct spec *s = c->spec;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  take_fds(c->fds);
  /* Go: P wrote the id maps (rootless). EOF: P died before PDEATHSIG was armed. */
  char byte;
  if (read(SYNC_FD, &byte, 1) != 1) _exit(125);
  close(SYNC_FD);
  reset_signals();
  if (fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC) < 0) die("status fd");
  char root[4096];
  guest_umask = umask(0);
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) die("make / private");
  make_root((char **)s->lowers, s->nlowers, s->mnt, s->userns, s->force_copy, s->tmpfs_size, root, sizeof root);
  for (int i = 0; i < s->nhost_files; i++) copy_in(root, s->host_files[2 * i], s->host_files[2 * i + 1]);
  populate(root);
  if (s->userns) {
    if (sethostname(s->hostname, strlen(s->hostname)) < 0) die("sethostname");
    loopback_up();
  }
  enter_root(root);
  /* --pid1: the guest itself is pid 1, as a container engine starts an image's command; a
   * child of it, still privileged, writes its id maps. */
  if (s->guest_pid1) {
    if (!s->userns) {
      pid_t mapper = fork_entering_guest(s, 0);
      if (mapper == 0) _exit(0);
      int status;
      while (waitpid(mapper, &status, 0) < 0 && errno == EINTR) {}
    }
    exec_guest(s, s->argv, s->cwd);
  }
  const char *cwd = s->cwd;
  char **argv = rename_to_init(s->argv, &cwd);
  int status = run_init(s, argv, cwd);
  report_full_tmpfs();
  if (WIFSIGNALED(status)) {
    report("signal %d", WTERMSIG(status));
    _exit(128 + WTERMSIG(status));
  }
  report("exit %d", WEXITSTATUS(status));
  _exit(WEXITSTATUS(status));
}

/* Parses CASE-OPTIONS -- PROGRAM [ARG]...; on failure returns -1 with the reason in err. */
static int parse_spec(int argc, char **argv, struct spec *s, char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  s->hostname = "harness";
  int i = 0;
  for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
    const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--userns")) s->userns = 1;
    else if (!strcmp(a, "--linux32")) s->linux32 = 1;
    else if (!strcmp(a, "--copy")) s->force_copy = 1;
    else if (!strcmp(a, "--pid1")) s->guest_pid1 = 1;
    else if (!strcmp(a, "--stdin")) s->has_stdin = 1;
    else if (!strcmp(a, "--stderr-to-stdout")) s->stderr_to_stdout = 1;
    else if (!strcmp(a, "--hostname") && next) s->hostname = argv[++i];
    else if (!strcmp(a, "--cwd") && next) s->cwd = argv[++i];
    else if (!strcmp(a, "--mnt") && next) s->mnt = argv[++i];
    else if (!strcmp(a, "--lower") && next && s->nlowers < MAX_LOWERS) s->lowers[s->nlowers++] = argv[++i];
    else if (!strcmp(a, "--cgroup") && next && s->ncgroups < MAX_CGROUPS) s->cgroups[s->ncgroups++] = argv[++i];
    else if (!strcmp(a, "--env") && next && s->nenv < MAX_ENV) s->env[s->nenv++] = argv[++i];
    else if (!strcmp(a, "--host-file") && i + 2 < argc && s->nhost_files < MAX_HOST_FILES) {
      s->host_files[2 * s->nhost_files] = argv[++i];
      s->host_files[2 * s->nhost_files++ + 1] = argv[++i];
    }
    else if (!strcmp(a, "--report-file") && next && s->nreport_files < MAX_REPORT_FILES) s->report_files[s->nreport_files++] = argv[++i];
    else if (!strcmp(a, "--tmpfs-size") && next && strspn(next, "0123456789") == strlen(next)) s->tmpfs_size = argv[++i];
    else if (!strcmp(a, "--rlimit-as") && next) s->rlimit_as = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(a, "--output-cap") && next) s->output_cap = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(a, "--timeout-ms") && next && strspn(next, "0123456789") == strlen(next)) s->timeout_ms = strtoull(argv[++i], NULL, 10);
    else {
      snprintf(err, errlen, "bad argument '%s'", a);
      return -1;
    }
  }
  if (!s->mnt || i + 1 >= argc) {
    snprintf(err, errlen, "usage: sandbox-run [--serve PARENT-PID | CASE-OPTIONS --mnt DIR -- PROGRAM [ARG]...] (see sandbox-run.c)");
    return -1;
  }
  s->argv = argv + i + 1;
  return 0;
}

/* --serve: the running case's id; NULL when running one case from argv. */
static const char *serving_id;
static int signal_fd = -1;
static int stop_requested;

static void write_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    /* The harness is gone: nobody to run cases for. */
    if (n <= 0) _exit(0);
    data += n;
    len -= n;
  }
}

/* Answer frames wait here until the case's end, until the buffer is full, or, when they answer
 * a waiting case (cancelled), until the helper would block: the harness acts on a running
 * case's answer only at its done frame, so a short case's output, status and done reach it in
 * one write, one wake-up and one read. */
static char answer_buf[1 << 16];
static size_t answer_len;
static int answer_urgent;

static void flush_frames(void) {
  write_all(ANSWER_FD, answer_buf, answer_len);
  answer_len = 0;
  answer_urgent = 0;
}

static void frame_for(const char *id, const char *kind, const char *data, size_t len) {
  char head[128];
  int n = snprintf(head, sizeof head, "%s %s %zu\n", id, kind, len);
  if (answer_len + n + len > sizeof answer_buf) flush_frames();
  memcpy(answer_buf + answer_len, head, n);
  answer_len += n;
  if (len > sizeof answer_buf - answer_len) {
    flush_frames();
    write_all(ANSWER_FD, data, len);
    return;
  }
  memcpy(answer_buf + answer_len, data, len);
  answer_len += len;
}

static void frame(const char *kind, const char *data, size_t len) {
  frame_for(serving_id, kind, data, len);
}

/* P's own status lines: framed when serving, on fd 3 otherwise. */
static void status_line(const char *fmt, ...) {
  char line[STATUS_LINE_MAX];
  va_list ap;
  va_start(ap, fmt);
  int n = format_line(line, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (serving_id) frame("status", line, n);
  else if (write(STATUS_FD, line, n) < 0) { /* nobody listening */ }
}

/* Requests read while a case runs: kills are acted on at once, anything else waits. */
static char *requests;
static size_t requests_len, requests_size;
static int requests_eof;

static int read_requests(void) {
  if (requests_len == requests_size) {
    requests_size = requests_size ? requests_size * 2 : 65536;
    if (!(requests = realloc(requests, requests_size))) _exit(125);
  }
  ssize_t n = read(REQUEST_FD, requests + requests_len, requests_size - requests_len);
  if (n < 0 && errno == EINTR) return 0;
  if (n <= 0) {
    requests_eof = 1;
    return -1;
  }
  requests_len += n;
  return 0;
}

struct request {
  char id[40], verb[8];
  size_t args_len, stdin_len, head_len;
};

/* The request at `at` in the buffer, when it is all there (1), not yet complete (0) or garbled (-1). */
static int request_at(size_t at, struct request *r) {
  if (at >= requests_len) return 0;
  char *start = requests + at, *nl = memchr(start, '\n', requests_len - at);
  if (!nl) return requests_len - at > 256 ? -1 : 0;
  *nl = 0;
  int ok = sscanf(start, "%39s %7s %zu %zu", r->id, r->verb, &r->args_len, &r->stdin_len) == 4;
  *nl = '\n';
  if (!ok) return -1;
  r->head_len = nl + 1 - start;
  return requests_len - at >= r->head_len + r->args_len + r->stdin_len;
}

static int next_request(struct request *r) {
  return request_at(0, r);
}

/* The requests before this offset are whole, and none is a kill: kill_requested looks only
 * past it, so a helper with many cases waiting in its buffer does not parse them all again at
 * every wake-up of each case. */
static size_t kills_checked;

static void drop_request_at(size_t at, const struct request *r) {
  size_t used = r->head_len + r->args_len + r->stdin_len;
  memmove(requests + at, requests + at + used, requests_len - at - used);
  requests_len -= used;
  if (at < kills_checked) kills_checked -= used;
}

static void drop_request(const struct request *r) {
  drop_request_at(0, r);
}

/* A kill for a case still waiting in the buffer (the harness hands a slot its next case while
 * one runs): its run request goes, and it is answered at once, never started. */
static void cancel_waiting(const char *id) {
  struct request r;
  for (size_t at = 0; request_at(at, &r) == 1; at += r.head_len + r.args_len + r.stdin_len) {
    if (strcmp(r.verb, "run") || strcmp(r.id, id)) continue;
    drop_request_at(at, &r);
    static const char cancelled[] = "error cancelled before it started\n";
    frame_for(id, "status", cancelled, sizeof cancelled - 1);
    frame_for(id, "done", "0 0 0", 5);
    answer_urgent = 1;
    return;
  }
}

/* While a case runs: handles every complete kill request in the buffer, wherever it lies
 * (behind the next case's run request, say); true when one is for the running case. (The end
 * of the requests lets it finish: a harness that died took this process with it by PDEATHSIG.) */
static int kill_requested(void) {
  int running = 0;
  struct request r;
  for (size_t at = kills_checked; request_at(at, &r) == 1;) {
    if (strcmp(r.verb, "kill")) {
      kills_checked = at += r.head_len + r.args_len + r.stdin_len;
      continue;
    }
    drop_request_at(at, &r);
    if (!strcmp(r.id, serving_id)) running = 1;
    else {
      cancel_waiting(r.id);
      at = kills_checked; /* the dropped run request may have lain before this one */
    }
  }
  return running;
}

/* --report-file: each file's text after the case, in a "file" frame (cgroup counters, read
 * between the case's end and the next one's start, which the harness cannot do while the
 * slot's next case is already waiting here). Opened once, read again from offset 0. */
static struct { char path[4096]; int fd; } kept_files[2 * MAX_REPORT_FILES];
static int nkept_files;

static void report_file(const char *path) {
  int fd = -1, kept = 0;
  for (int i = 0; i < nkept_files && !kept; i++)
    if (!strcmp(kept_files[i].path, path)) fd = kept_files[i].fd, kept = 1;
  if (!kept && (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0 && nkept_files < (int)(sizeof kept_files / sizeof *kept_files) && strlen(path) < sizeof kept_files[0].path) {
    strcpy(kept_files[nkept_files].path, path);
    kept_files[nkept_files++].fd = fd;
    kept = 1;
  }
  char text[4096];
  ssize_t n = fd < 0 ? -1 : pread(fd, text, sizeof text, 0);
  if (fd >= 0 && !kept) close(fd);
  /* Unreadable (the cgroup is gone): an empty text, which counts no event. */
  frame("file", text, n < 0 ? 0 : (size_t)n);
}

struct relay {
  int fd;
  const char *kind;
  unsigned long long total, cap;
};

static void relay_read(struct relay *r) {
  char buf[65536];
  ssize_t n = read(r->fd, buf, sizeof buf);
  if (n < 0 && errno == EINTR) return;
  if (n <= 0) {
    close(r->fd);
    r->fd = -1;
    return;
  }
  unsigned long long keep = r->total >= r->cap ? 0 : r->cap - r->total;
  if (keep > (unsigned long long)n) keep = n;
  r->total += n;
  if (keep) frame(r->kind, buf, keep);
}

static char child_stack[1 << 20] __attribute__((aligned(16)));

static int write_id_map(pid_t pid, const char *file, const char *text) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  int ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);
  if (fd >= 0) close(fd);
  return ok ? 0 : -1;
}

/* Rootless: init is root of its new user namespace, which maps only our own ids. */
static int map_ids(pid_t pid) {
  char map[64];
  if (write_id_map(pid, "setgroups", "deny") < 0) return -1;
  snprintf(map, sizeof map, "0 %u 1", (unsigned)geteuid());
  if (write_id_map(pid, "uid_map", map) < 0) return -1;
  snprintf(map, sizeof map, "0 %u 1", (unsigned)getegid());
  return write_id_map(pid, "gid_map", map);
}

static void close_pair(int pair[2]) {
  for (int i = 0; i < 2; i++)
    if (pair[i] >= 0) close(pair[i]), pair[i] = -1;
}

/*
 * Runs one case: clones init, feeds its stdin, relays its output (serving), waits for it.
 * Returns the exit code to end with like the guest (one case from argv) and, when serving,
 * sends the status and done frames.
 */
static int run_case(const struct spec *s, const char *stdin_data, size_t stdin_len, int devnull) {
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int serving = serving_id != NULL;
  int out[2] = {-1, -1}, err[2] = {-1, -1}, status[2] = {-1, -1}, in[2] = {-1, -1}, sync[2] = {-1, -1};
  struct relay relays[3] = {{-1, "out", 0, s->output_cap}, {-1, "err", 0, s->output_cap}, {-1, "status", 0, ~0ULL}};
  const char *failure = NULL;
  int saved_errno = 0, wait_status = 0;
  pid_t pid = -1;
  if (pipe2(sync, O_CLOEXEC) < 0 || (serving && (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || pipe2(status, O_CLOEXEC) < 0)) ||
      (serving && s->has_stdin && pipe2(in, O_CLOEXEC) < 0)) {
    failure = "pipe";
    goto done;
  }
  static char join_failure[4200];
  if (join_cgroups(s, join_failure, sizeof join_failure) < 0) {
    failure = join_failure;
    goto done;
  }
  int guest_out = serving ? out[1] : 1;
  int guest_err = s->stderr_to_stdout ? guest_out : serving ? err[1] : 2;
  struct child c = {s, {serving ? (s->has_stdin ? in[0] : devnull) : 0, guest_out, guest_err, serving ? status[1] : STATUS_FD, sync[0]}};
  /* As root, the guest makes its network, hostname and IPC namespaces (enter_guest_namespaces).
   * A cgroup namespace, made here with init, inside the case's cgroups: the guest sees its
   * cgroups as / (/proc/self/cgroup), not the host's paths. As root it is this namespace's, not
   * the guest's: the guest may not mount cgroupfs through it. */
  int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWCGROUP | (s->userns ? CLONE_NEWUSER | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET : 0);
  pid = clone(child_main, child_stack + sizeof child_stack, flags | SIGCHLD, &c);
  if (pid < 0) {
    failure = s->userns ? "clone into new namespaces (unprivileged user namespaces disabled? check /proc/sys/user/max_user_namespaces"
                          " and /proc/sys/kernel/unprivileged_userns_clone, or run as root)" : "clone into new namespaces";
    goto done;
  }
  close(sync[0]), sync[0] = -1;
  if (serving) {
    close(out[1]), out[1] = -1;
    close(err[1]), err[1] = -1;
    close(status[1]), status[1] = -1;
    if (in[0] >= 0) close(in[0]), in[0] = -1;
    relays[0].fd = out[0], relays[1].fd = err[0], relays[2].fd = status[0];
    out[0] = err[0] = status[0] = -1;
    if (in[1] >= 0) fcntl(in[1], F_SETFL, O_NONBLOCK);
  }
  if (s->userns && map_ids(pid) < 0) {
    saved_errno = errno;
    kill(pid, SIGKILL);
    failure = "write the user namespace's id maps";
  } else if (write(sync[1], "", 1) != 1) {
    saved_errno = errno;
    kill(pid, SIGKILL);
    failure = "start init";
  }
  close(sync[1]), sync[1] = -1;

  size_t stdin_sent = 0;
  if (in[1] >= 0 && stdin_len == 0) close(in[1]), in[1] = -1;
  int reaped = 0, killed = 0, timed_out = 0;
  for (;;) {
    int open_relays = 0;
    for (int i = 0; i < 3; i++) open_relays += relays[i].fd >= 0;
    if (reaped && !open_relays) break;
    struct pollfd fds[6];
    int n = 0;
    fds[n++] = (struct pollfd){signal_fd, POLLIN, 0};
    for (int i = 0; i < 3; i++) fds[n++] = (struct pollfd){relays[i].fd, POLLIN, 0};
    fds[n++] = (struct pollfd){in[1], POLLOUT, 0};
    fds[n++] = (struct pollfd){serving && !requests_eof ? REQUEST_FD : -1, POLLIN, 0};
    int wait_ms = -1;
    if (s->timeout_ms && !killed) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      long long left = (long long)s->timeout_ms - ((now.tv_sec - t0.tv_sec) * 1000LL + (now.tv_nsec - t0.tv_nsec) / 1000000);
      wait_ms = left <= 0 ? 0 : left > (1 << 30) ? (1 << 30) : (int)left;
    }
    if (answer_urgent) flush_frames();
    int ready = poll(fds, n, wait_ms);
    if (ready == 0 && !reaped && !killed) {
      timed_out = killed = 1;
      kill(pid, SIGKILL);
      continue;
    }
    if (ready < 0) {
      if (errno == EINTR) continue;
      failure = "poll";
      saved_errno = errno;
      kill(pid, SIGKILL);
      waitpid(pid, &wait_status, 0);
      goto done;
    }
    if (fds[0].revents) {
      struct signalfd_siginfo info;
      while (read(signal_fd, &info, sizeof info) == sizeof info) {
        if (info.ssi_signo == SIGCHLD) continue;
        stop_requested = 1;
        if (!reaped) kill(pid, SIGKILL);
      }
      if (!reaped && waitpid(pid, &wait_status, WNOHANG) == pid) {
        /* init's end means every process of its namespace is gone: the kernel waits for them. */
        reaped = 1;
        if (in[1] >= 0) close(in[1]), in[1] = -1;
      }
    }
    for (int i = 0; i < 3; i++)
      if (fds[1 + i].revents) relay_read(&relays[i]);
    if (fds[4].revents) {
      ssize_t w = fds[4].revents & POLLOUT ? write(in[1], stdin_data + stdin_sent, stdin_len - stdin_sent) : -1;
      if (w > 0) stdin_sent += w;
      /* Sent, or the guest closed its stdin unread: either way it is done. */
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || stdin_sent == stdin_len) close(in[1]), in[1] = -1;
    }
    if (fds[5].revents) read_requests();
    if (serving && !killed && !reaped && kill_requested()) {
      killed = 1;
      kill(pid, SIGKILL);
    }
  }
  if (timed_out) status_line("timed out");
  if (WIFSIGNALED(wait_status)) status_line("signal %d", WTERMSIG(wait_status));
  else if (s->guest_pid1 && !failure) status_line("exit %d", WEXITSTATUS(wait_status));

done:
  if (failure && !saved_errno) saved_errno = errno;
  if (failure) status_line("error %s: %s", failure, strerror(saved_errno));
  close_pair(out), close_pair(err), close_pair(status), close_pair(in), close_pair(sync);
  for (int i = 0; i < 3; i++)
    if (relays[i].fd >= 0) close(relays[i].fd);
  if (serving) {
    for (int i = 0; i < s->nreport_files; i++) report_file(s->report_files[i]);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    char line[128];
    long long us = (t1.tv_sec - t0.tv_sec) * 1000000LL + (t1.tv_nsec - t0.tv_nsec) / 1000;
    int n = snprintf(line, sizeof line, "%llu %llu %lld", relays[0].total, relays[1].total, us);
    frame("done", line, n);
    flush_frames();
  }
  if (failure && pid < 0) return 125;
  return WIFSIGNALED(wait_status) ? 128 + WTERMSIG(wait_status) : WEXITSTATUS(wait_status);
}

/* --serve: one request at a time, until the harness closes fd 0 or a stop signal comes. */
static int serve(pid_t parent) {
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) return 125;
  /* Ends with the harness, whichever way it goes; re-parented already: it died before this
   * was armed, and its requests (still in the pipe) must not start a case nobody waits for. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) return 0;
  while (!stop_requested) {
    struct request r;
    int got;
    while ((got = next_request(&r)) == 0 && !requests_eof) read_requests();
    if (got <= 0) return got < 0 ? 125 : 0;
    if (strcmp(r.verb, "run") != 0) {
      drop_request(&r);
      continue;
    }
    /* The case's own copy: the request buffer moves while it runs. */
    size_t len = r.args_len + r.stdin_len;
    char *payload = malloc(len + 1);
    if (!payload) return 125;
    memcpy(payload, requests + r.head_len, len);
    payload[len] = 0;
    drop_request(&r);
    char id[sizeof r.id];
    strcpy(id, r.id);
    serving_id = id;
    int argc = 0;
    for (size_t i = 0; i < r.args_len; i++) argc += payload[i] == 0;
    char **argv = calloc(argc + 1, sizeof *argv);
    if (!argv) return 125;
    for (size_t i = 0, k = 0; k < (size_t)argc; k++) {
      argv[k] = payload + i;
      i += strlen(payload + i) + 1;
    }
    struct spec s;
    char why[256];
    if (parse_spec(argc, argv, &s, why, sizeof why) < 0) {
      status_line("error %s", why);
      frame("done", "0 0 0", 5);
      flush_frames();
    } else {
      run_case(&s, payload + r.args_len, r.stdin_len, devnull);
    }
    free(argv);
    free(payload);
  }
  return 0;
}

/* --remove-cgroups: the harness starts this, in a session of its own, as it makes its
 * harness-<pid> cgroups, and keeps the write end of fd 0 for its whole life. A harness ended
 * by SIGKILL, or by a SIGTERM it does not handle (a test runner stopping its worker), runs no
 * exit handler, and the next run sweeps only its own cgroup, which may be another (a CI job,
 * a systemd unit each): so at end of file on fd 0 this removes each DIR's case-<n> children
 * and DIR itself, once the kernel has emptied them (what is left in them is killed), and gives
 * up after a few seconds. Anything else below DIR is not ours: DIR then stays. */
#define REMOVE_CGROUPS_MS 10000

static int rmdir_when_empty(const char *dir, const struct timespec *deadline) {
  for (;;) {
    if (rmdir(dir) == 0 || errno == ENOENT) return 0;
    if (errno != EBUSY) return -1;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > deadline->tv_sec || (now.tv_sec == deadline->tv_sec && now.tv_nsec > deadline->tv_nsec)) return -1;
    char procs[4096];
    snprintf(procs, sizeof procs, "%s/cgroup.procs", dir);
    FILE *f = fopen(procs, "re");
    long pid;
    while (f && fscanf(f, "%ld", &pid) == 1) kill((pid_t)pid, SIGKILL);
    if (f) fclose(f);
    nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
  }
}

static int remove_cgroups(int ndirs, char **dirs) {
  char buf[256];
  /* SIGTERM, SIGINT and SIGHUP stay blocked (main): only the harness's end stops the wait. */
  for (;;) {
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EINTR)) break;
  }
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += REMOVE_CGROUPS_MS / 1000;
  for (int i = 0; i < ndirs; i++) {
    DIR *d = opendir(dirs[i]);
    if (!d) continue;
    int foreign = 0;
    for (struct dirent *e; (e = readdir(d));) {
      if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      size_t digits = strspn(e->d_name + 5, "0123456789");
      if (strncmp(e->d_name, "case-", 5) || digits == 0 || e->d_name[5 + digits]) {
        foreign = 1;
        continue;
      }
      char child[4096];
      snprintf(child, sizeof child, "%s/%s", dirs[i], e->d_name);
      rmdir_when_empty(child, &deadline);
    }
    closedir(d);
    if (!foreign) rmdir_when_empty(dirs[i], &deadline);
  }
  return 0;
}

int main(int argc, char **argv) {
  cmdline_start = argv[0];
  cmdline_size = argv[argc - 1] + strlen(argv[argc - 1]) - argv[0];
  /* Stop requests and init's end arrive on a signalfd, between the other events. */
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  signal(SIGPIPE, SIG_IGN);
  signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (argc >= 2 && !strcmp(argv[1], "--remove-cgroups")) return remove_cgroups(argc - 2, argv + 2);
  if (argc == 3 && !strcmp(argv[1], "--serve")) return signal_fd < 0 ? 125 : serve((pid_t)atoi(argv[2]));
  if (fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC) < 0) die("status fd 3 is not open");
  if (signal_fd < 0) die("signalfd");
  struct spec s;
  char why[256];
  if (parse_spec(argc - 1, argv + 1, &s, why, sizeof why) < 0) {
    errno = EINVAL;
    die("%s", why);
  }
  return run_case(&s, NULL, 0, -1);
}
