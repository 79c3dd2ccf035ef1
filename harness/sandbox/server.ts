// The per-case path: long-lived sandbox helpers (`sandbox-run --serve PARENT-PID`), one per job slot,
// each taking one case at a time over a pipe and cloning it into fresh namespaces. A case
// then costs the harness a write and a few reads, not a process start (~1.7 ms of Node-side
// work per case with an exec per case; bench/micro.ts prints today's share).
//
// Wire format (sandbox-run.c has the full text): a request is "ID run ARGSLEN STDINLEN\n",
// NUL-terminated arguments, then stdin; "ID kill 0 0\n" kills a running case's namespace.
// Answers are frames "ID KIND LEN\n" + LEN bytes: out, err, status, then done.
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/** Environment variable that marks every helper of one harness (or test) process tree, for leak checks. */
export const SANDBOX_OWNER_ENV = 'HARNESS_SANDBOX_OWNER';

/** This process tree's marker: set once here, so child harness processes inherit it. */
export function sandboxOwner(): string {
  process.env[SANDBOX_OWNER_ENV] ??= String(process.pid);
  return process.env[SANDBOX_OWNER_ENV];
}

export interface CaseAnswer {
  /** The helper's status lines ("full tmpfs", "exit N", "signal N", "error ..."). */
  status: string;
  /** Output as passed on (at most the cap per stream), and each stream's whole size. */
  stdout: Buffer[];
  stdoutBytes: number;
  stderr: Buffer[];
  stderrBytes: number;
  /** From cloning init to reaping it, as the helper measured; undefined when it never said done. */
  durationMs?: number;
}

export interface RunningCase {
  /** Resolves when the case ended, or when its helper did (then without durationMs). */
  done: Promise<CaseAnswer>;
  /** Asks the helper to SIGKILL the case's namespace. */
  kill(): void;
  /** Last resort when the helper does not answer: SIGKILL the helper (init dies by PDEATHSIG). */
  killHelper(): void;
}

interface Pending {
  id: string;
  answer: CaseAnswer;
  resolve: (answer: CaseAnswer) => void;
}

/** One "run" request: the helper's case options and argv (helperArgs), and the guest's stdin. */
export function encodeRequest(id: string, args: readonly string[], stdin: string | undefined): Buffer {
  const argBytes = Buffer.from(args.map((arg) => `${arg}\0`).join(''));
  const stdinBytes = Buffer.from(stdin ?? '');
  return Buffer.concat([Buffer.from(`${id} run ${argBytes.length} ${stdinBytes.length}\n`), argBytes, stdinBytes]);
}

class Helper implements HelperIdentity {
  readonly child: ChildProcessByStdio<Writable, Readable, null>;
  private buffer: Buffer = Buffer.alloc(0);
  pending: Pending | undefined;
  alive = true;

  get pid(): number | undefined {
    return this.child.pid;
  }

  constructor(binary: string) {
    this.child = spawn(binary, ['--serve', String(process.pid)], { stdio: ['pipe', 'pipe', 'ignore'], env: { [SANDBOX_OWNER_ENV]: sandboxOwner() } });
    this.child.stdout.on('data', (chunk: Buffer) => this.read(chunk));
    this.child.stdin.on('error', () => {});
    const ended = () => {
      this.alive = false;
      pool.delete(this);
      const pending = this.pending;
      this.pending = undefined;
      pending?.resolve(pending.answer);
    };
    this.child.on('error', ended);
    this.child.on('close', ended);
  }

  run(id: string, args: readonly string[], stdin: string | undefined): Promise<CaseAnswer> {
    const done = new Promise<CaseAnswer>((resolve) => {
      this.pending = { id, resolve, answer: { status: '', stdout: [], stdoutBytes: 0, stderr: [], stderrBytes: 0 } };
    });
    this.child.stdin.write(encodeRequest(id, args, stdin));
    return done;
  }

  kill(id: string): void {
    if (this.alive && this.pending?.id === id) this.child.stdin.write(`${id} kill 0 0\n`);
  }

  private read(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    for (;;) {
      const newline = this.buffer.indexOf(10);
      if (newline < 0) return;
      const [id, kind, length] = this.buffer.subarray(0, newline).toString('latin1').split(' ');
      const end = newline + 1 + Number(length);
      if (this.buffer.length < end) return;
      const payload = this.buffer.subarray(newline + 1, end);
      this.buffer = this.buffer.subarray(end);
      this.frame(id ?? '', kind ?? '', payload);
    }
  }

  private frame(id: string, kind: string, payload: Buffer): void {
    const pending = this.pending;
    if (!pending || pending.id !== id) return;
    const { answer } = pending;
    if (kind === 'out') answer.stdout.push(payload);
    else if (kind === 'err') answer.stderr.push(payload);
    else if (kind === 'status') answer.status += payload.toString('utf8');
    else if (kind === 'done') {
      const [stdoutBytes = 0, stderrBytes = 0, micros = 0] = payload.toString('latin1').split(' ').map(Number);
      Object.assign(answer, { stdoutBytes, stderrBytes, durationMs: micros / 1000 });
      this.pending = undefined;
      pending.resolve(answer);
    }
  }

  /** Idle: the event loop need not wait for it. Busy: it must, for the answer. */
  hold(busy: boolean): void {
    const method = busy ? 'ref' : 'unref';
    this.child[method]();
    (this.child.stdout as Readable & { ref(): void; unref(): void })[method]();
    (this.child.stdin as Writable & { ref(): void; unref(): void })[method]();
  }
}

/** Every live helper; the idle ones wait for the next case. */
const pool = new Set<Helper>();
const idle: Helper[] = [];
let nextId = 0;
let exitHookInstalled = false;

/** A helper taken for one case: its cgroups are chosen by its identity (`owner`), then `start` runs the case. */
export interface TakenHelper {
  /** Stands for this helper while it lives: the key of the cgroups it sits in (cgroup.ts). */
  readonly owner: HelperIdentity;
  /** Runs the case. */
  start(args: readonly string[], stdin: string | undefined): RunningCase;
  /**
   * Makes the helper idle again, once its case and that case's cgroups are done with (or when
   * the case never started): before that, another case could take it and its cgroups.
   */
  giveBack(): void;
}

/** What cgroup.ts needs to know of the helper whose set it keeps. */
export interface HelperIdentity {
  readonly pid: number | undefined;
  readonly alive: boolean;
}

function installExitHooks(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // SIGKILL: each helper's running init dies by PDEATHSIG, the kernel tears down its namespace.
  process.once('exit', () => {
    for (const helper of pool) helper.child.kill('SIGKILL');
  });
  // Nothing left to do: idle helpers end at the end of their requests and are reaped, so the
  // process's CPU accounting (time(1), rusage) includes theirs and their cases'.
  process.on('beforeExit', () => {
    for (const helper of idle.splice(0)) {
      helper.hold(true);
      helper.child.stdin.end();
    }
  });
}

/** An idle helper of `binary` for one case (a new one when all are busy: one per job slot). */
export function takeHelper(binary: string): TakenHelper {
  installExitHooks();
  let helper = idle.pop();
  while (helper && !helper.alive) helper = idle.pop();
  if (!helper) {
    helper = new Helper(binary);
    pool.add(helper);
  }
  const used = helper;
  return {
    owner: used,
    giveBack() {
      if (used.alive) {
        used.hold(false);
        idle.push(used);
      }
    },
    start(args, stdin) {
      const id = `c${++nextId}`;
      used.hold(true);
      return { done: used.run(id, args, stdin), kill: () => used.kill(id), killHelper: () => used.child.kill('SIGKILL') };
    },
  };
}

/** Pids of helpers waiting for a case: alive by design, holding nothing of a case. */
export function idleHelperPids(): Set<number> {
  return new Set(idle.filter((helper) => helper.alive && helper.child.pid !== undefined).map((helper) => helper.child.pid!));
}
