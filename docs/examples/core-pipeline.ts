// docs/examples/core-pipeline.ts
import { BallastError, defineModel, isBallastError, type Middleware, type Model, pipeline, remainingMs } from '@ballast/core';

// A model is anything with a name and an async infer().
const sentiment = defineModel({
  name: 'sentiment',
  version: '1',
  infer: async (text: string) => (text.includes('good') ? 'positive' : 'negative'),
});

// A middleware wraps a model in another model with the same interface.
const logged: Middleware = <I, O>(next: Model<I, O>): Model<I, O> => ({
  name: next.name,
  infer: async (input, options) => {
    console.log(`-> ${next.name} (budget left: ${remainingMs(options).toFixed(0)} ms)`);
    return next.infer(input, options);
  },
});

// The first middleware listed is the outermost; pipeline() also owns the call's budget.
const model = pipeline(sentiment, logged);
console.log(await model.infer('a good day', { timeoutMs: 200 }));

// A budget that runs out gives a typed error, whatever the model does.
const stuck = pipeline(defineModel({ name: 'stuck', infer: () => new Promise<string>(() => {}) }));
try {
  await stuck.infer('anything', { timeoutMs: 20 });
} catch (error) {
  if (!isBallastError(error)) throw error;
  console.log(`${error.code}: ${error.message} (HTTP ${error.status}, retryable: ${error.retryable})`);
}
console.log(new BallastError('RATE_LIMITED', 'slow down', { retryAfterMs: 500 }).toJSON());
