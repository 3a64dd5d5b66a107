import { BallastError, type InferOptions, type Middleware, type Model, wrapModel } from '@ballast/core';
import type { DriftMonitor } from './monitor.js';
import { OUTPUT_FEATURES, type OutputFeaturesOptions, outputFeatures } from './outputs.js';

/** Options of {@link driftMiddleware}. */
export interface DriftMiddlewareOptions<I = unknown, O = unknown> {
  /** Share of calls observed, in [0, 1]. Default 0.1. */
  sampleRate?: number;
  /** Maps a call's input to a feature row. Default: the input itself when it is a plain object. */
  input?: (input: I) => Readonly<Record<string, unknown>> | undefined;
  /**
   * Maps the output to output features (see `outputFeatures`), or `true` to use `outputFeatures`
   * on the raw output. Default: outputs are not monitored.
   */
  output?: true | ((output: O) => Readonly<Record<string, unknown>> | undefined);
  /** Class labels for probability outputs when `output` is `true`. */
  labels?: OutputFeaturesOptions['labels'];
  /**
   * Id of the call, so a label arriving later can be matched with `monitor.recordOutcome(id, label)`;
   * the predicted label (`__prediction__`) is remembered for sampled calls.
   */
  id?: (input: I, options: InferOptions | undefined) => string | undefined;
  /** Sampled calls buffered before they are handed to the monitor (also flushed on the next tick). Default 64. */
  batchSize?: number;
  /** Called when mapping or monitoring a sampled call fails (the call itself is never affected). */
  onError?: (error: unknown) => void;
  /** Random source in [0, 1) for sampling. Default `Math.random`. */
  random?: () => number;
}

/** A drift middleware, with a way to hand buffered samples to the monitor now. */
export interface DriftMiddleware extends Middleware {
  /** Hands buffered samples to the monitor synchronously. */
  flush(): void;
}

function isPlainObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

/**
 * Observes a share of the traffic of a model for drift, off the hot path: a call that is not
 * sampled costs one random draw and a comparison; a sampled call's input and output are pushed to
 * a buffer that is handed to the monitor in batches after the call has resolved (on the next
 * tick, or when `batchSize` samples wait). Mapping and monitoring errors never reach the caller.
 *
 * @example
 * const monitor = new DriftMonitor({ reference: profile, window: { size: 300 } });
 * const model = pipeline(base, driftMiddleware(monitor, { sampleRate: 0.2, output: true }));
 */
export function driftMiddleware<I = unknown, O = unknown>(
  monitor: DriftMonitor,
  options: DriftMiddlewareOptions<I, O> = {},
): DriftMiddleware {
  const { sampleRate = 0.1, batchSize = 64, random = Math.random, onError, labels } = options;
  if (!(sampleRate >= 0 && sampleRate <= 1)) throw new BallastError('CONFIG', 'sampleRate must be in [0, 1]');
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new BallastError('CONFIG', 'batchSize must be a positive integer');
  if (monitor === null || typeof monitor !== 'object' || typeof monitor.observeRows !== 'function') {
    throw new BallastError('CONFIG', 'driftMiddleware needs a DriftMonitor');
  }
  const mapInput = options.input ?? ((input: I) => (isPlainObject(input) ? input : undefined));
  const mapOutput =
    options.output === true ? (output: O) => outputFeatures(output, labels === undefined ? {} : { labels }) : options.output;
  const idOf = options.id;
  const inputs: I[] = [];
  const outputs: O[] = [];
  const ids: (string | undefined)[] = [];
  let scheduled = false;

  const report = (error: unknown): void => {
    if (onError) {
      try {
        onError(error);
      } catch {
        // an error handler that throws must not break the flush
      }
    }
  };

  function flush(): void {
    scheduled = false;
    if (inputs.length === 0) return;
    const batchInputs = inputs.splice(0);
    const batchOutputs = outputs.splice(0);
    const batchIds = ids.splice(0);
    const rows: Record<string, unknown>[] = [];
    for (let i = 0; i < batchInputs.length; i++) {
      try {
        const row: Record<string, unknown> = { ...(mapInput(batchInputs[i] as I) ?? {}) };
        if (mapOutput) Object.assign(row, mapOutput(batchOutputs[i] as O) ?? {});
        const id = batchIds[i];
        const prediction = row[OUTPUT_FEATURES.prediction];
        if (id !== undefined && (typeof prediction === 'string' || typeof prediction === 'number')) {
          monitor.recordPrediction(id, prediction);
        }
        rows.push(row);
      } catch (error) {
        report(error);
      }
    }
    try {
      monitor.observeRows(rows);
    } catch (error) {
      report(error);
    }
  }

  function enqueue(input: I, output: O, id: string | undefined): void {
    inputs.push(input);
    outputs.push(output);
    ids.push(id);
    if (inputs.length >= batchSize) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  }

  const middleware = function driftObserver<MI, MO>(next: Model<MI, MO>): Model<MI, MO> {
    function observed(input: MI, callOptions?: InferOptions): Promise<MO> {
      // Hot path: one draw; an unsampled call goes straight through.
      if (sampleRate === 0 || random() >= sampleRate) return next.infer(input, callOptions);
      let id: string | undefined;
      try {
        id = idOf?.(input as unknown as I, callOptions);
      } catch (error) {
        report(error);
      }
      return next.infer(input, callOptions).then((output) => {
        enqueue(input as unknown as I, output as unknown as O, id);
        return output;
      });
    }
    return wrapModel(next, {
      infer: observed,
      ...(next.inferBatch
        ? {
            inferBatch: (batch: readonly MI[], callOptions?: InferOptions) =>
              (next.inferBatch as NonNullable<Model<MI, MO>['inferBatch']>).call(next, batch, callOptions).then((results) => {
                for (let i = 0; i < batch.length; i++) {
                  if (sampleRate > 0 && random() < sampleRate) {
                    enqueue(batch[i] as unknown as I, results[i] as unknown as O, undefined);
                  }
                }
                return results;
              }),
          }
        : {}),
    });
  } as DriftMiddleware;
  middleware.flush = flush;
  return middleware;
}
