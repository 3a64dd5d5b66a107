import { BallastError, toBallastError } from './errors.js';
import type { InferContext } from './events.js';
import type { InferOptions } from './model.js';

/*
 * One budget per call, cheaply.
 *
 * A call with `timeoutMs` or `signal` gets a CallScope at the outermost layer. The scope is
 * registered in one process-wide timer wheel: a Map from millisecond slot to scopes, a min-heap of
 * slot keys and a single Node timer armed for the earliest slot. Registering is a Map lookup and
 * an array push, so a call that answers in time costs no setTimeout, no AbortSignal.timeout() and
 * no abort listener (`pnpm bench deadline` measures AbortSignal.timeout() alone at about 8 us on
 * Node 20, more than a small model's run).
 *
 * Settled scopes are not removed from their slot (removal would cost a search); they are skipped
 * when the slot fires, and the wheel sweeps them out once it holds COMPACT_FLOOR entries and four
 * times as many as there are calls in flight, so memory stays proportional to the calls in flight.
 *
 * A caller's AbortSignal is watched lazily: the scope first sits in the wheel for
 * SIGNAL_GRACE_MS; if the call is still running then, it joins the signal's one abort listener
 * (shared by every scope on that signal, see SignalWatcher) and is re-registered at its deadline. So an abort is noticed at once after the first
 * SIGNAL_GRACE_MS of a call, and within SIGNAL_GRACE_MS before that. Code that needs a real
 * AbortSignal (fetch, a worker) asks for `signalOf(options)`, which creates one on demand.
 */

/** How long a caller's signal is polled before an abort listener is attached, ms. */
export const SIGNAL_GRACE_MS = 2;

const SCOPE = Symbol.for('ballast.scope');
const ATTEMPTS = Symbol.for('ballast.attempts');

/** The monotonic clock deadlines use (ms). Same as `performance.now()`. */
export function now(): number {
  return performance.now();
}

/** Builds the TIMEOUT error for a spent budget. */
export function timeoutError(details?: Record<string, unknown>): BallastError {
  return new BallastError('TIMEOUT', 'the call ran out of its time budget', details ? { details } : {});
}

/** Builds the CANCELLED error for a caller abort. */
export function cancelledError(reason?: unknown): BallastError {
  return new BallastError('CANCELLED', 'the caller cancelled the call', reason === undefined ? {} : { cause: reason });
}

type Settle = (value: unknown) => void;

// The Promise executor is one shared function (not a closure per call): it hands the resolvers
// to the scope being guarded, which `guard()` sets just before and clears just after.
let capturing: CallScope | undefined;
function captureResolvers(resolve: Settle, reject: Settle): void {
  (capturing as CallScope).setResolvers(resolve, reject);
}

/** @internal The per-call state. Exposed to middleware only through the functions below. */
export class CallScope {
  readonly deadline: number;
  readonly callerSignal: AbortSignal | undefined;
  readonly parent: CallScope | undefined;
  context: InferContext | undefined;
  private controller: AbortController | undefined;
  private combined: AbortSignal | undefined;
  private resolveFn: Settle | undefined;
  private rejectFn: Settle | undefined;
  private listening = false;
  private ownDone = false;

  /**
   * Whether this scope races its own deadline: true for a root scope, and for a nested scope
   * whose layer brought a tighter budget than the call it runs in (a client's own timeoutMs
   * inside a server request's budget). Other nested scopes only carry a tracing context.
   */
  readonly guarding: boolean;
  /** When the scope was opened (`now()`), if read then: the caller signal's grace period runs from it. */
  private readonly openedAt: number | undefined;

  constructor(deadline: number, callerSignal: AbortSignal | undefined, parent?: CallScope, context?: InferContext, openedAt?: number) {
    this.deadline = deadline;
    this.openedAt = openedAt;
    this.callerSignal = callerSignal;
    this.parent = parent;
    // Annotations go to the nearest traced call: a nested scope that only tightens the budget
    // shares its parent's telemetry context.
    this.context = context ?? parent?.context;
    this.guarding = parent === undefined || deadline < parent.deadline;
  }

  get done(): boolean {
    return this.ownDone || (this.parent?.done ?? false);
  }

  /** A signal that aborts when the caller aborts or the deadline passes. Created on first use. */
  get signal(): AbortSignal {
    if (this.parent && !this.guarding) return this.parent.signal;
    if (this.parent) {
      // A tighter nested budget: abort at its own deadline or when the enclosing call ends.
      if (this.controller === undefined) {
        this.controller = new AbortController();
        if (!this.ownDone && now() >= this.deadline) this.controller.abort(timeoutError());
        this.combined = AbortSignal.any([this.parent.signal, this.controller.signal]);
      }
      return this.combined as AbortSignal;
    }
    if (this.controller === undefined) {
      this.controller = new AbortController();
      const caller = this.callerSignal;
      if (caller?.aborted) this.controller.abort(cancelledError(caller.reason));
      else if (!this.ownDone && now() >= this.deadline) this.controller.abort(timeoutError());
      else if (caller && !this.listening && !this.ownDone) this.listen();
    }
    return this.controller.signal;
  }

  /** Races `work` against the deadline and the caller signal. */
  guard<O>(work: Promise<O>): Promise<O> {
    capturing = this;
    const promise = new Promise<O>(captureResolvers as (resolve: (value: O) => void, reject: Settle) => void);
    capturing = undefined;
    wheel.enter();
    if (this.callerSignal !== undefined && !this.listening) {
      wheel.add(this, Math.min(this.deadline, (this.openedAt ?? now()) + SIGNAL_GRACE_MS));
    } else if (this.deadline !== Number.POSITIVE_INFINITY) {
      wheel.add(this, this.deadline);
    }
    work.then(
      (value) => this.finish(value, true),
      (error) => this.finish(error, false),
    );
    return promise;
  }

  /** @internal Used by the shared Promise executor. */
  setResolvers(resolve: Settle, reject: Settle): void {
    this.resolveFn = resolve;
    this.rejectFn = reject;
  }

  private finish(value: unknown, ok: boolean): void {
    if (this.ownDone) return;
    this.ownDone = true;
    wheel.leave();
    if (this.listening && this.callerSignal !== undefined) unwatch(this.callerSignal, this);
    const settle = ok ? this.resolveFn : this.rejectFn;
    this.resolveFn = undefined;
    this.rejectFn = undefined;
    // Where thrown values become BallastErrors for the caller (toBallastError classifies HTTP SDK
    // errors by status): on the failure path only, so a call that succeeds pays nothing for it.
    settle?.(ok ? value : toBallastError(value));
  }

  private listen(): void {
    this.listening = true;
    if (this.callerSignal !== undefined) watch(this.callerSignal, this);
  }

  /** Called by the signal's watcher when the caller aborts. */
  onAbort(): void {
    this.fail(cancelledError(this.callerSignal?.reason));
  }

  private fail(error: BallastError): void {
    if (this.ownDone) return;
    this.controller?.abort(error);
    this.finish(error, false);
  }

  /** Called by the wheel when this scope's slot comes due. */
  onWheel(at: number): void {
    if (this.ownDone) return;
    const caller = this.callerSignal;
    if (caller?.aborted) {
      this.fail(cancelledError(caller.reason));
      return;
    }
    if (at >= this.deadline) {
      this.fail(timeoutError());
      return;
    }
    // Grace period over and still running: watch the signal for real from now on.
    if (caller && !this.listening) this.listen();
    if (this.deadline !== Number.POSITIVE_INFINITY) wheel.add(this, this.deadline);
  }
}

/*
 * One abort listener per caller signal, however many scopes watch it. The rows of one request
 * (a v2 batch, a Promise.all over one signal) each run under their own scope with the request's
 * signal; a listener per scope would put one listener per row on that signal (and Node warns
 * with MaxListenersExceededWarning past 10). The watcher is the listener (an object listener,
 * no closure) and fans an abort out to the scopes still running.
 */
class SignalWatcher {
  readonly scopes = new Set<CallScope>();
  constructor(private readonly signal: AbortSignal) {}

  handleEvent(): void {
    watchers.delete(this.signal);
    this.signal.removeEventListener('abort', this);
    for (const scope of this.scopes) scope.onAbort();
    this.scopes.clear();
  }
}

const watchers = new WeakMap<AbortSignal, SignalWatcher>();

function watch(signal: AbortSignal, scope: CallScope): void {
  let watcher = watchers.get(signal);
  if (watcher === undefined) {
    watcher = new SignalWatcher(signal);
    watchers.set(signal, watcher);
    signal.addEventListener('abort', watcher);
  }
  watcher.scopes.add(scope);
}

function unwatch(signal: AbortSignal, scope: CallScope): void {
  const watcher = watchers.get(signal);
  if (watcher === undefined || !watcher.scopes.delete(scope) || watcher.scopes.size > 0) return;
  watchers.delete(signal);
  signal.removeEventListener('abort', watcher);
}

// A binary min-heap of numbers (slot keys).
class MinHeap {
  private readonly items: number[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): number | undefined {
    return this.items[0];
  }
  push(value: number): void {
    const items = this.items;
    let i = items.push(value) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent] as number;
      if (p <= value) break;
      items[i] = p;
      i = parent;
    }
    items[i] = value;
  }
  pop(): number | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      let i = 0;
      const n = items.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && (items[r] as number) < (items[l] as number) ? r : l;
        if ((items[c] as number) >= last) break;
        items[i] = items[c] as number;
        i = c;
      }
      items[i] = last;
    }
    return top;
  }
}

/**
 * Something the process-wide timer wheel calls back once its time has come (see
 * {@link atDeadline}): a call's scope, or anything else bounded by a deadline (a request body
 * being read).
 */
export interface DeadlineEntry {
  /** True once the entry finished by itself: the wheel may then drop it without calling it. */
  readonly done: boolean;
  /** Called once the entry's time has passed, `at` being the current time; an entry done by then ignores it. */
  onWheel(at: number): void;
}

/*
 * The fewest entries the wheel holds before it sweeps settled ones (it also waits until it holds
 * four times as many as there are live calls, so sweeping costs O(1) per entry added). A settled
 * scope stays in its slot until the slot fires or a sweep: with a long budget, until a sweep. Kept
 * small so that settled scopes, and what they hold, die young: with a floor of 4096 a call with
 * a 5 s budget left its scope for about 4,000 calls, long enough to survive young-generation
 * collections and be promoted (`pnpm bench deadline`: 269–286 ns of budget overhead a call
 * then, 239–248 ns with 256).
 */
const COMPACT_FLOOR = 256;

class TimerWheel {
  private readonly slots = new Map<number, DeadlineEntry[]>();
  private readonly keys = new MinHeap();
  private timer: NodeJS.Timeout | undefined;
  private armedAt = Number.POSITIVE_INFINITY;
  private armedWith: typeof setTimeout | undefined;
  private stored = 0;
  /** Calls being guarded now; the timer keeps the process alive only while this is > 0. */
  live = 0;

  /*
   * One due slot at a time. When the timer fires late, several slots may be due at once: an inner
   * deadline (a fallback chain's share, a primary's scope ending early) and the call's own. Firing
   * them in one go would end the call before the layer whose deadline came first could react (a
   * fallback chain serving its static value). So the earliest slot fires, then every promise
   * reaction it caused runs (a microtask that queues a nextTick: Node runs ticks only once the
   * microtask queue is empty), then the next due slot fires. No turn of the event loop passes in
   * between, so a stall does not make the wheel fall further behind.
   */
  private readonly fire = (): void => {
    // Called after the reactions of the slot before, a timer armed meanwhile is re-armed below.
    if (this.timer !== undefined && this.armedWith === setTimeout) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
    const t = now();
    let key = this.keys.peek();
    while (key !== undefined && key <= t) {
      this.keys.pop();
      const scopes = this.slots.get(key);
      if (scopes !== undefined) {
        this.slots.delete(key);
        this.stored -= scopes.length;
        for (const scope of scopes) scope.onWheel(t);
        break;
      }
      key = this.keys.peek();
    }
    const next = this.keys.peek();
    if (next === undefined) return;
    if (next <= now()) queueMicrotask(this.afterReactions);
    else this.arm(next);
  };

  private readonly afterReactions = (): void => {
    process.nextTick(this.fire);
  };

  enter(): void {
    if (++this.live === 1) this.timer?.ref?.();
  }

  leave(): void {
    if (--this.live === 0) this.timer?.unref?.();
  }

  add(scope: DeadlineEntry, at: number): void {
    const key = Math.ceil(at);
    let scopes = this.slots.get(key);
    if (scopes === undefined) {
      scopes = [];
      this.slots.set(key, scopes);
      this.keys.push(key);
      if (key < this.armedAt) this.arm(key);
    }
    scopes.push(scope);
    // A swapped timer implementation (fake timers installed or removed in tests) orphans the
    // armed timer: re-arm on the current one. One identity check per call.
    if (this.armedWith !== setTimeout) this.arm(this.keys.peek() as number);
    if (++this.stored > COMPACT_FLOOR && this.stored > 4 * this.live) this.compact();
  }

  private arm(key: number): void {
    if (this.timer !== undefined && this.armedWith === setTimeout) clearTimeout(this.timer);
    this.armedAt = key;
    this.armedWith = setTimeout;
    this.timer = setTimeout(this.fire, Math.max(1, key - now()));
    if (this.live === 0) this.timer.unref?.();
  }

  /** Entries held (live and not yet swept). */
  get size(): number {
    return this.stored;
  }

  private compact(): void {
    // In place: no new arrays, so sweeping does not itself feed the garbage collector.
    let stored = 0;
    for (const [key, scopes] of this.slots) {
      let kept = 0;
      for (let i = 0; i < scopes.length; i++) {
        const scope = scopes[i] as DeadlineEntry;
        if (!scope.done) scopes[kept++] = scope;
      }
      scopes.length = kept;
      if (kept === 0) this.slots.delete(key);
      stored += kept;
    }
    this.stored = stored;
  }
}

const wheel = new TimerWheel();

/**
 * Calls `entry.onWheel(now())` once `at` (on the {@link now} clock) has passed, on the one timer
 * wheel every call deadline uses: registering costs a Map lookup and a push, with no timer of its
 * own and nothing to cancel (an entry that finished says so with `done` and ignores the call). It
 * does not keep the process alive by itself. For bounding work that is not a model call (a call
 * is bounded with {@link withDeadline} or `pipeline()`).
 *
 * @example
 * const read = { done: false, onWheel() { if (!this.done) fail(timeoutError()); } };
 * atDeadline(read, now() + 5_000);
 */
export function atDeadline(entry: DeadlineEntry, at: number): void {
  wheel.add(entry, at);
}

interface ScopedOptions extends InferOptions {
  [SCOPE]?: CallScope;
  [ATTEMPTS]?: AttemptMemo;
}

/** The scope a call runs under, if any. */
function scopeOf(options: InferOptions | undefined): CallScope | undefined {
  return (options as ScopedOptions | undefined)?.[SCOPE];
}

/** @internal Whether `options` carry a running call's scope. */
export function inScope(options: InferOptions | undefined): boolean {
  return scopeOf(options) !== undefined;
}

/**
 * The absolute deadline of a call on the {@link now} clock, or `Infinity`.
 * Reads `deadline`, else derives one from `timeoutMs` relative to now.
 */
export function deadlineOf(options: InferOptions | undefined): number {
  if (options === undefined) return Number.POSITIVE_INFINITY;
  const scope = scopeOf(options);
  if (scope) return scope.deadline;
  let deadline = options.deadline ?? Number.POSITIVE_INFINITY;
  if (options.timeoutMs !== undefined) deadline = Math.min(deadline, now() + options.timeoutMs);
  return deadline;
}

/**
 * Milliseconds left in the call's budget (`Infinity` without one; never negative).
 *
 * @example
 * const wait = Math.min(backoffMs, remainingMs(options)); // never sleep past the deadline
 */
export function remainingMs(options: InferOptions | undefined): number {
  const deadline = deadlineOf(options);
  return deadline === Number.POSITIVE_INFINITY ? deadline : Math.max(0, deadline - now());
}

/**
 * An AbortSignal that aborts when the caller cancels or the budget runs out; `undefined` when the
 * call has neither. Created lazily, so ask for it only where something needs a real signal
 * (fetch, a worker, a queue wait).
 *
 * @example
 * const response = await fetch(url, { signal: signalOf(options) });
 */
export function signalOf(options: InferOptions | undefined): AbortSignal | undefined {
  if (options === undefined) return undefined;
  const scope = scopeOf(options);
  if (scope) return scope.signal;
  return options.signal;
}

/**
 * Throws `CANCELLED` if the caller aborted or `TIMEOUT` if the budget is spent; cheap polling for
 * loops and queues.
 */
export function throwIfDone(options: InferOptions | undefined): void {
  const error = doneError(options);
  if (error) throw error;
}

/** The error a finished call should fail with (`CANCELLED` or `TIMEOUT`), or `undefined` while it may go on. */
export function doneError(options: InferOptions | undefined): BallastError | undefined {
  if (options === undefined) return undefined;
  const signal = options.signal;
  if (signal?.aborted) return cancelledError(signal.reason);
  const deadline = deadlineOf(options);
  if (deadline !== Number.POSITIVE_INFINITY && now() >= deadline) return timeoutError();
  return undefined;
}

/**
 * Adds a `key: value` attribute to the running call's telemetry context (no-op when nobody
 * traces). Middleware use it to report cache results, attempts, fallbacks, providers.
 */
export function annotate(options: InferOptions | undefined, key: string, value: string | number | boolean): void {
  const context = scopeOf(options)?.context;
  if (context !== undefined) context.attributes[key] = value;
}

/**
 * Runs `fn(options)` under one budget: derives the absolute deadline from `timeoutMs`/`deadline`,
 * and rejects with `TIMEOUT` or `CANCELLED` the moment the budget runs out or the caller aborts,
 * aborting `signalOf(options)` for the work in progress. Nested calls reuse the outer scope.
 * `pipeline()` does this for you; use it directly in a model that is not built with `pipeline()`.
 *
 * @example
 * const out = await withDeadline({ timeoutMs: 50 }, (o) => fetchSomething(signalOf(o)));
 */
export function withDeadline<O>(options: InferOptions | undefined, fn: (options: InferOptions | undefined) => Promise<O>): Promise<O> {
  const scoped = enterScope(options, undefined);
  if (scoped === undefined) return fn(options);
  if (scoped instanceof BallastError) return Promise.reject(scoped);
  return guardScoped(scoped, fn(scoped));
}

// The fields scopedCopy copies by name: a switch over constant strings (compared by pointer,
// the keys of an object being internalized) rather than a Set, whose lookups hash each key.
function isKnownField(key: string): boolean {
  switch (key) {
    case 'signal':
    case 'timeoutMs':
    case 'deadline':
    case 'priority':
    case 'cacheKey':
    case 'principal':
    case 'attributes':
      return true;
    default:
      return false;
  }
}

// `{ ...options, [SCOPE]: scope }` costs about 1 us on Node 20 (V8's generic spread path), more
// than everything else a budget needs together. Copying the known fields into a literal of one
// fixed shape costs ~10 ns; the for-in loop keeps any extra fields a caller added.
// The symbol fields are stored after the literal, never as computed keys in it (`{ [SCOPE]: … }`):
// V8 keeps one map in a computed key's feedback and turns it megamorphic the first time the
// literal arrives with another map (after a field's representation changes, for example); from
// then on that key is a runtime call with a map transition lookup on every copy. A keyed store
// has a polymorphic inline cache instead.
// Seen in the HTTP benchmark's Fastify process, where the checked reference and the plugin both
// copy options: about 1.5 µs a request, in two runs of three.
function scopedCopy(options: InferOptions, deadline: number | undefined, scope: CallScope | undefined, timeoutMs?: number): ScopedOptions {
  const copy: ScopedOptions = {
    signal: options.signal,
    // Inside a call the budget lives in `deadline`; a `timeoutMs` set by a layer below tightens it.
    timeoutMs,
    deadline,
    priority: options.priority,
    cacheKey: options.cacheKey,
    principal: options.principal,
    attributes: options.attributes,
  };
  copy[SCOPE] = scope;
  copy[ATTEMPTS] = (options as ScopedOptions)[ATTEMPTS];
  for (const key in options) {
    if (!isKnownField(key)) (copy as Record<string, unknown>)[key] = (options as Record<string, unknown>)[key];
  }
  return copy;
}

/**
 * Options whose budget is at most `timeoutMs` from now: the same object when it already allows no
 * more, else a cheap copy (the call's scope, signal and other fields kept). A layer that caps
 * what its calls may take (a client's own `timeoutMs`) uses it; under `pipeline()` the cap
 * becomes a nested deadline that never extends the caller's.
 *
 * @example
 * return next.infer(input, capTimeout(options, 250));
 */
export function capTimeout(options: InferOptions | undefined, timeoutMs: number): InferOptions {
  if (options === undefined) return { timeoutMs };
  if (options.timeoutMs !== undefined && options.timeoutMs <= timeoutMs) return options;
  return scopedCopy(options, options.deadline, scopeOf(options), timeoutMs);
}

/**
 * State shared by the attempts of one logical call: a layer that calls the model below it more
 * than once for one call (a retry, a hedge) gives every attempt options carrying the same memo,
 * and a layer below keys what it must remember across attempts on itself (a balancer keeps the
 * endpoints that failed or still work on the call, so the next attempt goes elsewhere).
 */
export type AttemptMemo = Map<object, unknown>;

/**
 * The attempt memo the options carry, or `undefined` when the call is not re-attempted by any
 * layer above (see {@link withAttemptMemo}).
 *
 * @example
 * const tried = attemptMemo(options)?.get(myLayer) as Set<string> | undefined;
 */
export function attemptMemo(options: InferOptions | undefined): AttemptMemo | undefined {
  return (options as ScopedOptions | undefined)?.[ATTEMPTS];
}

/**
 * Options that carry an attempt memo: the same object when they already do (an outer layer's
 * logical call), else a cheap copy (scope, budget and other fields kept) with a new memo. A layer
 * that re-attempts calls passes the result to every attempt.
 *
 * @example
 * const attemptOptions = withAttemptMemo(options);
 * for (let attempt = 1; attempt <= 3; attempt++) { try { return await next.infer(input, attemptOptions); } catch {} }
 */
export function withAttemptMemo(options: InferOptions | undefined): InferOptions {
  if (options === undefined) {
    const fresh: ScopedOptions = {};
    fresh[ATTEMPTS] = new Map();
    return fresh;
  }
  if ((options as ScopedOptions)[ATTEMPTS] !== undefined) return options;
  const copy = scopedCopy(options, options.deadline, scopeOf(options), options.timeoutMs);
  copy[ATTEMPTS] = new Map();
  return copy;
}

/**
 * Gives `to` (options built field by field for a detached attempt) the attempt memo of `from`,
 * so the attempt still counts as part of the same logical call. Returns `to`.
 */
export function shareAttemptMemo(from: InferOptions | undefined, to: InferOptions): InferOptions {
  const memo = (from as ScopedOptions | undefined)?.[ATTEMPTS];
  if (memo !== undefined) (to as ScopedOptions)[ATTEMPTS] = memo;
  return to;
}

/**
 * @internal Opens the scope for a call: returns options carrying the scope, `undefined` when the
 * call needs no scope (no budget, no signal, no tracing), or the error when it is already over.
 */
export function enterScope(options: InferOptions | undefined, context: InferContext | undefined): ScopedOptions | BallastError | undefined {
  const outer = scopeOf(options);
  if (outer !== undefined) {
    const inner = options as InferOptions;
    // A layer inside the call may tighten the budget (never extend it).
    let deadline = outer.deadline;
    if (inner.deadline !== undefined && inner.deadline < deadline) deadline = inner.deadline;
    if (inner.timeoutMs !== undefined) {
      if (!(inner.timeoutMs >= 0)) return new BallastError('CONFIG', `timeoutMs must be a non-negative number, got ${inner.timeoutMs}`);
      deadline = Math.min(deadline, now() + inner.timeoutMs);
    }
    if (context === undefined && deadline === outer.deadline) return undefined;
    if (outer.done) return outer.callerSignal?.aborted ? cancelledError(outer.callerSignal.reason) : timeoutError();
    if (deadline !== outer.deadline && now() >= deadline) return timeoutError();
    return scopedCopy(
      inner,
      deadline === Number.POSITIVE_INFINITY ? undefined : deadline,
      new CallScope(deadline, undefined, outer, context),
    );
  }
  if (options === undefined) {
    if (context === undefined) return undefined;
    const traced: ScopedOptions = {};
    traced[SCOPE] = new CallScope(Number.POSITIVE_INFINITY, undefined, undefined, context);
    return traced;
  }
  const { timeoutMs, signal, deadline: given } = options;
  if (timeoutMs === undefined && signal === undefined && given === undefined && context === undefined) return undefined;
  if (signal?.aborted) return cancelledError(signal.reason);
  let deadline = given ?? Number.POSITIVE_INFINITY;
  // One clock read for the budget's checks and the scope (its guard starts the caller signal's
  // grace period from it): a call with neither budget nor signal needs none.
  const openedAt = timeoutMs !== undefined || deadline !== Number.POSITIVE_INFINITY || signal !== undefined ? now() : undefined;
  if (timeoutMs !== undefined) {
    if (!(timeoutMs >= 0)) return new BallastError('CONFIG', `timeoutMs must be a non-negative number, got ${timeoutMs}`);
    deadline = Math.min(deadline, (openedAt as number) + timeoutMs);
  }
  if (openedAt !== undefined && openedAt >= deadline) return timeoutError();
  const scope = new CallScope(deadline, signal, undefined, context, openedAt);
  return scopedCopy(options, deadline === Number.POSITIVE_INFINITY ? undefined : deadline, scope);
}

/** @internal Guards a promise with the scope stored in `scoped` (if it is the root scope). */
export function guardScoped<O>(scoped: ScopedOptions, work: Promise<O>): Promise<O> {
  const scope = scopeOf(scoped) as CallScope;
  // Nested scopes without a tighter budget leave racing to the scope that owns the deadline.
  return scope.guarding ? scope.guard(work) : work;
}

/** @internal For tests: how many calls the wheel guards now, and how many entries it holds. */
export function wheelStats(): { live: number; stored: number } {
  return { live: wheel.live, stored: wheel.size };
}
