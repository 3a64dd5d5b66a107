import * as ort from 'onnxruntime-node';
import type { Backend, BackendOptions } from './backend.js';
import { attemptProviders, quietly, sessionOptionsFor } from './provider-attempts.js';
import { runError } from './run-error.js';
import { plainMetadata, toTensor } from './runtime-tensors.js';
import { type Feed, materialize, specsFrom } from './tensors.js';

function fromTensor(name: string, tensor: ort.Tensor): Feed {
  return { name, type: tensor.type as Feed['type'], dims: [...tensor.dims], data: tensor.data as Feed['data'] };
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
  const outputNames = session.outputNames;
  const run = async (feeds: Feed[]): Promise<Feed[]> => {
    const tensors: Record<string, ort.Tensor> = {};
    for (const feed of feeds) tensors[feed.name] = toTensor(feed.type, feed.data, feed.dims);
    let result: ort.InferenceSession.ReturnType;
    try {
      result = await session.run(tensors);
    } catch (error) {
      throw runError(options.modelName, error);
    }
    return outputNames.map((name) => fromTensor(name, result[name] as ort.Tensor));
  };
  return {
    provider,
    attempts,
    inputs,
    outputs,
    run,
    runBatch: (inputs) => run(inputs.map(materialize)),
    warmUp: async (feeds) => {
      await run(feeds());
    },
    close: () => session.release(),
    threads: [],
  };
}
