import { cancelledError, deadlineOf, now, timeoutError } from './deadline.js';
import { BallastError, isBallastError, toBallastError } from './errors.js';
import { channels } from './events.js';
import type { InferOptions } from './model.js';

/*
 * The stream contract.
 *
 * `model.stream(input, options)` answers at once with a ModelStream: an AsyncIterable of chunks
 * that also carries `result`, a promise of the final output and usage. Nothing is sent upstream
 * until the caller starts iterating. The stream ends in exactly one of three ways:
 *
 * - completed: the iteration finishes; `result` resolves with `{ output, usage }`.
 * - failed: the iteration throws a BallastError; `result` rejects with the same error.
 * - cancelled: the caller leaves the `for await` loop (break, return, throw), or aborts its
 *   signal; the upstream is aborted at once and `result` rejects with `CANCELLED`.
 *
 * `result` never causes an unhandled rejection: a caller that does not await it loses nothing.
 * A stream is iterated once; a second iteration fails with `INVALID_INPUT`.
 */

/** One piece of a streamed answer. */
export interface Chunk {
  /** Text the chunk adds to the answer (chat and completion models). Concatenated, the texts make the answer. */
  readonly text?: string;
  /** The model's own payload for the chunk (a raw delta, a tool-call fragment, a tensor slice). */
  readonly data?: unknown;
}

/** Token or unit usage a model reports. */
export interface Usage {
  /** Tokens (units) read: the prompt. */
  readonly inputTokens?: number;
  /** Tokens (units) written: the answer. */
  readonly outputTokens?: number;
  /** Both together, when the model reports it. */
  readonly totalTokens?: number;
}

/** What a completed stream ends with. */
export interface StreamResult<O> {
  /** The whole answer, as `infer` would have returned it. */
  readonly output: O;
  /** Usage reported by the model, when it reports any. */
  readonly usage?: Usage;
}

/** What `model.stream()` answers: the chunks, and the final result once the stream has ended. */
export interface ModelStream<O = unknown> extends AsyncIterable<Chunk> {
  /**
   * Settles when the stream ends: resolves with the output and usage when it completed, rejects
   * with the stream's error when it failed, with `CANCELLED` when the caller stopped reading.
   * Marked handled: not awaiting it causes no unhandled rejection.
   */
  readonly result: Promise<StreamResult<O>>;
}

/**
 * What produces a stream's chunks: an async generator that yields chunks and *returns* the final
 * {@link StreamResult} (or nothing: the output is then the chunks' texts concatenated). It gets a
 * signal that aborts when the caller leaves the loop, aborts its own signal, or the budget ends.
 */
export type StreamSource<O> = (signal: AbortSignal) => AsyncGenerator<Chunk, SourceReturn<O>, undefined>;

/** What a stream's source generator returns: the result, or nothing (a generator without `return`). */
// biome-ignore lint/suspicious/noConfusingVoidType: a generator with no return statement is typed as returning void
export type SourceReturn<O> = StreamResult<O> | undefined | void;

/** Options of {@link createStream}. */
export interface CreateStreamOptions {
  /** The caller's options: `signal` cancels the stream; `timeoutMs`/`deadline` bound the whole stream. */
  options?: InferOptions | undefined;
  /** Model name for the `ballast:stream` events. Without it no event is published. */
  model?: string;
  /**
   * The generative-AI operation of the stream (`chat`, `text_completion`), from the model's
   * `operation`. Its events then carry it, and every chunk after the first is reported too
   * (`phase: 'chunk'`) for the time-per-chunk metric.
   */
  operation?: string;
  /** Who serves the model (`openai`, ...), from the model's `provider`; carried by the events. */
  provider?: string;
}

/** Payload of `ballast:stream`: a stream's start, its first chunk, and its end. */
export interface StreamEvent {
  /** Model name. */
  model: string;
  /** Identifies the stream among those in flight: the same on every event of one stream. */
  id: number;
  /**
   * `start` (iteration began), `first-chunk`, `chunk` (each later chunk, only for streams of a
   * GenAI `operation`), or `end`.
   */
  phase: 'start' | 'first-chunk' | 'chunk' | 'end';
  /** The model's GenAI operation (`chat`, `text_completion`), when it declares one. */
  operation?: string;
  /** Who serves the model (`openai`, ...), when it declares it. */
  provider?: string;
  /** The output of a completed stream (`end`). */
  output?: unknown;
  /** Milliseconds since `start` (`first-chunk`, `end`). */
  elapsedMs?: number;
  /** Chunks delivered so far (`end`). */
  chunks?: number;
  /** How it ended: `completed`, `failed` or `cancelled` (`end`). */
  outcome?: 'completed' | 'failed' | 'cancelled';
  /** Usage, when the model reported it (`end`). */
  usage?: Usage;
  /** The error of a failed or cancelled stream (`end`). */
  error?: unknown;
}

const noop = (): void => {};
let lastStreamId = 0;

// The Promise executor of a read is one shared function (not a closure per chunk): it hands the
// resolvers to the stream being read, set just before and cleared just after.
let capturing: SourceStream<unknown> | undefined;
function captureStep(resolve: (step: IteratorResult<Chunk>) => void, reject: (error: unknown) => void): void {
  (capturing as SourceStream<unknown>).setPending(resolve, reject);
}

/*
 * The one implementation of ModelStream. Written as a class with an explicit iterator (not an
 * async generator wrapping an async generator) so a chunk costs one promise per layer, and so a
 * pending `next()` can be failed at once when the signal aborts: a source that ignores its
 * signal (a plain generator awaiting something slow) still cannot hold the caller.
 */
class SourceStream<O> implements ModelStream<O>, AsyncIterator<Chunk> {
  readonly result: Promise<StreamResult<O>>;
  private resolveResult!: (value: StreamResult<O>) => void;
  private rejectResult!: (error: unknown) => void;
  private readonly controller = new AbortController();
  private generator: AsyncGenerator<Chunk, SourceReturn<O>, undefined> | undefined;
  private iterated = false;
  private ended = false;
  // The error a stream failed with, handed to the caller's next read if no read was pending then
  // (an abort between two reads must not look like a completed stream).
  private failure: BallastError | undefined;
  private failureDelivered = false;
  private pendingResolve: ((step: IteratorResult<Chunk>) => void) | undefined;
  private pendingReject: ((error: unknown) => void) | undefined;
  private pending: Promise<IteratorResult<Chunk>> | undefined;
  private texts: string[] | undefined = [];
  private chunks = 0;
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private callerSignal: AbortSignal | undefined;
  private readonly id = ++lastStreamId;
  private readonly operation: string | undefined;
  private readonly provider: string | undefined;
  private lastChunkAt = 0;

  constructor(
    private readonly source: StreamSource<O>,
    private readonly options: InferOptions | undefined,
    private readonly model: string | undefined,
    identity?: CreateStreamOptions,
  ) {
    this.operation = identity?.operation;
    this.provider = identity?.provider;
    this.result = new Promise<StreamResult<O>>((resolve, reject) => {
      this.resolveResult = resolve;
      this.rejectResult = reject;
    });
    this.result.catch(noop);
  }

  [Symbol.asyncIterator](): AsyncIterator<Chunk> {
    if (this.iterated) throw new BallastError('INVALID_INPUT', 'a model stream can be iterated only once');
    this.iterated = true;
    return this;
  }

  /** The signal the source sees: aborts on leaving the loop, the caller's abort, or the budget's end. */
  private start(): void {
    this.startedAt = now();
    const signal = this.options?.signal;
    if (signal !== undefined) {
      if (signal.aborted) {
        this.abort(isBallastError(signal.reason) ? signal.reason : cancelledError(signal.reason));
      } else {
        this.callerSignal = signal;
        signal.addEventListener('abort', this, { once: true });
      }
    }
    const deadline = deadlineOf(this.options);
    if (deadline !== Number.POSITIVE_INFINITY && !this.controller.signal.aborted) {
      const wait = deadline - now();
      if (wait <= 0) this.abort(timeoutError({ phase: 'stream' }));
      else this.timer = setTimeout(() => this.abort(timeoutError({ phase: 'stream' })), wait);
    }
    if (this.model !== undefined && channels.stream.hasSubscribers) {
      const event: StreamEvent = { model: this.model, id: this.id, phase: 'start' };
      if (this.operation !== undefined) event.operation = this.operation;
      if (this.provider !== undefined) event.provider = this.provider;
      channels.stream.publish(event);
    }
    this.generator = this.source(this.controller.signal);
  }

  /**
   * The caller's signal aborted (an object listener: no closure per stream). A layer above that
   * aborts with a BallastError (an idle or first-chunk TIMEOUT) is answered with that error.
   */
  handleEvent(): void {
    const reason = this.callerSignal?.reason;
    this.abort(isBallastError(reason) ? reason : cancelledError(reason));
  }

  private abort(error: BallastError): void {
    if (this.controller.signal.aborted) return;
    this.controller.abort(error);
    const reject = this.pendingReject;
    this.pendingReject = undefined;
    this.pendingResolve = undefined;
    this.pending = undefined;
    if (reject) this.failureDelivered = true;
    this.fail(error).then(undefined, reject ?? noop);
  }

  next(): Promise<IteratorResult<Chunk>> {
    if (this.generator === undefined && !this.ended) this.start();
    if (this.ended) {
      if (this.failure === undefined || this.failureDelivered) return Promise.resolve({ done: true, value: undefined });
      this.failureDelivered = true;
      return Promise.reject(this.failure);
    }
    // A read while another is pending (not what for-await does) waits for it.
    if (this.pending !== undefined) return this.pending.then(this.readAgain, this.readAgain);
    capturing = this as SourceStream<unknown>;
    const promise = new Promise<IteratorResult<Chunk>>(captureStep);
    capturing = undefined;
    this.pending = promise;
    (this.generator as AsyncGenerator<Chunk, SourceReturn<O>, undefined>).next().then(this.onStep, this.onError);
    return promise;
  }

  /** @internal Used by the shared Promise executor. */
  setPending(resolve: (step: IteratorResult<Chunk>) => void, reject: (error: unknown) => void): void {
    this.pendingResolve = resolve;
    this.pendingReject = reject;
  }

  private readonly readAgain = (): Promise<IteratorResult<Chunk>> => this.next();

  // Bound once per stream: a chunk costs one promise here, no closure.
  private readonly onStep = (step: IteratorResult<Chunk, SourceReturn<O>>): void => {
    const resolve = this.pendingResolve;
    if (resolve === undefined) return; // already failed by an abort
    this.pendingResolve = undefined;
    this.pendingReject = undefined;
    this.pending = undefined;
    if (step.done) {
      this.complete(step.value);
      resolve({ done: true, value: undefined });
      return;
    }
    const chunk = step.value;
    if (this.model !== undefined && channels.stream.hasSubscribers) {
      if (this.chunks === 0) {
        this.lastChunkAt = now();
        channels.stream.publish({ model: this.model, id: this.id, phase: 'first-chunk', elapsedMs: this.lastChunkAt - this.startedAt });
      } else if (this.operation !== undefined) {
        // GenAI streams only: the time-per-output-chunk metric needs every gap.
        const at = now();
        channels.stream.publish({ model: this.model, id: this.id, phase: 'chunk', elapsedMs: at - this.lastChunkAt });
        this.lastChunkAt = at;
      }
    }
    this.chunks++;
    if (this.texts !== undefined && typeof chunk.text === 'string') this.texts.push(chunk.text);
    resolve(step);
  };

  private readonly onError = (error: unknown): void => {
    const reject = this.pendingReject;
    if (reject === undefined) return;
    this.pendingResolve = undefined;
    this.pendingReject = undefined;
    this.pending = undefined;
    this.failureDelivered = true;
    this.fail(error).then(undefined, reject);
  };

  /** The caller left the loop early: abort the upstream and end as cancelled. */
  return(): Promise<IteratorResult<Chunk>> {
    if (!this.ended) this.abort(cancelledError('the caller stopped reading the stream'));
    this.failureDelivered = true;
    return Promise.resolve({ done: true, value: undefined });
  }

  private complete(value: SourceReturn<O>): void {
    const result = value ?? ({ output: (this.texts ?? []).join('') as O } as StreamResult<O>);
    this.texts = undefined;
    if (this.ended) return;
    this.ended = true;
    this.finish();
    if (this.model !== undefined && channels.stream.hasSubscribers) {
      channels.stream.publish({
        model: this.model,
        id: this.id,
        phase: 'end',
        outcome: 'completed',
        output: result.output,
        elapsedMs: now() - this.startedAt,
        chunks: this.chunks,
        ...(result.usage ? { usage: result.usage } : {}),
      });
    }
    this.resolveResult(result);
  }

  private fail(thrown: unknown): Promise<never> {
    const error = toBallastError(thrown);
    if (!this.ended) {
      this.end(error.code === 'CANCELLED' ? 'cancelled' : 'failed', error);
      // Let the source run its `finally` (close sockets, release slots) without holding the caller.
      this.generator?.return(undefined).then(noop, noop);
    }
    return Promise.reject(error);
  }

  private end(outcome: 'failed' | 'cancelled', error: BallastError): void {
    this.ended = true;
    this.failure = error;
    this.texts = undefined;
    this.finish();
    if (this.model !== undefined && channels.stream.hasSubscribers) {
      channels.stream.publish({
        model: this.model,
        id: this.id,
        phase: 'end',
        outcome,
        elapsedMs: now() - this.startedAt,
        chunks: this.chunks,
        error,
      });
    }
    this.rejectResult(error);
  }

  private finish(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.callerSignal !== undefined) this.callerSignal.removeEventListener('abort', this);
    this.callerSignal = undefined;
  }
}

/**
 * Builds a {@link ModelStream} from an async generator (see {@link StreamSource}). The stream
 * starts on the first `next()`, aborts the source's signal when the caller leaves the loop, aborts
 * its own signal or runs out of its `timeoutMs`/`deadline`, fails a pending `next()` at once in
 * those cases, classifies errors as BallastErrors, and settles `result`. Models and layers build
 * their streams with it; `defineModel({ stream })` and `pipeline()` do it for you.
 *
 * @example
 * const stream = createStream(async function* (signal) {
 *   yield { text: 'Hello, ' };
 *   yield { text: 'world' };
 *   return { output: 'Hello, world', usage: { outputTokens: 2 } };
 * });
 * for await (const chunk of stream) process.stdout.write(chunk.text ?? '');
 * const { usage } = await stream.result;
 */
export function createStream<O>(source: StreamSource<O>, options: CreateStreamOptions = {}): ModelStream<O> {
  return new SourceStream(source, options.options, options.model, options);
}

/**
 * Reads a stream to its end and answers its result: `infer` for a model that only streams.
 *
 * @example
 * const { output, usage } = await collectStream(model.stream(input));
 */
export async function collectStream<O>(stream: ModelStream<O>): Promise<StreamResult<O>> {
  for await (const _chunk of stream) {
    // Draining; the result carries the whole answer.
  }
  return stream.result;
}

/** Whether `value` has the shape of a {@link ModelStream}. */
export function isModelStream(value: unknown): value is ModelStream {
  return (
    typeof (value as { [Symbol.asyncIterator]?: unknown } | null)?.[Symbol.asyncIterator] === 'function' &&
    (value as { result?: unknown }).result instanceof Promise
  );
}
