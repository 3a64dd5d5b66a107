import { BallastError, type InferOptions, type Model, type V2InferResponse } from '@ballast/core';
import type { Guard } from '@ballast/guard';
import { type DecodedV2Request, type DecodeV2Options, decodeV2Request, encodeV2Outputs, type V2TensorMetadata } from './v2-codec.js';

/** What {@link inferV2} needs besides the model and the body. */
export interface InferV2Options {
  /** The model name answered in `model_name`. */
  name: string;
  /** The version answered in `model_version` (left out when undefined). */
  version?: string | undefined;
  /** The guard: input check and output filter. */
  guard?: Guard | undefined;
  /** Most rows per request. */
  maxBatch: number;
  /** The inputs the model declares (datatypes are checked against them). */
  inputs?: readonly V2TensorMetadata[] | undefined;
  /** False for a model that takes whole tensors (one call, inputs of independent shapes); default rows. */
  perExample?: boolean | undefined;
  /** Receives every input's data by name once decoded (what the audit line hashes), in `record.input`. */
  record?: { input?: unknown };
  /**
   * The options of the model call, made once the input passed its checks; `single` says the
   * request has one row, `context` is {@link InferV2Options.context}. Returns the options and, for
   * a batch, a controller aborted when a row fails (so its siblings stop). A function made once,
   * not per request: the request's own data travels in `context`.
   */
  call?: (single: boolean, context: unknown) => { options: InferOptions; controller?: AbortController };
  /** What `call` is given. */
  context?: unknown;
}

/**
 * The inference step of the v2 infer flow, shared by every adapter: decode the body (datatypes
 * checked against the declared inputs) → the guard's input check → infer → encode → the guard's
 * output filter. One row is one `infer()`; a batch is one `inferBatch()` when the model has it (an
 * ONNX model runs it as one session run), else one `infer()` per row, concurrently (so a batching
 * middleware can gather them); a model with `perExample: false` gets the whole tensors in one
 * `infer()`. The response may hold exact `bigint`s and the request may ask for binary outputs:
 * write it with `encodeV2Answer(response, body)`.
 *
 * @example
 * const answer = await inferV2(model, body, { name: 'fraud', maxBatch: 4096 });
 */
export async function inferV2(model: Model, body: unknown, options: InferV2Options): Promise<V2InferResponse> {
  const prepared = prepareV2(body, options);
  const decoded = prepared instanceof Promise ? await prepared : (prepared as DecodedV2Request);
  return answerV2(decoded, await callV2(model, decoded, options), options);
}

/**
 * @internal The first step of {@link inferV2}: the body decoded, recorded and checked by the
 * guard; a promise only when the guard's check is one. The serving core runs the three steps
 * itself, so a request waits on nothing but its body and its model.
 */
export function prepareV2(body: unknown, options: InferV2Options): DecodedV2Request | Promise<DecodedV2Request> {
  const { name, guard } = options;
  // No conditional spread (V8's slow generic path) on every request.
  const decoded = decodeV2Request(body, {
    maxBatch: options.maxBatch,
    inputs: options.inputs,
    perExample: options.perExample,
  } as DecodeV2Options);
  if (options.record !== undefined) options.record.input = decoded.view;
  if (guard === undefined) return decoded;
  // Synchronous for most policies: waited on only when it is a promise.
  const checked = guard.checkInput(name, decoded.view);
  return checked instanceof Promise ? checked.then(() => decoded) : decoded;
}

/**
 * @internal The model call of {@link inferV2}: a single row's output, or every row's (in order).
 */
export function callV2(model: Model, decoded: DecodedV2Request, options: InferV2Options): Promise<unknown> {
  const single = decoded.batch === 1;
  const call = options.call?.(single, options.context);
  const callOptions = call?.options;
  let rows: Promise<unknown[]>;
  try {
    if (single) return model.infer(decoded.rows[0], callOptions);
    rows =
      model.inferBatch !== undefined
        ? model.inferBatch(decoded.rows, callOptions)
        : Promise.all(decoded.rows.map((row) => model.infer(row, callOptions)));
  } catch (error) {
    if (!single) call?.controller?.abort(error);
    return Promise.reject(error);
  }
  // Stop the sibling rows of a failed request (a single row has none; its controller may be the
  // connection's, which must stay usable).
  return rows.catch((error: unknown) => {
    call?.controller?.abort(error);
    throw error;
  });
}

/**
 * @internal The answer of {@link inferV2} from what {@link callV2} resolved to: the outputs
 * encoded, then the guard's output filter.
 */
export function answerV2(decoded: DecodedV2Request, output: unknown, options: InferV2Options): V2InferResponse {
  const { name, guard } = options;
  const rows = decoded.batch === 1 ? [output] : (output as unknown[]);
  if (rows.length !== decoded.batch) {
    throw new BallastError('INTERNAL', `model "${name}" returned ${rows.length} outputs for ${decoded.batch} rows`, {
      details: { model: name },
    });
  }
  // Built field by field in the answer's order: a conditional `...spread` takes V8's generic
  // (slow) path, about 1 µs each, on every request.
  const outputs = encodeV2Outputs(rows, decoded.outputs, decoded.whole);
  const response = { model_name: name } as V2InferResponse;
  if (options.version !== undefined) response.model_version = options.version;
  if (decoded.id !== undefined) response.id = decoded.id;
  response.outputs = outputs;
  return guard === undefined ? response : guard.filterOutput(name, response);
}
