// The per-case path: long-lived sandbox helpers (`sandbox-run --serve PARENT-PID`), one per job slot,
// each cloning its cases into fresh namespaces, one at a time. A case then costs the harness
// a write and a few reads, not a process start (~1.7 ms of Node-side work per case with an
// exec per case; bench/micro.ts prints today's share). A slot's next case is sent while its
// current one runs and waits in the helper's pipe: the helper starts it the moment the last
// one is reaped, not after a round trip through this process's one thread (which, with every
// core busy, waits its turn for a core).
//
// Wire format (sandbox-run.c has the full text): a request is "ID run ARGSLEN STDINLEN\n",
// NUL-terminated arguments, then stdin; "ID kill 0 0\n" kills a case's namespace (or drops a
// case still waiting). Answers are frames "ID KIND LEN\n" + LEN bytes: out, err, status, file,
// then done.
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
  /** The texts of the request's --report-file files after the case, in order (cgroup counters). */
  files: string[];
  /** The same files' texts after this helper's case before (empty for a file it had not read). */
  filesBefore: string[];
  /** From cloning init to reaping it, as the helper measured; undefined when it never said done. */
  durationMs?: number;
}

export interface RunningCase {
  /** Resolves when the case ended, or when its helper did (then without durationMs). */
  done: Promise<CaseAnswer>;
  /** Asks the helper to SIGKILL the case's namespace (or to drop the case, not started yet). */
  kill(): void;
  /** Last resort when the helper does not answer: SIGKILL the helper (init dies by PDEATHSIG). */
  killHelper(): void;
}

interface Pending {
  id: string;
  /** Its --report-file paths. */
  reportFiles: readonly string[];
  answer: CaseAnswer;
  resolve: (answer: CaseAnswer) => void;
  /** Called once the helper starts the case: at once, or when the case before it ends. */
  onStart: () => void;
}

/**
 * One "run" request: the helper's case options and argv (helperArgs), and the guest's stdin.
 * A string, written as UTF-8 by the stream itself: no Buffers made and joined per case.
 */
export function encodeRequest(id: string, args: readonly string[], stdin: string | undefined): string {
  const argText = args.length ? `${args.join('\0')}\0` : '';
  const stdinText = stdin ?? '';
  return `${id} run ${Buffer.byteLength(argText)} ${Buffer.byteLength(stdinText)}\n${argText}${stdinText}`;
}

class Helper implements HelperIdentity {
  readonly child: ChildProcessByStdio<Writable, Readable, null>;
  private buffer: Buffer = Buffer.alloc(0);
  /** Cases sent and not yet answered, in the order sent: the first runs, the rest wait in the helper. */
  private readonly queue: Pending[] = [];
  private idleWaiters: Array<() => void> = [];
  /** Each report file's text as of the last case that read it: the next one's `filesBefore`. */
  private readonly lastFiles = new Map<string, string>();
  /** Settles once the last taker has sent its case (or gave up): the next taker's turn. */
  turnTail: Promise<void> = Promise.resolve();
  alive = true;

  get pid(): number | undefined {
    return this.child.pid;
  }

  get inFlight(): number {
    return this.queue.length;
  }

  constructor(binary: string) {
    this.child = spawn(binary, ['--serve', String(process.pid)], { stdio: ['pipe', 'pipe', 'ignore'], env: { [SANDBOX_OWNER_ENV]: sandboxOwner() } });
    this.child.stdout.on('data', (chunk: Buffer) => this.read(chunk));
    this.child.stdin.on('error', () => {});
    const ended = () => {
      this.alive = false;
      pool.delete(this);
      for (const pending of this.queue.splice(0)) pending.resolve(pending.answer);
      this.settleIdle();
    };
    this.child.on('error', ended);
    this.child.on('close', ended);
  }

  run(id: string, args: readonly string[], stdin: string | undefined, reportFiles: readonly string[], onStart: () => void): Promise<CaseAnswer> {
    const done = new Promise<CaseAnswer>((resolve) => {
      this.queue.push({ id, reportFiles, resolve, onStart, answer: { status: '', stdout: [], stdoutBytes: 0, stderr: [], stderrBytes: 0, files: [], filesBefore: [] } });
    });
    this.hold(true);
    this.child.stdin.write(encodeRequest(id, args, stdin));
    if (this.queue.length === 1) onStart();
    return done;
  }

  kill(id: string): void {
    if (this.alive && this.queue.some((pending) => pending.id === id)) this.child.stdin.write(`${id} kill 0 0\n`);
  }

  /** Resolves once no case of this helper is in flight. */
  idle(): Promise<void> {
    if (this.queue.length === 0 || !this.alive) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private settleIdle(): void {
    if (this.queue.length > 0 && this.alive) return;
    this.hold(false);
    for (const resolve of this.idleWaiters.splice(0)) resolve();
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
    // The running case's frames, or a waiting one's that was dropped before it started.
    const index = this.queue[0]?.id === id ? 0 : this.queue.findIndex((pending) => pending.id === id);
    const pending = this.queue[index];
    if (!pending) return;
    const { answer } = pending;
    if (kind === 'out') answer.stdout.push(payload);
    else if (kind === 'err') answer.stderr.push(payload);
    else if (kind === 'status') answer.status += payload.toString('utf8');
    else if (kind === 'file') answer.files.push(payload.toString('latin1'));
    else if (kind === 'done') {
      const [stdoutBytes = 0, stderrBytes = 0, micros = 0] = payload.toString('latin1').split(' ').map(Number);
      Object.assign(answer, { stdoutBytes, stderrBytes, durationMs: micros / 1000 });
      // In the order the helper read them, whatever order the cases' answers are taken in.
      if (answer.files.length === pending.reportFiles.length) {
        answer.filesBefore = pending.reportFiles.map((path) => this.lastFiles.get(path) ?? '');
        pending.reportFiles.forEach((path, i) => this.lastFiles.set(path, answer.files[i]!));
      }
      this.queue.splice(index, 1);
      // The helper went on to the next case the moment it sent this.
      if (index === 0) this.queue[0]?.onStart();
      pending.resolve(answer);
      this.settleIdle();
    }
  }

  /** Idle: the event loop need not wait for it. Busy: it must, for the answer. */
  private hold(busy: boolean): void {
    const method = busy ? 'ref' : 'unref';
    this.child[method]();
    (this.child.stdout as Readable & { ref(): void; unref(): void })[method]();
    (this.child.stdin as Writable & { ref(): void; unref(): void })[method]();
  }

  /** No more cases: it ends at the end of its requests, and the process waits to reap it. */
  retire(): void {
    this.hold(true);
    this.child.stdin.end();
  }
}

/** Every live helper; the idle ones wait for the next case. */
const pool = new Set<Helper>();
const idle: Helper[] = [];
/** Each job slot's helper (takeHelper with a slot). */
const slotHelpers: Array<Helper | undefined> = [];
let nextId = 0;
let exitHookInstalled = false;

/** A helper taken for one case: its cgroups are chosen by its identity (`owner`), then `start` runs the case. */
export interface TakenHelper {
  /** Stands for this helper while it lives: the key of the cgroups it sits in (cgroup.ts). */
  readonly owner: HelperIdentity;
  /**
   * Settles once the case that took the helper before this one was sent (or gave up): only
   * then may this one set up the helper's cgroups, in the order the cases will run.
   */
  readonly turn: Promise<void>;
  /** True while an earlier case is in flight on it: this one then waits in the helper's pipe. */
  readonly busy: boolean;
  /** Resolves once the cases ahead of this one are done. */
  idle(): Promise<void>;
  /** Sends the case (`reportFiles`: its --report-file paths, in order); `onStart` runs once the helper starts it. */
  start(args: readonly string[], stdin: string | undefined, reportFiles: readonly string[], onStart: () => void): RunningCase;
  /**
   * Makes the helper free again, once its case and that case's cgroups are done with (or when
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
    for (const helper of idle.splice(0)) helper.retire();
    for (const [slot, helper] of slotHelpers.entries()) {
      if (helper?.alive && helper.inFlight === 0) {
        slotHelpers[slot] = undefined;
        helper.retire();
      }
    }
  });
}

function newHelper(binary: string): Helper {
  const helper = new Helper(binary);
  pool.add(helper);
  return helper;
}

/**
 * A helper of `binary` for one case. With a job slot: the slot's own helper, which may still
 * be running the slot's previous case (the scheduler hands a slot its next case early, so the
 * helper starts it without waiting on this process). Without: an idle helper, or a new one.
 */
export function takeHelper(binary: string, slot?: number): TakenHelper {
  installExitHooks();
  let helper: Helper | undefined;
  if (slot === undefined) {
    helper = idle.pop();
    while (helper && !helper.alive) helper = idle.pop();
    helper ??= newHelper(binary);
  } else {
    helper = slotHelpers[slot];
    if (!helper?.alive) slotHelpers[slot] = helper = newHelper(binary);
  }
  const used = helper;
  const exclusive = slot === undefined;
  const turn = used.turnTail;
  let passTurn!: () => void;
  used.turnTail = new Promise((resolve) => (passTurn = resolve));
  return {
    owner: used,
    turn,
    get busy() {
      return used.inFlight > 0;
    },
    idle: () => used.idle(),
    giveBack() {
      passTurn();
      if (exclusive && used.alive) idle.push(used);
    },
    start(args, stdin, reportFiles, onStart) {
      const id = `c${++nextId}`;
      const done = used.run(id, args, stdin, reportFiles, onStart);
      passTurn();
      return { done, kill: () => used.kill(id), killHelper: () => used.child.kill('SIGKILL') };
    },
  };
}

/** Pids of helpers waiting for a case: alive by design, holding nothing of a case. */
export function idleHelperPids(): Set<number> {
  const waiting = [...idle, ...slotHelpers.filter((helper): helper is Helper => helper !== undefined && helper.inFlight === 0)];
  return new Set(waiting.filter((helper) => helper.alive && helper.child.pid !== undefined).map((helper) => helper.child.pid!));
}
