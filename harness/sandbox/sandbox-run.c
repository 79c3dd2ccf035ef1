/*
 * sandbox-run: runs one test case inside an image in one exec, with no shell and no
 * mount/ip/chroot binaries in between (each of those is a ~1-2 ms exec; see index.ts for
 * the numbers). Built once per source hash by helper.ts with the host's cc.
 *
 *   sandbox-run [--userns] [--linux32] [--copy] [--pid1] [--cwd DIR] [--hostname NAME] --mnt DIR
 *               [--lower DIR]... [--cgroup DIR]... [--tmpfs-size BYTES] [--rlimit-as BYTES]
 *               -- PROGRAM [ARG]...
 *
 * Limits (the harness decides them; limits.ts, cgroup.ts): --cgroup: a cgroup directory the
 * harness made for this case; init joins it before anything runs, so every guest process is
 * charged to it. --tmpfs-size: the per-run tmpfs (every write of the case, /tmp included) is
 * that big; when the guest leaves it full, a "full tmpfs" line precedes the exit status.
 * --rlimit-as: RLIMIT_AS of the guest (the emulator itself), where no cgroup is available.
 * --cwd: the guest's working directory.
 *
 * --lower: read-only layers, topmost first (none: an empty root). --mnt: an empty host
 * directory; each run mounts its own tmpfs on it, inside its own mount namespace, so runs
 * share it without seeing each other. The guest gets this process's environment as is.
 *
 * Process tree:  this (P, host pid ns) -> init (pid 1 of a new pid/mount/uts/ipc/net ns)
 * -> the guest program (pid 2). init exits as soon as the guest does, and the kernel then
 * kills whatever the guest left behind. P reports on fd 3 one line: "exit N", "signal N"
 * or "error MESSAGE" (a setup failure: the guest never ran), then exits like the guest.
 * SIGTERM/SIGINT/SIGHUP on P: SIGKILL the whole namespace, reap it, exit. If P itself is
 * SIGKILLed, init gets SIGKILL by PR_SET_PDEATHSIG, which ends the namespace all the same.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#define STATUS_FD 3
#define MAX_LOWERS 8
#define MAX_CGROUPS 4

static pid_t init_pid = -1;

/* The one channel to the harness: a setup failure, never mixed with guest output. */
static void report(const char *fmt, ...) {
  char line[4096];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n > (int)sizeof line - 2) n = sizeof line - 2;
  line[n++] = '\n';
  if (write(STATUS_FD, line, n) < 0) { /* nobody listening: nothing more to do */ }
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

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, text, strlen(text)) < 0) die("write %s", path);
  close(fd);
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

static void mkdir_or_die(const char *path, mode_t mode) {
  if (mkdir(path, mode) < 0 && errno != EEXIST) die("mkdir %s", path);
  /* mkdir honours the umask; the guest expects the modes of a real root (/tmp 1777). */
  if (chmod(path, mode) < 0) die("chmod %s", path);
}

/* Rootless: become root of a new user namespace that maps only the caller's ids. */
static void enter_user_namespace(void) {
  uid_t uid = geteuid();
  gid_t gid = getegid();
  char map[64];
  if (unshare(CLONE_NEWUSER) < 0)
    die("unshare(CLONE_NEWUSER) (unprivileged user namespaces disabled? check /proc/sys/user/max_user_namespaces"
        " and /proc/sys/kernel/unprivileged_userns_clone, or run as root)");
  write_file("/proc/self/setgroups", "deny");
  snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
  write_file("/proc/self/uid_map", map);
  snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
  write_file("/proc/self/gid_map", map);
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

/* Guest's ps shows pid 1 as plain "init", not this helper's host paths. */
static char **rename_to_init(int argc, char **argv, char **guest_argv) {
  int n = argc - (int)(guest_argv - argv);
  char **copy = calloc(n + 1, sizeof *copy);
  if (!copy) die("calloc");
  for (int i = 0; i < n; i++)
    if (!(copy[i] = strdup(guest_argv[i]))) die("strdup");
  char *end = argv[argc - 1] + strlen(argv[argc - 1]);
  memset(argv[0], 0, end - argv[0]);
  strcpy(argv[0], "init");
  prctl(PR_SET_NAME, "init");
  return copy;
}

/* Called by init before any mount: the guest and all it starts are charged to these cgroups. */
static void join_cgroups(char **cgroups, int ncgroups) {
  for (int i = 0; i < ncgroups; i++) {
    char procs[4096];
    path_join(procs, sizeof procs, cgroups[i], "/cgroup.procs");
    write_file(procs, "0");
  }
}

static unsigned long long rlimit_as = 0;

/* After the guest: a write-full tmpfs explains the guest's ENOSPC failures (overlay statfs is its upper's). */
static void report_full_tmpfs(void) {
  struct statfs fs;
  if (statfs("/", &fs) == 0 && fs.f_blocks > 0 && fs.f_bavail == 0) report("full tmpfs");
}

static void exec_guest(char **argv, int linux32, const char *cwd) {
  reset_signals();
  if (rlimit_as) {
    struct rlimit limit = {rlimit_as, rlimit_as};
    if (setrlimit(RLIMIT_AS, &limit) < 0) die("setrlimit(RLIMIT_AS)");
  }
  setsid(); /* no controlling terminal of the host's */
  if (linux32 && personality(PER_LINUX32) < 0) die("personality(PER_LINUX32)");
  close(STATUS_FD);
  /* A missing directory is the case's fault (a guest path), not a sandbox failure. */
  if (cwd && chdir(cwd) < 0) {
    fprintf(stderr, "sandbox: cannot change to the working directory %s: %s\n", cwd, strerror(errno));
    _exit(126);
  }
  execvp(argv[0], argv);
  int err = errno;
  fprintf(stderr, "sandbox: cannot run %s: %s\n", argv[0], strerror(err));
  _exit(err == ENOENT ? 127 : 126);
}

/* pid 1 of the namespace: start the guest, reap everything, leave when the guest does. */
static void run_init(char **argv, int linux32, const char *cwd, int *guest_status) {
  pid_t guest = fork();
  if (guest < 0) die("fork guest");
  if (guest == 0) exec_guest(argv, linux32, cwd);
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) die("waitpid");
    if (pid == guest) {
      *guest_status = status;
      return;
    }
  }
}

static void on_stop_request(int sig) {
  (void)sig;
  if (init_pid > 0) kill(init_pid, SIGKILL);
}

int main(int argc, char **argv) {
  int userns = 0, linux32 = 0, force_copy = 0, guest_pid1 = 0, nlowers = 0, ncgroups = 0;
  const char *hostname = "harness", *mnt = NULL, *tmpfs_size = NULL, *cwd = NULL;
  char *lowers[MAX_LOWERS], *cgroups[MAX_CGROUPS];
  int i = 1;
  for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
    if (!strcmp(argv[i], "--userns")) userns = 1;
    else if (!strcmp(argv[i], "--linux32")) linux32 = 1;
    else if (!strcmp(argv[i], "--copy")) force_copy = 1;
    else if (!strcmp(argv[i], "--pid1")) guest_pid1 = 1;
    else if (!strcmp(argv[i], "--hostname") && i + 1 < argc) hostname = argv[++i];
    /* A copy: rename_to_init wipes argv's memory before the guest starts. */
    else if (!strcmp(argv[i], "--cwd") && i + 1 < argc && (cwd = strdup(argv[++i]))) continue;
    else if (!strcmp(argv[i], "--mnt") && i + 1 < argc) mnt = argv[++i];
    else if (!strcmp(argv[i], "--lower") && i + 1 < argc && nlowers < MAX_LOWERS) lowers[nlowers++] = argv[++i];
    else if (!strcmp(argv[i], "--cgroup") && i + 1 < argc && ncgroups < MAX_CGROUPS) cgroups[ncgroups++] = argv[++i];
    else if (!strcmp(argv[i], "--tmpfs-size") && i + 1 < argc && strspn(argv[i + 1], "0123456789") == strlen(argv[i + 1])) tmpfs_size = argv[++i];
    else if (!strcmp(argv[i], "--rlimit-as") && i + 1 < argc) rlimit_as = strtoull(argv[++i], NULL, 10);
    else {
      errno = EINVAL;
      die("bad argument '%s'", argv[i]);
    }
  }
  if (!mnt || i + 1 >= argc) {
    errno = EINVAL;
    die("usage: sandbox-run [--userns] [--linux32] [--copy] [--pid1] [--cwd DIR] [--hostname NAME] --mnt DIR [--lower DIR]... [--cgroup DIR]... [--tmpfs-size BYTES] [--rlimit-as BYTES] -- PROGRAM [ARG]...");
  }
  char **guest_argv = argv + i + 1;
  if (fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC) < 0) die("status fd 3 is not open");

  if (userns) enter_user_namespace();
  if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET) < 0) die("unshare namespaces");

  /* Stop requests are held until init_pid is known, then handled by killing the namespace. */
  sigset_t stop, old;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGHUP);
  sigprocmask(SIG_BLOCK, &stop, &old);
  int alive[2];
  if (pipe2(alive, O_CLOEXEC) < 0) die("pipe");
  init_pid = fork();
  if (init_pid < 0) die("fork init");
  if (init_pid == 0) {
    close(alive[1]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* P died before PDEATHSIG was armed: its end of the pipe is closed, so leave. */
    char byte;
    fcntl(alive[0], F_SETFL, O_NONBLOCK);
    if (read(alive[0], &byte, 1) == 0) _exit(125);
    sigprocmask(SIG_SETMASK, &old, NULL);
    join_cgroups(cgroups, ncgroups);
    char root[4096];
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) die("make / private");
    make_root(lowers, nlowers, mnt, userns, force_copy, tmpfs_size, root, sizeof root);
    populate(root);
    if (sethostname(hostname, strlen(hostname)) < 0) die("sethostname");
    loopback_up();
    enter_root(root);
    /* --pid1: the guest itself is pid 1, as a container engine starts an image's command. */
    if (guest_pid1) exec_guest(guest_argv, linux32, cwd);
    int status = 0;
    run_init(rename_to_init(argc, argv, guest_argv), linux32, cwd, &status);
    report_full_tmpfs();
    if (WIFSIGNALED(status)) {
      report("signal %d", WTERMSIG(status));
      _exit(128 + WTERMSIG(status));
    }
    report("exit %d", WEXITSTATUS(status));
    _exit(WEXITSTATUS(status));
  }
  close(alive[0]);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_request;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  sigprocmask(SIG_SETMASK, &old, NULL);

  int status;
  while (waitpid(init_pid, &status, 0) < 0) {
    if (errno != EINTR) die("waitpid init");
  }
  /* init exiting means every process of the namespace is gone: the kernel waits for them. */
  if (WIFSIGNALED(status)) {
    report("signal %d", WTERMSIG(status));
    return 128 + WTERMSIG(status);
  }
  if (guest_pid1) report("exit %d", WEXITSTATUS(status));
  return WEXITSTATUS(status);
}
