// What the VM's /init does and how its console is read back. Pure.
//
// The console is the one channel every Debian kernel has built in (virtio-serial is a
// module on most of them), so /init frames everything it reports as lines
// `@@<nonce> <case> <field> ...`. A case's own stdout and stderr never touch the console:
// they go to files inside the VM and are sent afterwards in base64 with their sha256 and
// size. Kernel messages may land anywhere, even inside a line, so a frame is found by its
// marker wherever it starts, and a stream whose bytes do not check out is reported as
// garbled rather than trusted.
import { createHash } from 'node:crypto';

/** Quotes one word for /bin/sh. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Paths inside the initramfs. */
export const GUEST = {
  images: '/images',
  cases: '/cases',
  helper: '/harness/sandbox-run',
  overlayModule: '/harness/overlay.ko',
  mnt: '/harness/mnt',
  out: '/harness/out',
} as const;

/**
 * The script that runs case `index`: the sandbox helper (built for the guest ISA), given the
 * case's whole environment by --env. /init sources it in a subshell: one fork and one exec
 * per case, each costly under full-system emulation.
 */
export function caseScript(env: Record<string, string>, helperArgv: string[]): string {
  const assignments = Object.entries(env).flatMap(([key, value]) => ['--env', `${key}=${value}`]);
  return `exec ${[GUEST.helper, ...assignments, ...helperArgv].map(shellQuote).join(' ')}\n`;
}

/**
 * /init: mounts what the helper needs, runs each case (the helper enforces its timeout),
 * reports it, and powers off. `cases` lists the case indexes.
 */
export function initScript(nonce: string, cases: readonly number[]): string {
  const m = `@@${nonce}`;
  return `#!/bin/busybox sh
export PATH=/bin
# pivot_root (the sandbox helper's) refuses the initial rootfs: move onto a tmpfs first.
if [ ! -e /harness/stage2 ]; then
  /bin/busybox mkdir /stage2
  /bin/busybox mount -t tmpfs -o mode=0755 root /stage2
  /bin/busybox cp -a /bin /harness /images /cases /init /stage2/
  /bin/busybox mkdir -p /stage2/proc /stage2/sys /stage2/dev
  /bin/busybox touch /stage2/harness/stage2
  exec /bin/busybox switch_root /stage2 /init
fi
/bin/busybox --install -s /bin
mount -t proc proc /proc
# Only emergencies from the kernel on the console from here on.
echo 1 > /proc/sys/kernel/printk
mount -t devtmpfs dev /dev
mount -t sysfs sys /sys
# Copy-on-write roots per case, as on the host (without it the helper copies the image).
insmod ${GUEST.overlayModule}
mkdir -p ${GUEST.mnt} ${GUEST.out}
centis() { read t rest < /proc/uptime; echo "\${t%.*}\${t#*.}"; }
emit() {
  echo "${m} $1 $2 begin $(sha256sum < "$3" | cut -d' ' -f1) $(wc -c < "$3")"
  base64 "$3" | sed "s/^/${m} $1 $2 d /"
  echo "${m} $1 $2 end"
}
# Forks and execs are what cost most under full-system emulation: one of each per case.
run_case() {
  i=$1; d=${GUEST.cases}/$i; o=${GUEST.out}/$i
  mkdir -p $o
  in=/dev/null; [ -f $d/stdin ] && in=$d/stdin
  t0=$(centis)
  ( . $d/run ) < $in > $o/stdout 2> $o/stderr 3> $o/status
  t1=$(centis)
  while IFS= read -r line; do echo "${m} $i status $line"; done < $o/status
  echo "${m} $i ms $(( (t1 - t0) * 10 ))"
  emit $i stdout $o/stdout
  emit $i stderr $o/stderr
  echo "${m} $i done"
  rm -rf $o
}
echo "${m} - boot $(centis) $(uname -r)"
${cases.map((index) => `run_case ${index}`).join('\n')}
echo "${m} - end"
poweroff -f
`;
}

export interface GuestCaseReport {
  /** The helper's status lines (parseHelperStatus reads them); empty when it wrote none. */
  status: string;
  durationMs: number;
  stdout: string;
  stderr: string;
  /** Set when a stream's bytes did not match their checksum (console noise inside a frame). */
  garbled?: string;
}

export interface ConsoleReport {
  /** Uptime (ms) inside the guest when /init started, and the kernel's release. */
  boot?: { uptimeMs: number; kernel: string };
  ended: boolean;
  cases: Map<number, GuestCaseReport>;
}

interface StreamFrame {
  sha256: string;
  size: number;
  data: string[];
  ended: boolean;
}

/** Reads the frames back out of the console text, whatever else the kernel printed around them. */
export function parseConsole(text: string, nonce: string): ConsoleReport {
  const marker = `@@${nonce} `;
  const report: ConsoleReport = { ended: false, cases: new Map() };
  const partial = new Map<number, { status: string[]; durationMs: number; streams: Map<string, StreamFrame> }>();
  for (const rawLine of text.split(/\r?\n/)) {
    const at = rawLine.indexOf(marker);
    if (at < 0) continue;
    const [id = '', field = '', ...rest] = rawLine.slice(at + marker.length).replace(/\r/g, '').split(' ');
    if (id === '-') {
      if (field === 'boot') report.boot = { uptimeMs: Number(rest[0]) * 10, kernel: rest[1] ?? '' };
      if (field === 'end') report.ended = true;
      continue;
    }
    const index = Number(id);
    if (!Number.isInteger(index)) continue;
    const entry = partial.get(index) ?? { status: [] as string[], durationMs: 0, streams: new Map() };
    partial.set(index, entry);
    if (field === 'status') entry.status.push(rest.join(' ').trim());
    else if (field === 'ms') entry.durationMs = Number(rest[0]);
    else if (field === 'stdout' || field === 'stderr') {
      const [kind, ...args] = rest;
      if (kind === 'begin') entry.streams.set(field, { sha256: args[0] ?? '', size: Number(args[1]), data: [], ended: false });
      else if (kind === 'd') entry.streams.get(field)?.data.push(args.join(' '));
      else if (kind === 'end') {
        const stream = entry.streams.get(field);
        if (stream) stream.ended = true;
      }
    } else if (field === 'done') {
      const decoded = (name: 'stdout' | 'stderr'): { text: string; problem?: string } => {
        const stream = entry.streams.get(name);
        if (!stream?.ended) return { text: '', problem: `${name} frame incomplete` };
        const bytes = Buffer.from(stream.data.join(''), 'base64');
        const sha = createHash('sha256').update(bytes).digest('hex');
        if (bytes.length !== stream.size || sha !== stream.sha256) return { text: bytes.toString('utf8'), problem: `${name} failed its checksum` };
        return { text: bytes.toString('utf8') };
      };
      const out = decoded('stdout');
      const err = decoded('stderr');
      const garbled = [out.problem, err.problem].filter(Boolean).join(', ');
      report.cases.set(index, {
        status: entry.status.join('\n'),
        durationMs: entry.durationMs,
        stdout: out.text,
        stderr: err.text,
        ...(garbled && { garbled: `the console garbled the case's output (${garbled})` }),
      });
    }
  }
  return report;
}
