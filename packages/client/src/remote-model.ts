import {
  BallastError,
  channels,
  codeForHttpStatus,
  defineModel,
  doneError,
  type HealthReport,
  type InferOptions,
  type Model,
  pipeline,
  signalOf,
  type TensorType,
} from '@ballast/core';
import { z } from 'zod';
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
  /** Wire protocol. Default `json`. */
  protocol?: 'open-inference-v2' | 'json';
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
}

const optionsSchema = z.object({
  url: z.url(),
  protocol: z.enum(['open-inference-v2', 'json']).optional(),
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
});

/**
 * Parses a `Retry-After` header: delay-seconds or an HTTP-date, into milliseconds from `nowMs`
 * (never negative); `undefined` when absent or unreadable.
 *
 * @example
 * parseRetryAfter('2'); // 2000
 * parseRetryAfter('Wed, 21 Oct 2026 07:28:00 GMT', Date.parse('Wed, 21 Oct 2026 07:27:30 GMT')); // 30000
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (/^\d+\.\d+$/.test(text)) return Math.round(Number(text) * 1000); // lenient: fractional seconds
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/**
 * Maps an upstream's HTTP error status to a BallastError through core's one status table
 * (`codeForHttpStatus`): 429 `RATE_LIMITED` and 503 `MODEL_UNAVAILABLE` (retryable, with
 * `Retry-After`), 400/414/415/422 `INVALID_INPUT`, 401 `UNAUTHENTICATED`, 403 `FORBIDDEN`, 404
 * `NOT_FOUND`, 413 `PAYLOAD_TOO_LARGE`. The upstream's own timeouts and cancellations (408, 499,
 * 504) and 502 are retryable `UPSTREAM`: `TIMEOUT` and `CANCELLED` name this caller's budget and
 * signal, which the upstream's answer says nothing about. Anything else is non-retryable `UPSTREAM`.
 *
 * @example
 * httpError('m', 503, '5', 'warming up').code; // 'MODEL_UNAVAILABLE', retryAfterMs 5000
 */
export function httpError(model: string, status: number, retryAfter: string | null | undefined, body: string): BallastError {
  const retryAfterMs = parseRetryAfter(retryAfter);
  const details = { status, body: body.length > 500 ? `${body.slice(0, 500)}...` : body };
  const hint = retryAfterMs === undefined ? {} : { retryAfterMs };
  const message = `"${model}" answered HTTP ${status}`;
  const meaning = codeForHttpStatus(status);
  if (meaning === undefined) return new BallastError('UPSTREAM', message, { retryable: false, ...hint, details });
  const ours = meaning.code === 'TIMEOUT' || meaning.code === 'CANCELLED';
  return new BallastError(ours ? 'UPSTREAM' : meaning.code, message, { retryable: ours || meaning.retryable, ...hint, details });
}

// A failure of the call itself (deadline, cancel) wins over the network error it caused.
function networkError(model: string, error: unknown, options: InferOptions | undefined, phase: string): BallastError {
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

async function readBody(model: string, response: Response, limit: number, options: InferOptions | undefined): Promise<Uint8Array> {
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
 * `retryAfterMs`), maps resets and network failures to retryable `UPSTREAM`, and validates the
 * response shape (malformed bodies are non-retryable `UPSTREAM`).
 *
 * @example
 * const scorer = remoteModel({ url: 'http://127.0.0.1:8080', protocol: 'open-inference-v2', name: 'scorer' });
 * const { probabilities } = await scorer.infer({ features: new Float32Array(16) }, { timeoutMs: 200 });
 */
export function remoteModel<O = V2Outputs>(
  options: RemoteModelOptions<O> & { protocol: 'open-inference-v2' },
): RemoteModel<V2Inputs, V2Outputs>;
export function remoteModel<I = unknown, O = unknown>(options: RemoteModelOptions<O> & { protocol?: 'json' }): RemoteModel<I, O>;
export function remoteModel<I, O>(options: RemoteModelOptions<O>): RemoteModel<I, O> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = issueSummaries(parsed.error)[0];
    const path = issue?.path ?? '';
    throw new BallastError('CONFIG', `remoteModel: ${path || 'options'}: ${issue?.message ?? 'invalid'}`, { details: { path } });
  }
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
    try {
      response = await doFetch(target, { method: 'POST', headers, body, signal: signalOf(callOptions) ?? null });
    } catch (error) {
      throw networkError(name, error, callOptions, 'the request');
    }
    const bytes = await readBody(name, response, limit, callOptions);
    if (!response.ok) throw httpError(name, response.status, response.headers.get('retry-after'), new TextDecoder().decode(bytes));
    return decode(bytes, response.headers.get(V2_HEADER_LENGTH));
  }

  async function health(): Promise<HealthReport> {
    if (protocol !== 'open-inference-v2') return { ready: true, status: 'ready', message: 'no health endpoint for the json protocol' };
    try {
      const response = await doFetch(readyUrl, { method: 'GET', signal: AbortSignal.timeout(5000) });
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
