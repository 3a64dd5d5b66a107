import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BallastError, Chunk, ModelStream, StreamResult, Usage } from '@ballast/core';
import { errorBody, toHttpError } from './error-answer.js';

/*
 * Server-Sent Events for a model stream. Written here (a few lines over `ServerResponse`) rather
 * than with an SSE library: the server side of the format is `data: <json>\n\n`, and the core needs
 * to hold the headers back until the first chunk (so a failure before it still answers a JSON
 * error with its status), which the Node SSE servers on the registry do not offer.
 */

/** How a served stream ended (see {@link sendEventStream}). */
export interface EventStreamOutcome {
  /** The usage the model reported (completed streams that report any). */
  usage?: Usage;
  /** The error that ended the stream after the headers were sent (sent as an `error` event unless the client was gone). */
  error?: BallastError;
  /** Chunk events written. */
  chunks: number;
}

/** How a stream's events are written (see {@link sendEventStream}; {@link openaiChatEvents} for OpenAI's framing). */
export interface EventStreamFormat {
  /** The event text (ending in a blank line) of one chunk. */
  chunk(chunk: Chunk): string;
  /** The event text that ends a completed stream. */
  end(result: StreamResult<unknown>): string;
  /** The event text of an error after the first chunk. */
  error(error: BallastError): string;
}

/**
 * Ballast's own framing: a `data:` event per chunk (`{ text }`, or `{ data }` for a chunk
 * without text), `event: end` with `{ usage }`, `event: error` with the error body.
 *
 * @example
 * await sendEventStream(response, stream, ballastEvents);
 */
export const ballastEvents: EventStreamFormat = Object.freeze({
  chunk: (chunk: Chunk) => `data: ${JSON.stringify(eventOf(chunk))}\n\n`,
  end: ({ usage }: StreamResult<unknown>) => `event: end\ndata: ${JSON.stringify(usage === undefined ? {} : { usage })}\n\n`,
  error: (error: BallastError) => `event: error\ndata: ${JSON.stringify(errorBody(error))}\n\n`,
});

/**
 * Whether the client asks for an event stream: a JSON body with `stream: true` (what OpenAI-style
 * clients send), or an `Accept` header naming `text/event-stream`.
 *
 * @example
 * if (wantsEventStream(request, body) && model.stream !== undefined) await sendEventStream(response, model.stream(input));
 */
export function wantsEventStream(request: IncomingMessage, body: unknown): boolean {
  if (typeof body === 'object' && body !== null && (body as { stream?: unknown }).stream === true) return true;
  const accept = request.headers.accept;
  return typeof accept === 'string' && accept.toLowerCase().includes('text/event-stream');
}

/**
 * What a chunk's event carries: `{ text }` for a chunk of text (a chat or completion delta);
 * `{ data }`, the model's own payload, for a chunk without text (a tool-call fragment). The raw
 * upstream payload of a text chunk stays on the server: it repeats the text and names the upstream.
 */
function eventOf(chunk: Chunk): { text: string } | { data: unknown } {
  return typeof chunk.text === 'string' ? { text: chunk.text } : { data: chunk.data ?? null };
}

/** Waits until `response` can take more, or is gone. */
async function writable(response: ServerResponse): Promise<void> {
  if (!response.writableNeedDrain || response.destroyed) return;
  await Promise.race([once(response, 'drain'), once(response, 'close')]);
}

/**
 * Answers `stream` as `text/event-stream`, in `format` (default {@link ballastEvents}): one
 * `data:` event per chunk (`{ text }`, or `{ data }` for a chunk without text), then `event: end` with `{ usage }` once the stream completed. The headers
 * wait for the first chunk: a stream that fails before it rejects with its error and writes
 * nothing, so the caller answers a JSON error with its status. A failure after the headers is
 * written as `event: error` with the error body (`{ error: { code, message } }`) and resolves with
 * that error. The stream is read at the client's pace (back-pressure), and a client that goes away
 * ends it through the call's signal: the stream's upstream is aborted with it.
 *
 * @example
 * const outcome = await sendEventStream(response, model.stream(input, call.options));
 * await sendEventStream(response, chat.stream(input), openaiChatEvents('small-model'));
 */
export async function sendEventStream(
  response: ServerResponse,
  stream: ModelStream,
  format: EventStreamFormat = ballastEvents,
): Promise<EventStreamOutcome> {
  const iterator = stream[Symbol.asyncIterator]();
  // Before the first chunk nothing is written: an error here is the caller's to answer.
  let step: IteratorResult<Chunk>;
  try {
    step = await iterator.next();
  } catch (error) {
    await iterator.return?.();
    throw error;
  }
  response.statusCode = 200;
  response.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  response.setHeader('Cache-Control', 'no-cache');
  // Proxies such as nginx buffer answers unless told not to.
  response.setHeader('X-Accel-Buffering', 'no');
  response.flushHeaders();
  let chunks = 0;
  try {
    while (step.done !== true) {
      if (response.destroyed) break;
      response.write(format.chunk(step.value));
      chunks++;
      await writable(response);
      step = await iterator.next();
    }
    if (response.destroyed) {
      await iterator.return?.();
      await stream.result;
    }
    const result = await stream.result;
    const usage = result.usage;
    response.end(format.end(result));
    return usage === undefined ? { chunks } : { usage, chunks };
  } catch (thrown) {
    const error = toHttpError(thrown);
    if (!response.destroyed) response.end(format.error(error));
    return { error, chunks };
  }
}
