/*
 * The one way every Redis store of this package bounds a command by time: the result cache, the
 * limiters and quotas, the breaker state and the API key store all send their commands through a
 * BoundedCommands, each command with the budget its caller has left (capped by the store's own
 * command timeout). A hung Redis never holds a caller past that budget; the late command's own
 * answer is dropped when it comes.
 *
 * Why one timer for all commands in flight instead of one per command (or node-redis' own
 * `timeout` command option, an AbortSignal.timeout() and two listener calls per command): a
 * timer per command costs a few µs, about a tenth of a cache hit's round trip, and commands
 * almost always answer in well under a millisecond. The timer is armed for the earliest end of
 * the commands in flight and re-armed only when a command ends earlier than that, so under a
 * steady load it fires once per command timeout, not once per command. node-redis 6.3.1's
 * `timeout` option also does not release a command already written to a Redis that stopped
 * answering (a SIGSTOPped server), so it could not bound the caller anyway.
 */
import { BallastError, now } from '@ballast/core';

/** What ended a command's budget: the store's own command timeout, or the caller's remaining time. */
export type CommandLimit = 'command' | 'caller';

/** @internal The rejection of a command that ran past its budget. */
export class CommandTimeout extends BallastError {
  constructor(
    store: string,
    readonly op: string,
    readonly budgetMs: number,
    readonly limitedBy: CommandLimit,
  ) {
    super('TIMEOUT', `${store}: Redis did not answer ${op} within ${Math.round(budgetMs)} ms`, {
      details: { store, op, budgetMs, limitedBy },
    });
  }
}

/** @internal How one bounded command ended: answered, failed or ran out of time (cancelled counts as failed). */
export type BoundedOutcome = 'ok' | 'error' | 'timeout';

/**
 * @internal Told of every command as it settles (the cache store counts and publishes them), with
 * when it was sent (`now()`): a listener that publishes nothing need not read the clock again.
 */
export type SettledListener = (op: string, outcome: BoundedOutcome, startedAt: number, error: unknown) => void;

// A timer that fires this late means this process stalled (GC, a busy loop, a starved CPU): each
// command on the store's own limit that is overdue then is held back once, for at most STALL_MS
// from then (looked at every RECHECK_MS), so Redis is not blamed (and skipped as hung) for the
// process' own delay: a command issued during the stall may not even have been written to the
// socket before it (node-redis writes its queue on a later tick), so its answer can only come
// after. A command on the caller's limit ends at once: the caller's time is up either way.
const STALL_MS = 50;
const RECHECK_MS = 5;

/** One command in flight: its promise settles once, by answer, failure, cancellation or timeout. */
class BoundedCommand<T> {
  readonly promise: Promise<T>;
  private resolve!: (value: T) => void;
  private reject!: (error: unknown) => void;
  settled = false;
  onAbort: (() => void) | undefined;
  /** Until when the command is held back for a stall of this process (set once, at the stall). */
  heldUntil: number | undefined;
  // Links of the owner's list of commands in flight.
  previous: BoundedCommand<unknown> | undefined;
  next: BoundedCommand<unknown> | undefined;

  constructor(
    readonly owner: BoundedCommands,
    readonly op: string,
    readonly started: number,
    readonly end: number,
    readonly budgetMs: number,
    readonly limitedBy: CommandLimit,
    readonly signal: AbortSignal | undefined,
  ) {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  finish(outcome: BoundedOutcome, value: unknown): void {
    if (this.settled) return;
    this.settled = true;
    if (this.onAbort !== undefined) this.signal?.removeEventListener('abort', this.onAbort);
    this.owner.settled(this as BoundedCommand<unknown>, outcome, value);
    if (outcome === 'ok') this.resolve(value as T);
    else this.reject(value);
  }
}

/** @internal Runs commands of one store, each within its own budget, under one shared timer. */
export class BoundedCommands {
  // Commands in flight, oldest first, as an intrusive list: adding and removing allocate nothing
  // (a Set churned at a cache hit's rate rehashes its table, garbage on every hit).
  private first: BoundedCommand<unknown> | undefined;
  private last: BoundedCommand<unknown> | undefined;
  private count = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private armedFor = Number.POSITIVE_INFINITY;
  private readonly fire = (): void => this.onTimer();
  private readonly sweep = (): void => this.expireDue();
  private stalled = false;

  /**
   * @param listener told of every command as it settles.
   * @param failure turns a command's own failure (an error reply, a broken connection) into what
   * the caller sees; by default the failure as it came.
   */
  constructor(
    readonly store: string,
    private readonly listener?: SettledListener,
    private readonly failure?: (op: string, error: unknown) => unknown,
  ) {}

  /** Commands sent and not settled yet. */
  get inFlight(): number {
    return this.count;
  }

  /**
   * Sends `send()` and settles with its answer (through `map`, in the same step), its failure, a
   * `CommandTimeout` once `budgetMs` has passed, or a `CANCELLED` error when `signal` aborts.
   * `limitedBy` says whose limit `budgetMs` is. The caller checks the budget is positive.
   */
  run<T, R = T>(
    op: string,
    budgetMs: number,
    limitedBy: CommandLimit,
    send: () => Promise<T>,
    map?: (answer: T) => R,
    signal?: AbortSignal,
  ): Promise<R> {
    const started = now();
    const command = new BoundedCommand<R>(this, op, started, started + budgetMs, budgetMs, limitedBy, signal);
    this.add(command as BoundedCommand<unknown>);
    if (command.end < this.armedFor) this.arm(command.end);
    if (signal !== undefined) {
      // Only callers that pass a signal pay for a listener (the cache relies on its call's scope).
      command.onAbort = () => command.finish('error', new BallastError('CANCELLED', `${this.store}: the call was cancelled`));
      signal.addEventListener('abort', command.onAbort, { once: true });
    }
    let sent: Promise<T>;
    try {
      sent = send();
    } catch (error) {
      command.finish('error', this.failure === undefined ? error : this.failure(op, error));
      return command.promise;
    }
    sent.then(
      (answer) => {
        if (command.settled) return;
        let value: R;
        try {
          value = map === undefined ? (answer as unknown as R) : map(answer);
        } catch (error) {
          command.finish('error', error);
          return;
        }
        command.finish('ok', value);
      },
      (error: unknown) => command.finish('error', this.failure === undefined ? error : this.failure(op, error)),
    );
    return command.promise;
  }

  /** @internal Bookkeeping of a command that settled. */
  settled(command: BoundedCommand<unknown>, outcome: BoundedOutcome, value: unknown): void {
    this.remove(command);
    this.listener?.(command.op, outcome, command.started, outcome === 'ok' ? undefined : value);
  }

  /** Stops the timer; commands still in flight settle when the connection answers or fails. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
  }

  private add(command: BoundedCommand<unknown>): void {
    command.previous = this.last;
    if (this.last === undefined) this.first = command;
    else this.last.next = command;
    this.last = command;
    this.count++;
  }

  private remove(command: BoundedCommand<unknown>): void {
    if (command.previous === undefined) this.first = command.next;
    else command.previous.next = command.next;
    if (command.next === undefined) this.last = command.previous;
    else command.next.previous = command.previous;
    command.previous = undefined;
    command.next = undefined;
    this.count--;
  }

  private arm(end: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.armedFor = end;
    this.timer = setTimeout(this.fire, Math.max(0, end - now()));
    this.timer.unref?.();
  }

  private onTimer(): void {
    const late = now() - this.armedFor;
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    this.stalled = late > STALL_MS;
    // Timers run before the event loop reads sockets: answers that came in before the end are
    // read first (setImmediate runs after that), then the rest are judged.
    setImmediate(this.sweep);
  }

  private expireDue(): void {
    const at = now();
    let next = Number.POSITIVE_INFINITY;
    let command = this.first;
    while (command !== undefined) {
      const following = command.next; // finish() unlinks the command
      if (command.end > at) {
        if (command.end < next) next = command.end;
      } else if (command.limitedBy === 'command' && this.heldBack(command, at)) {
        next = Math.min(next, at + RECHECK_MS);
      } else {
        command.finish('timeout', new CommandTimeout(this.store, command.op, command.budgetMs, command.limitedBy));
      }
      command = following;
    }
    if (next < this.armedFor) this.arm(next);
  }

  // Once per command, and never more than STALL_MS: a process that lags all the time must not
  // keep a hung Redis' commands (and their callers) waiting for ever.
  private heldBack(command: BoundedCommand<unknown>, at: number): boolean {
    if (command.heldUntil === undefined) {
      if (!this.stalled) return false;
      command.heldUntil = at + STALL_MS;
    }
    return at < command.heldUntil;
  }
}
