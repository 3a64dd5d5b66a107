import type { IncomingMessage } from 'node:http';
import { atDeadline, BallastError, type DeadlineEntry, promised, timeoutError } from '@ballast/core';
import { BODY_TIMEOUT_REASON } from './error-answer.js';
import { parseV2Body, V2_HEADER_LENGTH } from './v2-wire.js';

/**
 * Reads a JSON request body from a Node request stream, at most `limitBytes` (413
 * `PAYLOAD_TOO_LARGE` as soon as `content-length` or the bytes received pass it), whatever the
 * content type says (v2 clients do not all send one). Integers beyond 2^53 stay exact (`bigint`,
 * see `parseExactJson`); a request with `Inference-Header-Content-Length` (the binary tensor data
 * extension) resolves to a `V2BinaryBody` (its JSON header and the bytes after it), under the same
 * limit and deadline. Malformed JSON is `INVALID_INPUT`
 * (`details.reason` `malformed-json`); a body still arriving at `deadline` (`performance.now()`
 * clock) is `TIMEOUT` answered 408. Every adapter's v2 infer route reads its body with it (Fastify
 * through its content-type parser, Express and Nest when no parser of the app read it first).
 *
 * Written here rather than taken from `raw-body`: the only parts needed are a byte cap and
 * the parse, and the deadline uses core's timer wheel (no timer per request).
 *
 * @example
 * const body = await readJsonBody(request.raw, 1_048_576, performance.now() + 30_000);
 */
export function readJsonBody(stream: IncomingMessage, limitBytes: number, deadline?: number): Promise<unknown> {
  return promised(() => readJsonBodyNow(stream, limitBytes, deadline));
}

/**
 * {@link readJsonBody} without a promise where none is needed: a body received in full is
 * parsed and returned at once (a malformed or too large one throws at once); a body still
 * arriving is a promise, as from `readJsonBody`.
 *
 * @example
 * const read = readJsonBodyNow(request, 1_048_576, performance.now() + 30_000);
 * const body = read instanceof Promise ? await read : read;
 */
export function readJsonBodyNow(stream: IncomingMessage, limitBytes: number, deadline?: number): unknown {
  const declared = Number(stream.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) {
    stream.resume();
    throw tooLarge(limitBytes, declared);
  }
  if (bufferedInFull(stream, declared)) return readBuffered(stream, limitBytes);
  // A route's handler runs as soon as Node's HTTP parser has the headers, and a small body sent
  // with them is pushed right after, in the same pass over the packet, before any microtask runs:
  // one microtask later such a body is buffered in full, and taking it then costs far less than
  // listening for it (listeners, `data` and `end` events and their ticks: 6-12 µs of a request's
  // CPU over HTTP in a server without a guard). A body still missing then is listened for.
  if (!stream.complete && stream.readableLength === 0 && stream.readableFlowing !== true) {
    return Promise.resolve().then(() =>
      bufferedInFull(stream, declared) ? readBuffered(stream, limitBytes) : listen(stream, limitBytes, deadline),
    );
  }
  return listen(stream, limitBytes, deadline);
}

/*
 * A body received in full and not read yet is taken from the stream's buffer at once: no
 * listeners, no promise of its own, none of the ticks a paused stream takes to start flowing and
 * end, and no deadline for a read that cannot wait. In full: the message is complete, or every
 * byte its `content-length` declares is buffered.
 */
function bufferedInFull(stream: IncomingMessage, declared: number): boolean {
  return (
    stream.readableFlowing !== true &&
    !stream.readableEnded &&
    stream.readableEncoding === null &&
    (stream.complete || (stream.readableLength === declared && stream.headers['transfer-encoding'] === undefined))
  );
}

function listen(stream: IncomingMessage, limitBytes: number, deadline: number | undefined): Promise<unknown> {
  let read: BodyRead | undefined;
  const reading = new Promise<unknown>((resolve, reject) => {
    read = new BodyRead(stream as Reading, limitBytes, resolve, reject);
    (stream as Reading)[READ] = read;
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('aborted', onError);
  });
  // The deadline is an entry on core's timer wheel (no timer, promise or closure of its own).
  if (deadline !== undefined && !stream.complete) atDeadline(read as BodyRead, deadline);
  return reading;
}

// The read's state lives on the stream and the listeners are module-level functions (called with
// the stream as `this`): no closure per request on the infer route.
const READ = Symbol('ballast.readJsonBody');

/** A body being read: its chunks so far, how it settles, and its deadline's wheel entry. */
class BodyRead implements DeadlineEntry {
  chunks: Buffer[] = [];
  length = 0;
  done = false;

  constructor(
    readonly stream: Reading,
    readonly limitBytes: number,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: unknown) => void,
  ) {}

  // The deadline passed with the body still arriving: 408 (`body-timeout`), unless the whole body
  // is in and only its end is still to be reported (then a plain timeout, as for the call).
  onWheel(): void {
    if (this.done) return;
    const stream = this.stream;
    finish(stream);
    this.reject(
      stream.complete
        ? timeoutError()
        : new BallastError('TIMEOUT', 'the request body did not arrive within the time budget', {
            details: { reason: BODY_TIMEOUT_REASON },
          }),
    );
  }
}

type Reading = IncomingMessage & { [READ]?: BodyRead | undefined };

const NO_BYTES = Buffer.alloc(0);

function readBuffered(stream: IncomingMessage, limitBytes: number): unknown {
  // `read()` on a paused stream hands back everything buffered as one Buffer (`null` when empty);
  // with the body complete that is the whole body, and the stream then ends as usual.
  const bytes = (stream.read() as Buffer | null) ?? NO_BYTES;
  // Once complete, that read ends the stream; before, it ends when the parser reports the end,
  // and only a flowing stream emits `end` then by itself.
  if (!stream.complete) stream.resume();
  if (bytes.length > limitBytes) throw tooLarge(limitBytes, bytes.length);
  return parseV2Body(bytes, stream.headers[V2_HEADER_LENGTH]);
}

function finish(stream: Reading): BodyRead | undefined {
  const state = stream[READ];
  stream[READ] = undefined;
  if (state !== undefined) state.done = true;
  stream.off('data', onData);
  stream.off('end', onEnd);
  stream.off('error', onError);
  stream.off('aborted', onError);
  return state;
}

function onData(this: Reading, chunk: Buffer): void {
  const state = this[READ];
  if (state === undefined) return;
  state.length += chunk.length;
  if (state.length > state.limitBytes) {
    finish(this);
    this.resume();
    state.reject(tooLarge(state.limitBytes, state.length));
    return;
  }
  state.chunks.push(chunk);
}

function onEnd(this: Reading): void {
  const state = finish(this);
  if (state === undefined) return;
  const bytes = state.chunks.length === 1 ? (state.chunks[0] as Buffer) : Buffer.concat(state.chunks, state.length);
  try {
    state.resolve(parseV2Body(bytes, this.headers[V2_HEADER_LENGTH]));
  } catch (error) {
    state.reject(error);
  }
}

function onError(this: Reading, error?: Error): void {
  const state = finish(this);
  state?.reject(new BallastError('CANCELLED', 'the request body was not received', { cause: error }));
}

function tooLarge(limitBytes: number, lengthBytes: number): BallastError {
  return new BallastError('PAYLOAD_TOO_LARGE', 'the request body is too large', { details: { limitBytes, lengthBytes } });
}
