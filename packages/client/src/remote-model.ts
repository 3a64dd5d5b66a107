import {
  BallastError,
  channels,
  defineModel,
  doneError,
  errorForStatus,
  type HealthReport,
  type InferOptions,
  type Model,
  parseRetryAfter,
  pipeline,
  signalOf,
  type TensorType,
} from '@ballast/core';
import { z } from 'zod';
import { type ChatInput, openaiModel, type TextOutput } from './openai-model.js';
import { issueSummaries } from './options-check.js';
import {
  decodeV2Response,
  encodeV2Binary,
  encodeV2Request,
  readV2ResponseBody,
  stringifyV2,
  V2_HEADER_LENGTH,
  type V2Inputs,
  type V2Outputs,
} from './v2-codec.js';

/** Options of {@link remoteModel}. */
export interface RemoteModelOptions<O = unknown> {
  /**
   * For `json`: the endpoint to POST to. For `open-inference-v2`: the server's base URL
   * (`http://host:8080`); requests go to `{url}/v2/models/{name}[/versions/{version}]/infer`.
   */
  url: string;
  /**
   * Wire protocol. Default `json`. `openai`: an OpenAI-compatible API; `url` is its base
   * (`http://host:8000/v1`), and the model streams (see docs/streaming.md).
   */
  protocol?: 'open-inference-v2' | 'json' | 'openai';
  /** `openai` only: `chat` (default), `completions` or `embeddings`. */
  endpoint?: 'chat' | 'completions' | 'embeddings';
  /**
   * For `openai`: who serves the API, reported as `gen_ai.provider.name` (`openai`, `azure.ai.openai`,
   * `groq`, `mistral_ai`, `deepseek`, ... or your own name for a vLLM or Ollama server). Default `openai`.
   */
  provider?: string;
  /** `openai` only: the upstream model id sent in requests. Default `name`. */
  model?: string;
  /** `openai` only: sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Model name (errors, events, metrics; the v2 path). */
  name: string;
  /** Model version (the v2 path when given). */
  version?: string;
  /** Extra request headers, or a function returning them per request (for rotating tokens). */
  headers?: Record<string, string> | (() => Record<string, string>);
  /** `json` only: validates and shapes the response body (a zod schema or a function that throws). Default: any JSON. */
  output?: z.ZodType<O> | ((body: unknown) => O);
  /** `open-inference-v2` only: datatypes of inputs whose values do not say it (plain numbers default to FP32). */
  inputTypes?: Record<string, TensorType>;
  /** `open-inference-v2` only: outputs to request (default: all). */
  outputs?: readonly string[];
  /** `open-inference-v2` only: request `parameters`. */
  parameters?: Record<string, unknown>;
  /**
   * `open-inference-v2` only: send the inputs as Triton's binary tensor data extension (raw
   * little-endian bytes after the JSON header, `Inference-Header-Content-Length`) and ask for the
   * outputs as binary data too (`binary_data_output`): no number formatting or parsing, and 64-bit
   * integers and FP16 exact. Servers without the extension (it is Triton's, not the core
   * protocol's) refuse it. Default false.
   */
  binary?: boolean;
  /** Largest response body accepted, bytes. Default 16 MiB. */
  maxResponseBytes?: number;
  /** The fetch to use. Default the global fetch (undici, keep-alive connections pooled per origin). */
  fetch?: typeof fetch;
  /**
   * Which redirects to follow. `none` (default): a 3xx answer fails with `UPSTREAM` naming its
   * `Location`, so the request, its body and its headers (API keys) never go anywhere but `url`.
   * `same-origin`: 307 and 308 answers (the ones that keep the method and body) to the same
   * origin (scheme, host and port) are followed, at most 5 in a row; any other redirect fails as
   * with `none`.
   */
  redirects?: 'none' | 'same-origin';
}

const optionsSchema = z.object({
  url: z.url(),
  protocol: z.enum(['open-inference-v2', 'json', 'openai']).optional(),
  endpoint: z.enum(['chat', 'completions', 'embeddings']).optional(),
  model: z.string().min(1).optional(),
  provider: z.string().min(1).optional(),
  apiKey: z.string().optional(),
  name: z.string().min(1),
  version: z.string().min(1).optional(),
  headers: z.union([z.record(z.string(), z.string()), z.custom((v) => typeof v === 'function')]).optional(),
  output: z.custom((v) => typeof v === 'function' || typeof (v as { safeParse?: unknown } | null)?.safeParse === 'function').optional(),
  inputTypes: z.record(z.string(), z.string()).optional(),
  outputs: z.array(z.string()).optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  binary: z.boolean().optional(),
  maxResponseBytes: z.number().int().positive().optional(),
  fetch: z.custom((v) => typeof v === 'function').optional(),
  redirects: z.enum(['none', 'same-origin']).optional(),
});

const MAX_REDIRECTS = 5;

/**
 * Maps an HTTP error status an upstream answered with to a BallastError, by core's one table
 * (`errorForStatus`): 429 `RATE_LIMITED` and 503 `MODEL_UNAVAILABLE` (retryable, with
 * `Retry-After`), 502/504/408 retryable `UPSTREAM`, 400/422 `INVALID_INPUT`, 401
 * `UNAUTHENTICATED`, 403 `FORBIDDEN`, 404 `NOT_FOUND`, 413 `PAYLOAD_TOO_LARGE`, anything else
 * non-retryable `UPSTREAM`. The body (first 500 characters) goes to `details.body`.
 *
 * @example
 * httpError('m', 503, '5', 'warming up').code; // 'MODEL_UNAVAILABLE', retryAfterMs 5000
 */
export function httpError(model: string, status: number, retryAfter: string | null | undefined, body: string): BallastError {
  const retryAfterMs = parseRetryAfter(retryAfter);
  return errorForStatus(status, {
    message: `"${model}" answered HTTP ${status}`,
    details: { body: body.length > 500 ? `${body.slice(0, 500)}...` : body },
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

/** `parseRetryAfter` lives in `@ballast/core`, beside the status table; re-exported here as before. */
export { parseRetryAfter };

/** @internal */
// A failure of the call itself (deadline, cancel) wins over the network error it caused.
export function networkError(model: string, error: unknown, options: InferOptions | undefined, phase: string): BallastError {
  const done = doneError(options);
  if (done) return done;
  const reason = signalOf(options)?.reason;
  if (reason instanceof BallastError) return reason;
  const cause = (error as { cause?: { code?: string } } | null)?.cause;
  return new BallastError('UPSTREAM', `"${model}": ${phase} failed: ${(error as Error)?.message ?? String(error)}`, {
    retryable: true,
    cause: error,
    details: { phase, ...(cause?.code ? { errno: cause.code } : {}) },
  });
}

/** @internal The response body as text, within `limit` bytes (see {@link readBodyBytes}). */
export async function readBody(model: string, response: Response, limit: number, options: InferOptions | undefined): Promise<string> {
  return new TextDecoder().decode(await readBodyBytes(model, response, limit, options));
}

/** @internal The response body's bytes, within `limit` bytes and the call's budget. */
export async function readBodyBytes(
  model: string,
  response: Response,
  limit: number,
  options: InferOptions | undefined,
): Promise<Uint8Array> {
  const length = Number(response.headers.get('content-length') ?? Number.NaN);
  if (length > limit) {
    await response.body?.cancel().catch(() => {});
    throw new BallastError('UPSTREAM', `"${model}": response of ${length} bytes exceeds maxResponseBytes (${limit})`, {
      details: { length, limit },
    });
  }
  const body = response.body;
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.byteLength;
      if (received > limit) {
        await reader.cancel().catch(() => {});
        throw new BallastError('UPSTREAM', `"${model}": response exceeds maxResponseBytes (${limit})`, { details: { limit } });
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof BallastError) throw error;
    throw networkError(model, error, options, 'reading the response');
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const bytes = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/** A remote model: a `Model` of kind `client` speaking HTTP. */
export type RemoteModel<I, O> = Model<I, O>;

/**
 * A model served over HTTP, called with Node's fetch (undici, keep-alive). Speaks plain JSON
 * (POST the input, read the output) or the Open Inference Protocol v2 (input: input name ->
 * per-example value; output: output name -> TensorValue with the batch dimension removed, the
 * same shapes as the in-process ONNX model). Every attempt is its own traced call (kind
 * `client`), publishes `ballast:http-request` with mutable headers before sending (telemetry
 * injects `traceparent` there), aborts through the call's signal, maps HTTP errors to
 * BallastErrors (see {@link httpError}; `Retry-After` in seconds or HTTP-date becomes
 * `retryAfterMs`), maps resets and network failures to retryable `UPSTREAM`, follows no redirect
 * unless `redirects: 'same-origin'` allows it (a 3xx is `UPSTREAM` naming its location), and validates the
 * response shape (malformed bodies are non-retryable `UPSTREAM`).
 *
 * @example
 * const scorer = remoteModel({ url: 'http://127.0.0.1:8080', protocol: 'open-inference-v2', name: 'scorer' });
 * const { probabilities } = await scorer.infer({ features: new Float32Array(16) }, { timeoutMs: 200 });
 */
export function remoteModel<O = V2Outputs>(
  options: RemoteModelOptions<O> & { protocol: 'open-inference-v2' },
): RemoteModel<V2Inputs, V2Outputs>;
export function remoteModel(options: RemoteModelOptions & { protocol: 'openai' }): RemoteModel<ChatInput, TextOutput>;
export function remoteModel<I = unknown, O = unknown>(options: RemoteModelOptions<O> & { protocol?: 'json' }): RemoteModel<I, O>;
export function remoteModel<I, O>(options: RemoteModelOptions<O>): RemoteModel<I, O> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = issueSummaries(parsed.error)[0];
    const path = issue?.path ?? '';
    throw new BallastError('CONFIG', `remoteModel: ${path || 'options'}: ${issue?.message ?? 'invalid'}`, { details: { path } });
  }
  if (options.protocol === 'openai') return openaiModel(options as Parameters<typeof openaiModel>[0]) as unknown as RemoteModel<I, O>;
  const protocol = options.protocol ?? 'json';
  const name = options.name;
  // The v2 endpoints of this model version (`.../infer`, `.../ready`) share one path.
  const versionPath = options.version === undefined ? '' : `/versions/${encodeURIComponent(options.version)}`;
  const v2Path = `${options.url.replace(/\/+$/, '')}/v2/models/${encodeURIComponent(name)}${versionPath}`;
  const target = protocol === 'json' ? options.url : `${v2Path}/infer`;
  const readyUrl = `${v2Path}/ready`;
  const v2Options = {
    ...(options.inputTypes ? { inputTypes: options.inputTypes } : {}),
    ...(options.outputs ? { outputs: options.outputs } : {}),
    ...(options.parameters ? { parameters: options.parameters } : {}),
  };
  const doFetch = options.fetch ?? fetch;
  const limit = options.maxResponseBytes ?? 16 * 1024 * 1024;
  const staticHeaders = typeof options.headers === 'object' ? lowerKeys(options.headers) : undefined;
  const headerFn = typeof options.headers === 'function' ? options.headers : undefined;
  const validate = options.output;
  const redirects = options.redirects ?? 'none';

  const binary = protocol === 'open-inference-v2' && options.binary === true;

  function encode(input: I, headers: Record<string, string>): string | Uint8Array {
    try {
      if (protocol === 'json') return JSON.stringify(input);
      const request = encodeV2Request(input as V2Inputs, v2Options);
      if (!binary) return stringifyV2(request);
      const { body, headerLength } = encodeV2Binary(request);
      headers['content-type'] = 'application/octet-stream';
      headers[V2_HEADER_LENGTH] = String(headerLength);
      return body;
    } catch (error) {
      if (error instanceof BallastError) throw error;
      throw new BallastError('INVALID_INPUT', `"${name}": input cannot be encoded as JSON`, { cause: error });
    }
  }

  function decode(bytes: Uint8Array, headerLength: string | null): O {
    let body: unknown;
    try {
      body = protocol === 'open-inference-v2' ? readV2ResponseBody(bytes, headerLength) : JSON.parse(new TextDecoder().decode(bytes));
    } catch (error) {
      if (error instanceof BallastError) throw error;
      const text = new TextDecoder().decode(bytes.subarray(0, 200));
      throw new BallastError('UPSTREAM', `"${name}": response is not valid JSON`, {
        retryable: false,
        cause: error,
        details: { reason: 'malformed-json', body: text.slice(0, 200) },
      });
    }
    if (protocol === 'open-inference-v2') return decodeV2Response(body) as O;
    if (validate === undefined) return body as O;
    if (typeof validate === 'function') {
      try {
        return validate(body);
      } catch (error) {
        throw new BallastError('UPSTREAM', `"${name}": response failed validation`, { retryable: false, cause: error });
      }
    }
    const result = validate.safeParse(body);
    if (!result.success) {
      throw new BallastError('UPSTREAM', `"${name}": response failed validation`, {
        retryable: false,
        details: { issues: issueSummaries(result.error) },
      });
    }
    return result.data;
  }

  async function infer(input: I, callOptions?: InferOptions): Promise<O> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    const body = encode(input, headers);
    if (staticHeaders) Object.assign(headers, staticHeaders);
    if (headerFn) Object.assign(headers, lowerKeys(headerFn()));
    if (channels.httpRequest.hasSubscribers) channels.httpRequest.publish({ model: name, url: target, method: 'POST', headers });
    const early = doneError(callOptions);
    if (early) throw early;
    let response: Response;
    let url = target;
    for (let hops = 0; ; hops++) {
      try {
        // `manual`: fetch would otherwise follow a redirect to any origin, headers and body included.
        response = await doFetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: signalOf(callOptions) ?? null });
      } catch (error) {
        throw networkError(name, error, callOptions, 'the request');
      }
      if (response.status < 300 || response.status > 399) break;
      url = await redirectTarget(response, url, hops);
    }
    const bytes = await readBodyBytes(name, response, limit, callOptions);
    if (!response.ok) throw httpError(name, response.status, response.headers.get('retry-after'), new TextDecoder().decode(bytes));
    return decode(bytes, response.headers.get(V2_HEADER_LENGTH));
  }

  // Where a 3xx answer may be followed to, or the UPSTREAM error that refuses it.
  async function redirectTarget(response: Response, from: string, hops: number): Promise<string> {
    await response.body?.cancel().catch(() => {});
    const location = response.headers.get('location');
    let next: URL | undefined;
    try {
      next = location === null ? undefined : new URL(location, from);
    } catch {
      next = undefined;
    }
    const status = response.status;
    const details = { status, location, redirects };
    const sameOrigin = next !== undefined && next.origin === new URL(from).origin;
    if (redirects === 'same-origin' && sameOrigin && (status === 307 || status === 308) && hops < MAX_REDIRECTS) {
      return (next as URL).href;
    }
    const why =
      redirects === 'none'
        ? 'redirects are not followed (remoteModel option `redirects`)'
        : !sameOrigin
          ? 'it leads to another origin'
          : status !== 307 && status !== 308
            ? 'only 307 and 308 keep the method and body'
            : `more than ${MAX_REDIRECTS} redirects in a row`;
    throw new BallastError(
      'UPSTREAM',
      `"${name}" answered HTTP ${status} redirecting to ${location ?? '(no location)'}; not followed: ${why}`,
      {
        retryable: false,
        details,
      },
    );
  }

  async function health(): Promise<HealthReport> {
    if (protocol !== 'open-inference-v2') return { ready: true, status: 'ready', message: 'no health endpoint for the json protocol' };
    try {
      const response = await doFetch(readyUrl, { method: 'GET', redirect: 'manual', signal: AbortSignal.timeout(5000) });
      await response.body?.cancel().catch(() => {});
      return response.ok
        ? { ready: true, status: 'ready' }
        : { ready: false, status: 'unavailable', message: `HTTP ${response.status}`, details: { status: response.status } };
    } catch (error) {
      return { ready: false, status: 'unavailable', message: (error as Error)?.message ?? String(error) };
    }
  }

  return pipeline(
    defineModel<I, O>({
      name,
      ...(options.version === undefined ? {} : { version: options.version }),
      kind: 'client',
      infer,
      health,
    }),
  );
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) out[key.toLowerCase()] = value;
  return out;
}
