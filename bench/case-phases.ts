// Benchmark instrument (not a test): where a sandboxed case's wall time goes, from the
// kernel's scheduler tracepoints. `perf record -a` over a command that runs sandbox helpers
// (`sandbox-run --serve`) records every fork, exec, exit and context switch with its kernel
// call chain; from them, per case:
//   - its phases, from each helper's fork of init to its fork of the next case's init:
//     init's mounts (to init's fork of the guest-to-be), the guest's namespaces (to the
//     guest's exec of the emulator), the guest's run (to its exit), the guest's teardown
//     (its namespaces torn down, init woken: to init's exit) and init's teardown with the
//     helper's turnaround (to the next init);
//   - the time the case's processes sleep (switched out not runnable, until switched back in),
//     by the kernel functions they sleep in: the kernel waits a slot's chain pays.
// perf_event_open only observes, but perf mounts tracefs where it finds none and caches
// build-ids in ~/.debug: so perf runs in a mount namespace of its own (the host keeps its
// mounts) with -N -B (no cache). Tracing slows every event, so the phases are a shape, not
// the untraced timings.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { median } from './median.ts';

const EVENTS = ['sched:sched_process_fork', 'sched:sched_process_exec', 'sched:sched_process_exit', 'sched:sched_switch'];
/** Frames of the scheduler and of generic waits: a sleep is named by the first frames past them. */
const WAIT_FRAME = /^(__schedule|schedule\w*|io_schedule\w*|__wait_for_common|wait_for_completion\w*|__cond_resched|__mutex_lock\w*|mutex_lock\w*|rwsem_down\w*|down_\w+|__wait_rcu_gp|synchronize_rcu_expedited_wait\w*|do_nanosleep|hrtimer_nanosleep|__x64_sys\w*|do_syscall_64|entry_SYSCALL\w*|\[unknown\])$/;
/** Sleeps that wait on the case's own processes (a child's exit, a pipe, a futex, a timer), not on the kernel: lumped together. */
const OWN_WAIT = /^(do_wait|kernel_wait4|anon_pipe_read|pipe_read|pipe_write|futex_\w+|__futex_\w+|common_nsleep|do_sys_poll|do_select|ep_poll)$/;
const OWN_WAITS = "waiting on the case's own processes (wait4, pipes, futexes, timers)";
const PHASES = ["init's mounts", "guest's namespaces", "guest's run", "guest's teardown", "init's teardown + helper"] as const;

interface TraceEvent {
  tid: number;
  time: number;
  event: string;
  trace: string;
  /** Kernel symbols of the call chain, innermost first. */
  stack: string[];
}

/** Parses `perf script -F tid,time,event,trace,ip,sym` output. */
export function parsePerfScript(text: string): TraceEvent[] {
  const events: TraceEvent[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const [head, ...frames] = block.split('\n').filter((line) => line.trim() !== '');
    const match = head && /^\s*(\d+)\s+([\d.]+):\s+([\w:]+):\s*(.*)$/.exec(head);
    if (!match) continue;
    events.push({ tid: Number(match[1]), time: Number(match[2]) * 1000, event: match[3]!, trace: match[4]!, stack: frames.map((frame) => frame.trim().split(/\s+/)[1] ?? '') });
  }
  return events;
}

const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
const field = (trace: string, name: string) => new RegExp(`(?:^|\\s)${name}=(\\S+)`).exec(trace)?.[1];

export interface PhaseReport {
  cases: number;
  /** Median and mean milliseconds of each phase, and of a whole case (a mean over a median: a tail, such as a helper waiting for its next request). */
  phases: Array<{ phase: string; ms: number; meanMs: number }>;
  totalMs: number;
  totalMeanMs: number;
  /** Sleep of the cases' processes in the kernel, by where they slept: per case, count and milliseconds. */
  sleeps: Array<{ where: string; perCase: number; msPerCase: number }>;
  sleepMsPerCase: number;
  /** Sleep waiting on the case's own processes, per case. */
  ownWaitMsPerCase: number;
}

/** Phases and sleeps of the cases that helpers (processes exec'ing `helperBinary`) ran. */
export function casePhases(events: readonly TraceEvent[], helperBinary: string): PhaseReport {
  const helpers = new Set(events.filter((e) => e.event === 'sched:sched_process_exec' && field(e.trace, 'filename') === helperBinary).map((e) => e.tid));
  const children = new Map<number, Array<{ child: number; time: number }>>();
  const execAt = new Map<number, number>();
  const exitAt = new Map<number, number>();
  for (const e of events) {
    if (e.event === 'sched:sched_process_fork') {
      const parent = Number(field(e.trace, 'pid'));
      const list = children.get(parent) ?? [];
      list.push({ child: Number(field(e.trace, 'child_pid')), time: e.time });
      children.set(parent, list);
    } else if (e.event === 'sched:sched_process_exec' && !execAt.has(e.tid)) execAt.set(e.tid, e.time);
    else if (e.event === 'sched:sched_process_exit' && Number(field(e.trace, 'pid')) === e.tid) exitAt.set(e.tid, e.time);
  }
  // Every task of a case: init and what descends from it (threads too: their forks are traced).
  const caseTasks = new Set<number>();
  const addTree = (tid: number) => {
    caseTasks.add(tid);
    for (const { child } of children.get(tid) ?? []) addTree(child);
  };
  const durations: number[][] = PHASES.map(() => []);
  const totals: number[] = [];
  let cases = 0;
  for (const helper of helpers) {
    const inits = children.get(helper) ?? [];
    inits.forEach(({ child: init }) => addTree(init));
    cases += inits.length;
    for (let n = 0; n + 1 < inits.length; n++) {
      const { child: init, time: start } = inits[n]!;
      const guest = children.get(init)?.[0];
      const marks = [start, guest?.time, guest && execAt.get(guest.child), guest && exitAt.get(guest.child), exitAt.get(init), inits[n + 1]!.time];
      if (marks.some((mark) => mark === undefined)) continue;
      marks.slice(1).forEach((mark, i) => durations[i]!.push(mark! - marks[i]!));
      totals.push(marks[5]! - start);
    }
  }
  // A sleep: a case task switched out not runnable (prev_state S, D, ...), until switched in.
  const asleep = new Map<number, { since: number; where: string }>();
  const slept = new Map<string, { count: number; ms: number }>();
  for (const e of events) {
    if (e.event !== 'sched:sched_switch') continue;
    const next = Number(field(e.trace, 'next_pid'));
    const woken = asleep.get(next);
    if (woken) {
      asleep.delete(next);
      const sum = slept.get(woken.where) ?? { count: 0, ms: 0 };
      sum.count++;
      sum.ms += e.time - woken.since;
      slept.set(woken.where, sum);
    }
    const prev = Number(field(e.trace, 'prev_pid'));
    const state = field(e.trace, 'prev_state') ?? 'R';
    if (caseTasks.has(prev) && !state.startsWith('R')) {
      const frames = e.stack.filter((frame) => frame && !WAIT_FRAME.test(frame)).slice(0, 3);
      asleep.set(prev, { since: e.time, where: frames[0] && OWN_WAIT.test(frames[0]) ? OWN_WAITS : frames.join(' < ') || '(no kernel frames)' });
    }
  }
  const per = Math.max(cases, 1);
  const ownWaitMsPerCase = (slept.get(OWN_WAITS)?.ms ?? 0) / per;
  slept.delete(OWN_WAITS);
  const sleeps = [...slept].map(([where, { count, ms }]) => ({ where, perCase: count / per, msPerCase: ms / per })).sort((a, b) => b.msPerCase - a.msPerCase);
  return {
    cases,
    phases: PHASES.map((phase, i) => ({ phase, ms: median(durations[i]!), meanMs: mean(durations[i]!) })),
    totalMs: median(totals),
    totalMeanMs: mean(totals),
    sleeps,
    sleepMsPerCase: sleeps.reduce((sum, s) => sum + s.msPerCase, 0),
    ownWaitMsPerCase,
  };
}

/** perf, in a private mount namespace: a tracefs it mounts goes with the namespace. */
const perf = (args: readonly string[], options: Parameters<typeof execa>[1] = {}) => execa('unshare', ['--mount', '--propagation', 'private', 'perf', ...args], options);
/** perf record's options: quiet, no build-id cache (~/.debug), every CPU. */
const RECORD = ['record', '-q', '-N', '-B', '-a'];

/** True when `perf record` can trace the scheduler here. */
export async function perfAvailable(): Promise<boolean> {
  const probe = await perf([...RECORD, '-o', '/dev/null', '-e', EVENTS[0]!, '--', 'true'], { reject: false });
  return probe.exitCode === 0;
}

/** Runs `argv` under `perf record -a -g` of the scheduler tracepoints (the data in `dir`) and reports its helpers' cases. */
export async function tracePhases(argv: readonly string[], helperBinary: string, dir: string): Promise<PhaseReport> {
  const data = join(dir, 'perf.data');
  await perf([...RECORD, '-g', '-o', data, ...EVENTS.flatMap((event) => ['-e', event]), '--', ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
  const script = join(dir, 'perf.txt');
  await perf(['script', '-i', data, '-F', 'tid,time,event,trace,ip,sym'], { stdout: { file: script }, stderr: 'ignore' });
  return casePhases(parsePerfScript(await readFile(script, 'utf8')), helperBinary);
}

/** The report as lines to print: the phases, then the `top` sleeps. */
export function phaseLines(label: string, report: PhaseReport, top = 8): string[] {
  return [
    `${label}: ${report.cases} cases, a case ${report.totalMs.toFixed(2)} ms (${report.totalMeanMs.toFixed(2)}) (median (mean), traced): ${report.phases.map((p) => `${p.phase} ${p.ms.toFixed(2)} (${p.meanMs.toFixed(2)})`).join(', ')} ms`,
    `  asleep in the kernel ${report.sleepMsPerCase.toFixed(2)} ms per case, over all its processes (besides ${report.ownWaitMsPerCase.toFixed(2)} ms waiting on one another); the longest, by the kernel functions slept in (per case):`,
    ...report.sleeps.slice(0, top).map((s) => `    ${s.msPerCase.toFixed(3)} ms in ${s.perCase.toFixed(2)} sleeps: ${s.where}`),
  ];
}
