import {
  BallastError,
  type Chunk,
  channels,
  defineModel,
  doneError,
  type InferOptions,
  type Model,
  parseRetryAfter,
  pipeline,
  type StreamResult,
  signalOf,
  type Usage,
} from '@ballast/core';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { httpError, networkError, readBody } from './remote-model.js';

/** One message of a chat. */
export interface ChatMessage {
  /** `system`, `user`, `assistant` or `tool`. */
  role: 'system' | 'user' | 'assistant' | 'tool' | (string & {});
  /** The message text. */
  content: string;
  /** Extra fields sent as they are (`name`, `tool_call_id`). */
  [field: string]: unknown;
}

/** Input of an OpenAI-compatible chat model: the request body without `model` and `stream`. */
export interface ChatInput {
  /** The conversation so far. */
  messages: ChatMessage[];
  /** Any other request field (`temperature`, `max_tokens`, `tools`), sent as is. */
  [field: string]: unknown;
}

/** Input of an OpenAI-compatible completions model. */
export interface CompletionInput {
  /** The text to continue. */
  prompt: string;
  /** Any other request field, sent as is. */
  [field: string]: unknown;
}

/** Input of an OpenAI-compatible embeddings model. */
export interface EmbeddingInput {
  /** One text or several. */
  input: string | string[];
  /** Any other request field (`dimensions`), sent as is. */
  [field: string]: unknown;
}

/** Output of a chat or completions model (streamed or not). */
export interface TextOutput {
  /** The answer's text. */
  text: string;
  /** Why the model stopped (`stop`, `length`, `tool_calls`), when it said. */
  finishReason?: string;
  /** The upstream model that answered, when it said. */
  model?: string;
  /** Usage the upstream reported. */
  usage?: Usage;
}

/** Output of an embeddings model. */
export interface EmbeddingOutput {
  /** One vector per input text, in order. */
  embeddings: number[][];
  /** Usage the upstream reported. */
  usage?: Usage;
}

/** The rate-limit state an OpenAI-compatible upstream reported in its `x-ratelimit-*` headers. */
export interface RateLimitHeaders {
  /** `x-ratelimit-limit-requests`: requests allowed per window. */
  limitRequests?: number;
  /** `x-ratelimit-remaining-requests`: requests left in the window. */
  remainingRequests?: number;
  /** `x-ratelimit-reset-requests`, in ms: until the request allowance is whole again. */
  resetRequestsMs?: number;
  /** `x-ratelimit-limit-tokens`: tokens allowed per window. */
  limitTokens?: number;
  /** `x-ratelimit-remaining-tokens`: tokens left in the window. */
  remainingTokens?: number;
  /** `x-ratelimit-reset-tokens`, in ms: until the token allowance is whole again. */
  resetTokensMs?: number;
}

/** Options of the OpenAI protocol of `remoteModel()`. */
export interface OpenAIModelOptions {
  /** Base URL of the API, up to and including `/v1` (`http://127.0.0.1:8000/v1`). */
  url: string;
  /** Name used in errors, events and metrics; also the `model` field sent unless `model` is given. */
  name: string;
  /** Version label. */
  version?: string;
  /** The upstream's model id for the `model` field. Default `name`. */
  model?: string;
  /** Which endpoint: `chat` (`/chat/completions`, default), `completions` or `embeddings`. */
  endpoint?: 'chat' | 'completions' | 'embeddings';
  /**
   * Who serves the API, reported as the model's `provider` (telemetry's `gen_ai.provider.name`):
   * `openai`, `azure.ai.openai`, `groq`, `mistral_ai`, ... or a name of your own for a vLLM or
   * Ollama server. Default `openai`.
   */
  provider?: string;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Extra request headers, or a function returning them per request. */
  headers?: Record<string, string> | (() => Record<string, string>);
  /** Largest non-streamed response body (and largest error body) accepted, bytes. Default 16 MiB. */
  maxResponseBytes?: number;
  /** The fetch to use. Default the global fetch. */
  fetch?: typeof fetch;
}

const PATHS = { chat: '/chat/completions', completions: '/completions', embeddings: '/embeddings' } as const;
/** The GenAI operation (`gen_ai.operation.name`) of each endpoint. */
const OPERATIONS = { chat: 'chat', completions: 'text_completion', embeddings: 'embeddings' } as const;

// OpenAI writes reset times as Go durations: `1s`, `6m0s`, `20ms`, `1h2m3.5s`.
function parseDuration(value: string | null): number | undefined {
  if (value === null) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000));
  const pattern = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let matched = false;
  for (const match of value.matchAll(pattern)) {
    matched = true;
    const amount = Number(match[1]);
    total += amount * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'] ?? 0);
  }
  return matched ? Math.round(total) : undefined;
}

function numberHeader(headers: Headers, name: string): number | undefined {
  const value = headers.get(name);
  if (value === null) return undefined;
  const number = Number(value);
  return Number.isFinite(number) ? number : undefined;
}

/**
 * Reads the `x-ratelimit-*` headers of an OpenAI-compatible answer; `undefined` when it sent none.
 *
 * @example
 * rateLimitHeaders(response.headers)?.remainingTokens;
 */
export function rateLimitHeaders(headers: Headers): RateLimitHeaders | undefined {
  const out: RateLimitHeaders = {};
  const set = (key: keyof RateLimitHeaders, value: number | undefined): void => {
    if (value !== undefined) out[key] = value;
  };
  set('limitRequests', numberHeader(headers, 'x-ratelimit-limit-requests'));
  set('remainingRequests', numberHeader(headers, 'x-ratelimit-remaining-requests'));
  set('resetRequestsMs', parseDuration(headers.get('x-ratelimit-reset-requests')));
  set('limitTokens', numberHeader(headers, 'x-ratelimit-limit-tokens'));
  set('remainingTokens', numberHeader(headers, 'x-ratelimit-remaining-tokens'));
  set('resetTokensMs', parseDuration(headers.get('x-ratelimit-reset-tokens')));
  return Object.keys(out).length === 0 ? undefined : out;
}

/*
 * The wait an error answer asks for: `retry-after-ms` (OpenAI's precise form), then `Retry-After`,
 * then, for a spent limit, the reset time of whichever allowance is at zero.
 */
function retryAfterOf(headers: Headers, limits: RateLimitHeaders | undefined): number | undefined {
  const precise = numberHeader(headers, 'retry-after-ms');
  if (precise !== undefined) return Math.max(0, precise);
  const standard = parseRetryAfter(headers.get('retry-after'));
  if (standard !== undefined) return standard;
  if (limits === undefined) return undefined;
  const waits: number[] = [];
  if (limits.remainingRequests === 0 && limits.resetRequestsMs !== undefined) waits.push(limits.resetRequestsMs);
  if (limits.remainingTokens === 0 && limits.resetTokensMs !== undefined) waits.push(limits.resetTokensMs);
  return waits.length === 0 ? undefined : Math.max(...waits);
}

async function statusError(name: string, response: Response, limit: number, options: InferOptions | undefined): Promise<BallastError> {
  const text = await readBody(name, response, limit, options);
  const limits = rateLimitHeaders(response.headers);
  const retryAfterMs = retryAfterOf(response.headers, limits);
  const base = httpError(name, response.status, retryAfterMs === undefined ? null : String(retryAfterMs / 1000), text);
  let upstream: { message?: string; type?: string; code?: string } | undefined;
  try {
    upstream = (JSON.parse(text) as { error?: typeof upstream }).error;
  } catch {
    upstream = undefined;
  }
  return new BallastError(base.code, upstream?.message ? `${base.message}: ${upstream.message}` : base.message, {
    retryable: base.retryable,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    details: {
      ...base.details,
      status: response.status,
      ...(upstream?.type ? { type: upstream.type } : {}),
      ...(upstream?.code ? { upstreamCode: upstream.code } : {}),
      ...(limits ? { rateLimit: limits } : {}),
    },
  });
}

// An `error` object sent inside the stream (as an `event: error` or a data line with `error`).
function streamError(name: string, payload: { message?: string; type?: string; code?: string | number } | undefined): BallastError {
  const type = `${payload?.type ?? ''} ${payload?.code ?? ''}`;
  const code = /rate_limit|429/.test(type)
    ? 'RATE_LIMITED'
    : /overloaded|unavailable|503/.test(type)
      ? 'MODEL_UNAVAILABLE'
      : /invalid_request|400/.test(type)
        ? 'INVALID_INPUT'
        : 'UPSTREAM';
  return new BallastError(code, `"${name}" sent an error in its stream: ${payload?.message ?? 'unknown error'}`, {
    ...(code === 'UPSTREAM' ? { retryable: /server_error|timeout|500|502|504/.test(type) } : {}),
    details: {
      phase: 'stream',
      ...(payload?.type ? { type: payload.type } : {}),
      ...(payload?.code ? { upstreamCode: payload.code } : {}),
    },
  });
}

function malformed(name: string, data: string, cause: unknown): BallastError {
  return new BallastError('UPSTREAM', `"${name}": a stream event is not valid JSON`, {
    retryable: false,
    cause,
    details: { reason: 'malformed-json', data: data.slice(0, 200) },
  });
}

interface WireUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
}

function usageOf(wire: WireUsage | null | undefined): Usage | undefined {
  if (wire === null || wire === undefined) return undefined;
  return {
    ...(wire.prompt_tokens === undefined ? {} : { inputTokens: wire.prompt_tokens }),
    ...(wire.completion_tokens === undefined ? {} : { outputTokens: wire.completion_tokens }),
    ...(wire.total_tokens === undefined ? {} : { totalTokens: wire.total_tokens }),
  };
}

function publishUsage(
  model: string,
  provider: string,
  operation: string,
  usage: Usage | undefined,
  options: InferOptions | undefined,
): void {
  if (usage === undefined || !channels.usage.hasSubscribers) return;
  channels.usage.publish({
    model,
    provider,
    operation,
    ...(usage.inputTokens === undefined ? {} : { inputTokens: usage.inputTokens }),
    ...(usage.outputTokens === undefined ? {} : { outputTokens: usage.outputTokens }),
    ...(options?.principal ? { principal: options.principal.id } : {}),
  });
}

interface WireChoice {
  delta?: { content?: string | null; tool_calls?: unknown };
  message?: { content?: string | null };
  text?: string;
  finish_reason?: string | null;
}

/**
 * A model behind an OpenAI-compatible HTTP API (OpenAI, vLLM, llama.cpp's server, Ollama, TGI):
 * chat and completions, streamed (server-sent events, parsed with `eventsource-parser`) or not,
 * and embeddings. Streams ask for `stream_options.include_usage`, so the final result carries the
 * usage; usage is published on `ballast:usage` after every call. Errors map like every remote
 * model's (429 `RATE_LIMITED` with the wait from `retry-after-ms`, `Retry-After` or the spent
 * allowance's `x-ratelimit-reset-*`; `details.rateLimit` holds the `x-ratelimit-*` numbers); an
 * error event inside a stream fails it with a typed error; a stream cut before `data: [DONE]`
 * fails with retryable `UPSTREAM`. Used through `remoteModel({ protocol: 'openai', ... })`.
 *
 * @example
 * const chat = openaiModel({ url: 'http://127.0.0.1:8000/v1', name: 'llama-3-8b' });
 * for await (const chunk of chat.stream({ messages: [{ role: 'user', content: 'Hi' }] })) process.stdout.write(chunk.text ?? '');
 */
export function openaiModel(options: OpenAIModelOptions & { endpoint: 'embeddings' }): Model<EmbeddingInput, EmbeddingOutput>;
export function openaiModel(
  options: OpenAIModelOptions & { endpoint: 'completions' },
): Model<CompletionInput, TextOutput> & { stream: NonNullable<Model<CompletionInput, TextOutput>['stream']> };
export function openaiModel(
  options: OpenAIModelOptions & { endpoint?: 'chat' },
): Model<ChatInput, TextOutput> & { stream: NonNullable<Model<ChatInput, TextOutput>['stream']> };
export function openaiModel(options: OpenAIModelOptions): Model<unknown, unknown> {
  const name = options.name;
  const endpoint = options.endpoint ?? 'chat';
  const target = `${options.url.replace(/\/+$/, '')}${PATHS[endpoint]}`;
  const upstreamModel = options.model ?? name;
  const provider = options.provider ?? 'openai';
  const operation = OPERATIONS[endpoint];
  const doFetch = options.fetch ?? fetch;
  const limit = options.maxResponseBytes ?? 16 * 1024 * 1024;

  function headersFor(streaming: boolean): Record<string, string> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: streaming ? 'text/event-stream' : 'application/json',
    };
    if (options.apiKey !== undefined) headers.authorization = `Bearer ${options.apiKey}`;
    const extra = typeof options.headers === 'function' ? options.headers() : options.headers;
    if (extra) for (const [key, value] of Object.entries(extra)) headers[key.toLowerCase()] = value;
    if (channels.httpRequest.hasSubscribers) channels.httpRequest.publish({ model: name, url: target, method: 'POST', headers });
    return headers;
  }

  function bodyOf(input: unknown, streaming: boolean): string {
    if (typeof input !== 'object' || input === null) {
      throw new BallastError('INVALID_INPUT', `"${name}": the input must be a request object (${endpoint})`);
    }
    const request: Record<string, unknown> = { ...(input as Record<string, unknown>), model: upstreamModel };
    if (streaming) {
      request.stream = true;
      request.stream_options = { ...((request.stream_options as object | undefined) ?? {}), include_usage: true };
    } else if (endpoint !== 'embeddings') {
      request.stream = false;
    }
    return JSON.stringify(request);
  }

  async function post(body: string, streaming: boolean, callOptions: InferOptions | undefined): Promise<Response> {
    const headers = headersFor(streaming);
    const early = doneError(callOptions);
    if (early) throw early;
    let response: Response;
    try {
      // `manual`: a redirect is an error here too (see remoteModel's `redirects`).
      response = await doFetch(target, { method: 'POST', headers, body, redirect: 'manual', signal: signalOf(callOptions) ?? null });
    } catch (error) {
      throw networkError(name, error, callOptions, 'the request');
    }
    if (response.status >= 300) throw await statusError(name, response, limit, callOptions);
    return response;
  }

  async function infer(input: unknown, callOptions?: InferOptions): Promise<unknown> {
    const body = bodyOf(input, false);
    const response = await post(body, false, callOptions);
    const text = await readBody(name, response, limit, callOptions);
    let parsed: { choices?: WireChoice[]; data?: { embedding?: number[]; index?: number }[]; usage?: WireUsage; model?: string };
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new BallastError('UPSTREAM', `"${name}": response is not valid JSON`, {
        retryable: false,
        cause: error,
        details: { reason: 'malformed-json', body: text.slice(0, 200) },
      });
    }
    const usage = usageOf(parsed.usage);
    publishUsage(name, provider, operation, usage, callOptions);
    if (endpoint === 'embeddings') {
      if (!Array.isArray(parsed.data))
        throw new BallastError('UPSTREAM', `"${name}": embeddings response has no data`, { retryable: false });
      const rows = [...parsed.data].sort((a, b) => (a.index ?? 0) - (b.index ?? 0)).map((row) => row.embedding ?? []);
      return { embeddings: rows, ...(usage ? { usage } : {}) } satisfies EmbeddingOutput;
    }
    const choice = parsed.choices?.[0];
    if (choice === undefined) throw new BallastError('UPSTREAM', `"${name}": response has no choices`, { retryable: false });
    const out: TextOutput = { text: (endpoint === 'chat' ? choice.message?.content : choice.text) ?? '' };
    if (choice.finish_reason) out.finishReason = choice.finish_reason;
    if (parsed.model) out.model = parsed.model;
    if (usage) out.usage = usage;
    return out;
  }

  async function* stream(
    input: unknown,
    callOptions: InferOptions & { signal: AbortSignal },
  ): AsyncGenerator<Chunk, StreamResult<TextOutput>, undefined> {
    const body = bodyOf(input, true);
    const response = await post(body, true, callOptions);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    const events: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (event) => events.push(event) });
    let text = '';
    let finishReason: string | undefined;
    let model: string | undefined;
    let usage: Usage | undefined;
    let finished = false;
    try {
      while (!finished) {
        let step: Awaited<ReturnType<typeof reader.read>>;
        try {
          step = await reader.read();
        } catch (error) {
          throw networkError(name, error, callOptions, 'reading the stream');
        }
        if (step.done) break;
        parser.feed(decoder.decode(step.value, { stream: true }));
        for (let i = 0; i < events.length; i++) {
          const event = events[i] as EventSourceMessage;
          if (event.data === '[DONE]') {
            finished = true;
            break;
          }
          let json: {
            choices?: WireChoice[];
            usage?: WireUsage | null;
            model?: string;
            error?: { message?: string; type?: string; code?: string };
          };
          try {
            json = JSON.parse(event.data);
          } catch (error) {
            if (event.event === 'error') throw streamError(name, { message: event.data });
            throw malformed(name, event.data, error);
          }
          if (event.event === 'error' || json.error) throw streamError(name, json.error ?? (json as { message?: string }));
          if (json.model) model = json.model;
          if (json.usage) usage = usageOf(json.usage);
          const choice = json.choices?.[0];
          if (choice === undefined) continue;
          if (choice.finish_reason) finishReason = choice.finish_reason;
          const piece = endpoint === 'chat' ? choice.delta?.content : choice.text;
          if (typeof piece === 'string' && piece.length > 0) {
            text += piece;
            yield { text: piece, data: json };
          } else if (choice.delta?.tool_calls !== undefined) {
            yield { data: json };
          }
        }
        events.length = 0;
      }
      if (!finished) {
        throw new BallastError('UPSTREAM', `"${name}": the stream ended before [DONE]`, {
          retryable: true,
          details: { phase: 'stream', reason: 'incomplete-stream' },
        });
      }
    } finally {
      // Leaving early (the caller stopped reading) or failing: close the connection now.
      reader.cancel().catch(() => {});
    }
    publishUsage(name, provider, operation, usage, callOptions);
    const output: TextOutput = { text };
    if (finishReason) output.finishReason = finishReason;
    if (model) output.model = model;
    if (usage) output.usage = usage;
    return usage ? { output, usage } : { output };
  }

  return pipeline(
    defineModel<unknown, unknown>({
      name,
      ...(options.version === undefined ? {} : { version: options.version }),
      kind: 'client',
      operation,
      provider,
      infer,
      ...(endpoint === 'embeddings'
        ? {}
        : { stream: stream as NonNullable<Parameters<typeof defineModel<unknown, unknown>>[0]['stream']> }),
      health: async () => ({ ready: true, status: 'ready', message: 'no health endpoint for the openai protocol' }),
    }),
  );
}
