import { annotate, doneError, now, withDeadline } from './deadline.js';
import { BallastError, toBallastError } from './errors.js';
import { channels } from './events.js';
import { callModelBatch, type InferOptions, type Model, markTypedFailures } from './model.js';
import { wrapModel } from './wrap-model.js';

/** Options of {@link batching}. */
export interface BatchingOptions<I = unknown> {
  /** Most items in one `inferBatch` call. Default 32. */
  maxBatchSize?: number;
  /** Longest an item waits for a batch to fill while another batch is in flight, ms. Default 2. */
  maxDelayMs?: number;
  /** Most items waiting (not yet dispatched); beyond it calls fail at once with `OVERLOADED`. Default 1024. */
  maxQueue?: number;
  /** Most `inferBatch` calls running at once. Default 1. */
  maxInFlight?: number;
  /**
   * Items with different keys never share a batch (for example inputs whose trailing shapes
   * differ). Default: one group.
   */
  groupBy?: (input: I) => string;
}

/** Capacity up to which an emptied queue takes new arrays instead of clearing its own (see drop). */
const FRESH_CAPACITY = 256;

/*
 * The calls waiting for a batch, oldest first, as parallel arrays in a ring: queueing a call
 * allocates nothing but its promise (no item object), and taking a batch moves nothing (no
 * splice of the rest). Both showed in a profile of `bench/onnx.ts` (256 single-row callers):
 * the item object and the splice cost about as much per row as the rest of the queue together.
 * Written here rather than taken from a library: it is the queue's own layout, 50 lines.
 */
class CallQueue<I, O> {
  inputs: (I | undefined)[] = new Array(16);
  options: (InferOptions | undefined)[] = new Array(16);
  enqueuedAt = new Float64Array(16);
  resolves: (((value: O) => void) | undefined)[] = new Array(16);
  rejects: (((error: unknown) => void) | undefined)[] = new Array(16);
  /** Index of the oldest call. */
  head = 0;
  length = 0;
  private mask = 15;

  /** Where the promise being made for a call puts its settle functions. */
  private slot = 0;
  /**
   * The executor of every call's promise (no closure per call): it puts the settle functions
   * straight into the call's slot. Handing them over through module variables instead cost
   * 11-15 ns more per call in `bench/_onnx-call-cost.ts` (three processes each way).
   */
  private readonly keepSettlers = (resolve: (value: O) => void, reject: (error: unknown) => void): void => {
    this.resolves[this.slot] = resolve;
    this.rejects[this.slot] = reject;
  };

  /** Queues a call and returns its promise. */
  push(input: I, options: InferOptions | undefined, at: number): Promise<O> {
    if (this.length > this.mask) this.grow();
    const k = (this.head + this.length) & this.mask;
    this.inputs[k] = input;
    this.options[k] = options;
    this.enqueuedAt[k] = at;
    this.slot = k;
    const promise = new Promise<O>(this.keepSettlers);
    this.length++;
    return promise;
  }

  /** Enqueue time of the oldest call (the queue must not be empty). */
  oldest(): number {
    return this.enqueuedAt[this.head] as number;
  }

  /** Index of the call `offset` places after the oldest. */
  at(offset: number): number {
    return (this.head + offset) & this.mask;
  }

  /** Forgets the oldest `count` calls (their slots are cleared so nothing is kept alive). */
  drop(count: number): void {
    if (count === this.length && this.mask < FRESH_CAPACITY) {
      // The batch took every call: the next calls go into new arrays instead of these being
      // cleared. That saves the clearing, and the calls' stores then go into arrays that are
      // still young: stored into arrays that lived long enough to be promoted, each new input and
      // settle function is also recorded in the garbage collector's remembered set. With 256
      // callers and 1 worker (every batch empties the queue), alternating rounds in one process
      // (21 pairs of 100,000 calls) gave medians of 1.037-1.052 new / old in four runs, against
      // 1.010-1.018 with the old code on both sides; on the main thread (the queue seldom
      // empties there) 1.000 and 1.002. `bench/_onnx-call-cost.ts`: 12 ns less to make a call.
      // A large queue is cleared as before, rather than reallocated per batch.
      const capacity = this.mask + 1;
      this.inputs = new Array(capacity);
      this.options = new Array(capacity);
      this.resolves = new Array(capacity);
      this.rejects = new Array(capacity);
      this.head = 0;
      this.length = 0;
      return;
    }
    for (let i = 0; i < count; i++) {
      const k = (this.head + i) & this.mask;
      this.inputs[k] = undefined;
      this.options[k] = undefined;
      this.resolves[k] = undefined;
      this.rejects[k] = undefined;
    }
    this.head = (this.head + count) & this.mask;
    this.length -= count;
  }

  private grow(): void {
    const capacity = (this.mask + 1) * 2;
    const inputs = new Array<I | undefined>(capacity);
    const options = new Array<InferOptions | undefined>(capacity);
    const enqueuedAt = new Float64Array(capacity);
    const resolves = new Array<((value: O) => void) | undefined>(capacity);
    const rejects = new Array<((error: unknown) => void) | undefined>(capacity);
    for (let i = 0; i < this.length; i++) {
      const k = (this.head + i) & this.mask;
      inputs[i] = this.inputs[k];
      options[i] = this.options[k];
      enqueuedAt[i] = this.enqueuedAt[k] as number;
      resolves[i] = this.resolves[k];
      rejects[i] = this.rejects[k];
    }
    this.inputs = inputs;
    this.options = options;
    this.enqueuedAt = enqueuedAt;
    this.resolves = resolves;
    this.rejects = rejects;
    this.head = 0;
    this.mask = capacity - 1;
  }
}

/*
 * The clock read for enqueue times, once per microtask checkpoint: calls arriving in the same
 * synchronous run of JavaScript (say, the callers a finished batch resumed) share one reading.
 * The error is at most the length of that run, which delays any timer by as much; reading the
 * clock for each call showed as a few percent of a batched call in a profile of `bench/onnx.ts`.
 */
let stamp = 0;
let stampFresh = false;
const expireStamp = (): void => {
  stampFresh = false;
};
function enqueueTime(): number {
  if (!stampFresh) {
    stamp = now();
    stampFresh = true;
    queueMicrotask(expireStamp);
  }
  return stamp;
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new BallastError('CONFIG', `batching: ${name} must be a positive integer, got ${value}`, { details: { path: name } });
  }
  return value;
}

/*
 * Why not dispatch on a fixed timer: at low load that adds maxDelayMs to every call. Instead a
 * batch goes out at once (on the next microtask, so callers of the same tick share it) when
 * nothing is in flight; while a batch runs, new items gather and go out when it completes, when
 * the batch is full, or after maxDelayMs if another in-flight slot is free. Under load the batch
 * size follows the model's own latency, which is what makes batching pay.
 */
class Batcher<I, O> {
  private readonly groups = new Map<string, CallQueue<I, O>>();
  /**
   * Without `groupBy` every item goes to this one queue, which stays in `groups` for good: no map
   * lookup per call (it showed in a profile of `bench/onnx.ts`).
   */
  private readonly single: CallQueue<I, O> | undefined;
  private queued = 0;
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushScheduled = false;
  private closing = false;
  private idleWaiters: (() => void)[] = [];
  private meanBatchMs = 1;

  constructor(
    private readonly next: Model<I, O> & { inferBatch: NonNullable<Model<I, O>['inferBatch']> },
    private readonly maxBatchSize: number,
    private readonly maxDelayMs: number,
    private readonly maxQueue: number,
    private readonly maxInFlight: number,
    private readonly groupBy: ((input: I) => string) | undefined,
  ) {
    if (groupBy === undefined) {
      this.single = new CallQueue<I, O>();
      this.groups.set('', this.single);
    }
  }

  infer(input: I, options: InferOptions | undefined): Promise<O> {
    if (this.closing) return Promise.reject(new BallastError('MODEL_UNAVAILABLE', `model "${this.next.name}" is closing`));
    const early = doneError(options);
    if (early) return Promise.reject(early);
    if (this.queued >= this.maxQueue) {
      if (channels.rejection.hasSubscribers) {
        channels.rejection.publish({ model: this.next.name, code: 'OVERLOADED', source: 'batching' });
      }
      const retryAfterMs = Math.max(1, Math.ceil((this.meanBatchMs * Math.ceil(this.queued / this.maxBatchSize)) / this.maxInFlight));
      return Promise.reject(
        new BallastError('OVERLOADED', `batch queue of "${this.next.name}" is full (${this.maxQueue} waiting)`, {
          retryAfterMs,
          details: { queued: this.queued, maxQueue: this.maxQueue },
        }),
      );
    }
    let queue = this.single;
    if (queue === undefined) {
      let key: string;
      try {
        key = (this.groupBy as (input: I) => string)(input);
      } catch (error) {
        return Promise.reject(new BallastError('INVALID_INPUT', 'batching: groupBy failed on this input', { cause: error }));
      }
      queue = this.groups.get(key);
      if (queue === undefined) {
        queue = new CallQueue<I, O>();
        this.groups.set(key, queue);
      }
    }
    const promise = queue.push(input, options, enqueueTime());
    this.queued++;
    this.schedule(queue);
    return promise;
  }

  private schedule(queue: CallQueue<I, O>): void {
    if (this.inFlight >= this.maxInFlight) return; // a completing batch pumps the queue
    if (queue.length >= this.maxBatchSize) {
      this.dispatch(queue);
      return;
    }
    if (this.inFlight === 0) {
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        queueMicrotask(this.flush);
      }
      return;
    }
    this.armTimer();
  }

  private armTimer(): void {
    if (this.timer !== undefined || this.queued === 0) return;
    const oldest = this.oldestGroup();
    const waited = oldest ? now() - oldest.oldest() : 0;
    this.timer = setTimeout(this.onTimer, Math.max(0, this.maxDelayMs - waited));
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    this.pump(true);
  };

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.pump(true);
  };

  private oldestGroup(): CallQueue<I, O> | undefined {
    let oldest: CallQueue<I, O> | undefined;
    for (const queue of this.groups.values()) {
      if (queue.length === 0) continue;
      if (oldest === undefined || queue.oldest() < oldest.oldest()) oldest = queue;
    }
    return oldest;
  }

  private fullGroup(): CallQueue<I, O> | undefined {
    for (const queue of this.groups.values()) if (queue.length >= this.maxBatchSize) return queue;
    return undefined;
  }

  /** Dispatches what may go now: full batches always, one partial batch when `partial`. */
  private pump(partial: boolean): void {
    let allowPartial = partial || this.inFlight === 0 || this.closing;
    while (this.inFlight < this.maxInFlight && this.queued > 0) {
      let queue = this.fullGroup();
      if (queue === undefined && allowPartial) {
        queue = this.oldestGroup();
        // After one partial batch, the rest waits to fill or for maxDelayMs (unless draining).
        allowPartial = this.closing || this.inFlight === 0;
      }
      if (queue === undefined) break;
      this.dispatch(queue);
    }
    if (this.queued > 0 && this.inFlight < this.maxInFlight) this.armTimer();
    if (this.queued === 0 && this.inFlight === 0) this.notifyIdle();
  }

  private dispatch(queue: CallQueue<I, O>): void {
    // One pass over the calls: cancelled or expired ones fail here, the others join the batch.
    const started = now();
    // Sized once for the calls that can join (no growth while they are added); trimmed below
    // when some were cancelled or expired.
    const capacity = Math.min(queue.length, this.maxBatchSize);
    const inputs = new Array<I>(capacity);
    const resolves = new Array<(value: O) => void>(capacity);
    const rejects = new Array<(error: unknown) => void>(capacity);
    let size = 0;
    // The options of the calls that have them, to record the batch size on once it is known.
    let withOptions: InferOptions[] | undefined;
    let taken = 0;
    let waitSum = 0;
    let waitMax = 0;
    let deadline = 0;
    const available = queue.length;
    while (size < capacity && taken < available) {
      const k = queue.at(taken++);
      const options = queue.options[k];
      if (options === undefined) deadline = Number.POSITIVE_INFINITY;
      else {
        const gone = doneError(options);
        if (gone) {
          (queue.rejects[k] as (error: unknown) => void)(gone);
          continue;
        }
        if (withOptions === undefined) withOptions = [options];
        else withOptions.push(options);
        const d = options.deadline ?? Number.POSITIVE_INFINITY;
        if (d > deadline) deadline = d;
      }
      inputs[size] = queue.inputs[k] as I;
      resolves[size] = queue.resolves[k] as (value: O) => void;
      rejects[size] = queue.rejects[k] as (error: unknown) => void;
      size++;
      const wait = started - (queue.enqueuedAt[k] as number);
      waitSum += wait;
      if (wait > waitMax) waitMax = wait;
    }
    queue.drop(taken);
    this.queued -= taken;
    if (this.single === undefined) for (const [key, q] of this.groups) if (q.length === 0) this.groups.delete(key);
    if (size === 0) return;
    if (size < capacity) {
      inputs.length = size;
      resolves.length = size;
      rejects.length = size;
    }

    this.inFlight++;
    // The call's own record of the batch it ran in (the `ballast.batch.size` trace attribute).
    if (withOptions !== undefined) for (const options of withOptions) annotate(options, 'ballast.batch.size', size);
    const model = this.next.name;
    if (channels.batch.hasSubscribers) {
      channels.batch.publish({
        model,
        size,
        queueWaitMs: waitSum / size,
        maxQueueWaitMs: waitMax,
        queued: this.queued,
        phase: 'dispatch',
      });
    }
    const batchOptions: InferOptions = deadline === Number.POSITIVE_INFINITY ? {} : { deadline };
    callModelBatch(this.next, inputs, batchOptions).then(
      (results) => {
        if (!Array.isArray(results) || results.length !== size) {
          const got = Array.isArray(results) ? `${results.length} results` : typeof results;
          const error = new BallastError('UPSTREAM', `inferBatch of "${model}" returned ${got} for ${size} inputs`, {
            details: { expected: size, received: Array.isArray(results) ? results.length : null },
          });
          for (const reject of rejects) reject(error);
          this.complete(started, size, waitSum, waitMax, true);
          return;
        }
        for (let i = 0; i < size; i++) (resolves[i] as (value: O) => void)(results[i] as O);
        this.complete(started, size, waitSum, waitMax, false);
      },
      (failure) => {
        // Classified once for the whole batch: every rejection of this layer is a BallastError,
        // so pipeline() need not classify each call (see markTypedFailures).
        const error = toBallastError(failure);
        for (const reject of rejects) reject(error);
        this.complete(started, size, waitSum, waitMax, true);
      },
    );
  }

  private complete(started: number, size: number, waitSum: number, waitMax: number, failed: boolean): void {
    const durationMs = now() - started;
    this.meanBatchMs = 0.8 * this.meanBatchMs + 0.2 * durationMs;
    this.inFlight--;
    if (channels.batch.hasSubscribers) {
      channels.batch.publish({
        model: this.next.name,
        size,
        queueWaitMs: waitSum / size,
        maxQueueWaitMs: waitMax,
        queued: this.queued,
        durationMs,
        phase: 'complete',
        failed,
      });
    }
    this.pump(this.inFlight === 0);
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.queued > 0 || this.inFlight > 0) {
      const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      this.pump(true);
      await idle;
    }
    await this.next.close?.();
  }
}

/**
 * Groups concurrent `infer` calls into `inferBatch` calls of a natively batchable model.
 *
 * A batch is dispatched when it is full, after `maxDelayMs` while another batch is in flight, and
 * at once when nothing is in flight, so a lone caller waits for nothing. Cancelled or expired
 * items are dropped before dispatch (`CANCELLED`/`TIMEOUT`); if `inferBatch` fails, every item of
 * that batch fails with its error, classified once by `toBallastError` (so every rejection is a
 * `BallastError` and the model is marked with `markTypedFailures`); a wrong number of results fails every item with `UPSTREAM`;
 * a full queue fails at once with `OVERLOADED` and a `retryAfterMs` estimate. Items are served
 * in arrival order (`priority` is not used). Publishes `ballast:batch` events, and records on each
 * traced call the size of the batch it ran in (the `ballast.batch.size` attribute).
 *
 * @example
 * const model = pipeline(onnxLikeModel, batching({ maxBatchSize: 64, maxDelayMs: 1 }));
 * const outputs = await Promise.all(rows.map((row) => model.infer(row)));
 */
export function batching<I = unknown>(options: BatchingOptions<I> = {}): <In, Out>(next: Model<In, Out>) => Model<In, Out> {
  const maxBatchSize = positiveInteger(options.maxBatchSize, 32, 'maxBatchSize');
  const maxQueue = positiveInteger(options.maxQueue, 1024, 'maxQueue');
  const maxInFlight = positiveInteger(options.maxInFlight, 1, 'maxInFlight');
  const maxDelayMs = options.maxDelayMs ?? 2;
  if (!(maxDelayMs >= 0) || !Number.isFinite(maxDelayMs)) {
    throw new BallastError('CONFIG', `batching: maxDelayMs must be a finite number >= 0, got ${maxDelayMs}`, {
      details: { path: 'maxDelayMs' },
    });
  }
  return function batchingMiddleware<In, Out>(next: Model<In, Out>): Model<In, Out> {
    if (typeof next.inferBatch !== 'function') {
      throw new BallastError('CONFIG', `batching: model "${next.name}" has no inferBatch()`);
    }
    const batcher = new Batcher<In, Out>(
      next as Model<In, Out> & { inferBatch: NonNullable<Model<In, Out>['inferBatch']> },
      maxBatchSize,
      maxDelayMs,
      maxQueue,
      maxInFlight,
      options.groupBy as ((input: In) => string) | undefined,
    );
    const enqueue = (input: In) => (scoped: InferOptions | undefined) => batcher.infer(input, scoped);
    const model = wrapModel(next, {
      infer(input: In, callOptions?: InferOptions): Promise<Out> {
        // Standalone use still honours the budget; under pipeline() the outer scope already does.
        if (callOptions === undefined) return batcher.infer(input, undefined);
        return withDeadline(callOptions, enqueue(input));
      },
      inferBatch: (inputs, callOptions) => next.inferBatch?.(inputs, callOptions) as Promise<Out[]>,
      close: () => batcher.close(),
    });
    // Everything this layer rejects with is a BallastError (the batch's failure is classified
    // once, in dispatch), so pipeline() skips its per-call classification.
    return markTypedFailures(model);
  };
}
