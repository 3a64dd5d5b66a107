import { BallastError, type Model, now, pipeline, type Usage } from '@ballast/core';
import { type GuardAction, type GuardPrincipal, schemaError } from '@ballast/guard';
import {
  auditRequest,
  createCallState,
  type EventStreamFormat,
  openaiChatCompletion,
  openaiChatEvents,
  reportServedError,
  requestBudgetMs,
  sendEventStream,
  wantsEventStream,
} from '@ballast/serving';
import type { Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import { sendError } from './errors.js';
import { readJson, requestIdOf, type ServeOptions } from './http-context.js';

/** Options of {@link inferHandler}. */
export interface InferHandlerOptions<I = unknown, O = unknown, B = I> extends ServeOptions {
  /** A zod schema the JSON body must satisfy (violations answer 400 with field paths); its output is the body `input` receives. */
  schema?: z.ZodType<B>;
  /** The action the principal needs. Default `infer`. */
  action?: GuardAction;
  /** Builds the model input from the validated body (default: the body itself). */
  input?: (body: B, request: Request) => I;
  /** Builds the JSON answer from the model output (default: the output itself). */
  output?: (result: O, request: Request) => unknown;
  /**
   * Called with every error answered with a 5xx. Replaces the default report, which logs each 500
   * answer to stderr with its request id.
   */
  onError?: (error: BallastError, request: Request) => void;
  /**
   * How a streamed answer's events are written, made per request (a format may number its
   * events). Default Ballast's own (`ballastEvents` of @ballast/serving); `openaiChatEvents` writes
   * OpenAI's chat-completions framing (see {@link chatCompletionsHandler}).
   */
  events?: (request: Request) => EventStreamFormat;
}

/**
 * A route handler for an app's own JSON endpoint: authenticates, authorizes and rate-limits with
 * the guard, reads the JSON body (size-limited), validates it with `schema` and the guard's input
 * policy, calls the model under a time budget that the client's disconnect cancels, redacts the
 * output and answers JSON; errors answer with the Ballast status and `{ error }` body.
 *
 * When the client asks for a stream (`stream: true` in the body, or `Accept: text/event-stream`)
 * and the model has `stream()`, the answer is Server-Sent Events written by the serving core: one
 * `data:` event per chunk (`{ text }`, or `{ data }` for a chunk without text), `event: end` with `{ usage }`, or `event: error`
 * with the error body when the stream fails after its first chunk (before it, the usual JSON
 * error). The same budget bounds the whole stream, a client that goes away aborts the upstream,
 * and the audit line, written at the end, carries the usage. `output` applies to JSON answers only.
 *
 * @example
 * app.post('/score', inferHandler(fraud, { guard, schema: z.object({ amount: z.number().min(0) }) }));
 * app.post('/chat', inferHandler(chat, { guard })); // `{ messages, stream: true }` streams
 */
export function inferHandler<I, O, B = I>(model: Model<I, O>, options: InferHandlerOptions<I, O, B> = {}): RequestHandler {
  if (typeof model?.infer !== 'function') throw new BallastError('CONFIG', 'inferHandler: the first argument must be a Model');
  const { guard, schema, action = 'infer' } = options;
  const served = pipeline(model);
  const name = model.name;
  return async function ballastInfer(request: Request, res: Response): Promise<void> {
    const startedAt = now();
    let principal: GuardPrincipal | undefined;
    let input: unknown;
    let outcome: BallastError | undefined;
    let usage: Usage | undefined;
    const work = async () => {
      if (guard !== undefined) {
        principal = await guard.authenticate(request);
        guard.authorize(principal, action, name);
        await guard.admit(principal, name);
      }
      // Reading the body counts against the request's budget (408 when a slow body spends it).
      const body = await readJson(request, res, guard?.maxBodyBytes(name), startedAt + requestBudgetMs(request, options));
      input = body;
      let value: unknown = body;
      if (schema !== undefined) {
        const parsed = await schema.safeParseAsync(body);
        if (!parsed.success) throw schemaError(parsed.error);
        value = parsed.data;
      }
      if (guard !== undefined) value = await guard.checkInput(name, value);
      if (options.input !== undefined) value = options.input(value as B, request);
      const call = createCallState(request, res, options, principal, false, startedAt + requestBudgetMs(request, options));
      if (served.stream !== undefined && wantsEventStream(request, body)) {
        // Fails before the first chunk with nothing written: answered as JSON below.
        const raw = served.stream(value as I, call.options);
        // The guard's output redaction applies to streamed text as to JSON answers.
        const stream = guard === undefined ? raw : guard.filterStream(name, raw);
        const streamed = await sendEventStream(res, stream, options.events?.(request));
        usage = streamed.usage;
        if (streamed.error !== undefined) {
          outcome = streamed.error;
          reportServedError(outcome, request, requestIdOf(request, res, options.requestIdHeader), options.onError);
        }
        return;
      }
      const result = await served.infer(value as I, call.options);
      let answer: unknown = options.output === undefined ? result : options.output(result, request);
      if (guard !== undefined) answer = guard.filterOutput(name, answer);
      // Tensor outputs hold typed arrays (and int64 BigInts), which JSON.stringify would write as
      // objects (or throw on): answer them as plain number arrays.
      res.type('application/json').send(JSON.stringify(answer, jsonValue));
    };
    try {
      if (options.around !== undefined) await options.around(request, work);
      else await work();
    } catch (error) {
      outcome = sendError(res, error);
      reportServedError(outcome, request, requestIdOf(request, res, options.requestIdHeader), options.onError);
    } finally {
      if (guard?.auditLog !== undefined)
        auditRequest(guard, {
          requestId: requestIdOf(request, res, options.requestIdHeader),
          principal: principal?.id,
          keyId: principal?.keyId,
          action,
          model: name,
          version: model.version,
          outcome: outcome?.code ?? 'ok',
          status: res.statusCode,
          startedAt,
          input,
          usage,
        });
    }
  };
}

/** Options of {@link chatCompletionsHandler}: those of {@link inferHandler} less the answer's format. */
export type ChatCompletionsHandlerOptions<I = unknown, O = unknown> = Omit<
  InferHandlerOptions<I, O, Record<string, unknown>>,
  'events' | 'output'
>;

/**
 * An OpenAI-compatible `POST /v1/chat/completions` handler, so an OpenAI client (the official SDK
 * with `baseURL` pointing at the service, or `remoteModel({ protocol: 'openai' })`) can talk to a
 * Ballast model: {@link inferHandler}'s flow (guard, budget, disconnects, audit), the request
 * body less `model`, `stream` and `stream_options` as the model input (default `input`), and
 * OpenAI's answers: a `chat.completion` object, or with `stream: true` the
 * `chat.completion.chunk` events ending in `data: [DONE]`. The answer names `model.name`. Errors
 * answer the Ballast error body (`{ error: { code, message } }`), which OpenAI clients read.
 *
 * @example
 * app.post('/v1/chat/completions', chatCompletionsHandler(chat, { guard }));
 */
export function chatCompletionsHandler<I, O>(model: Model<I, O>, options: ChatCompletionsHandlerOptions<I, O> = {}): RequestHandler {
  if (typeof model?.infer !== 'function') throw new BallastError('CONFIG', 'chatCompletionsHandler: the first argument must be a Model');
  const name = model.name;
  const input =
    options.input ??
    ((body: Record<string, unknown>) => {
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        throw new BallastError('INVALID_INPUT', 'a chat completion request must be a JSON object');
      const { model: _model, stream: _stream, stream_options: _streamOptions, ...rest } = body;
      return rest as I;
    });
  return inferHandler<I, O, Record<string, unknown>>(model, {
    ...options,
    input,
    events: () => openaiChatEvents(name),
    output: (result) => openaiChatCompletion(name, result),
  });
}

/** JSON replacer: typed arrays become arrays, BigInts numbers (strings beyond 2^53). */
export function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return Array.from(value as unknown as ArrayLike<number | bigint>, (v) => (typeof v === 'bigint' ? jsonValue('', v) : v));
  }
  return value;
}
