import * as ort from 'onnxruntime-node';
import type { Backend, BackendOptions } from './backend.js';
import { attemptProviders, quietly, sessionOptionsFor } from './provider-attempts.js';
import { runError } from './run-error.js';
import { plainMetadata, propertyKey, toTensor } from './runtime-tensors.js';
import { type BatchInput, type Feed, materialize, specsFrom, type TypedArray } from './tensors.js';

function fromTensor(name: string, tensor: ort.Tensor): Feed {
  return { name, type: tensor.type as Feed['type'], dims: [...tensor.dims], data: tensor.data as Feed['data'] };
}

/** Keeps the input arrays of a settled run as the spares of the next batch. */
function recycle(feeds: readonly Feed[], spares: (TypedArray | undefined)[]): void {
  for (let i = 0; i < feeds.length; i++) {
    const data = (feeds[i] as Feed).data;
    if (!Array.isArray(data)) spares[i] = data;
  }
}

/** Loads a model into one session on the calling thread (`workers: 0`). */
export async function createMainBackend(options: BackendOptions): Promise<Backend> {
  const {
    value: session,
    provider,
    attempts,
  } = await quietly(() =>
    attemptProviders(options, async (p) => {
      const s = await ort.InferenceSession.create(options.bytes, sessionOptionsFor(options, p));
      return Object.assign(s, { close: () => s.release() });
    }),
  );
  const inputs = specsFrom(plainMetadata(session.inputMetadata), 'input');
  const outputs = specsFrom(plainMetadata(session.outputMetadata), 'output');
  const outputNames = session.outputNames.map(propertyKey);
  const fail = (error: unknown): never => {
    throw runError(options.modelName, error);
  };
  const outputsOf = (result: ort.InferenceSession.ReturnType): Feed[] =>
    outputNames.map((name) => fromTensor(name, result[name] as ort.Tensor));
  // A promise chain rather than an async function: one reaction per run instead of an await's.
  const run = (feeds: Feed[]): Promise<Feed[]> => {
    const tensors: Record<string, ort.Tensor> = {};
    for (const feed of feeds) tensors[feed.name] = toTensor(feed.type, feed.data, feed.dims);
    let running: Promise<ort.InferenceSession.ReturnType>;
    try {
      running = session.run(tensors);
    } catch (error) {
      return Promise.reject(runError(options.modelName, error));
    }
    return running.then(outputsOf, fail);
  };
  /*
   * The input arrays of finished batch runs, one per input, taken again by the next batch of the
   * same length (under load nearly every batch is full): no fresh zeroed array per batch, which a
   * profile of bench/onnx.ts put at about a third of the cost of writing the rows. onnxruntime
   * reads an input only while its run lasts, so an array is spare once its run has settled.
   */
  let spares: (TypedArray | undefined)[] = [];
  const runBatch = (batch: readonly BatchInput[]): Promise<Feed[]> => {
    const taken = spares;
    spares = [];
    const feeds = batch.map((input, i) => materialize(input, taken[i]));
    return run(feeds).then(
      (outputs) => {
        recycle(feeds, spares);
        return outputs;
      },
      (error: unknown) => {
        recycle(feeds, spares);
        throw error;
      },
    );
  };
  return {
    provider,
    attempts,
    inputs,
    outputs,
    run,
    runBatch,
    warmUp: async (feeds) => {
      await run(feeds());
    },
    close: () => session.release(),
    threads: [],
  };
}
