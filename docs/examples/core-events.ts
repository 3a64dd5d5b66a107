// docs/examples/core-events.ts
import diagnostics from 'node:diagnostics_channel';
import { annotate, CHANNEL_NAMES, defineModel, type InferContext, pipeline } from '@ballast/core';

// Every pipeline() call is traced on the `ballast:infer` TracingChannel when someone listens.
const tracing = diagnostics.tracingChannel<InferContext>(CHANNEL_NAMES.infer);
const started = new WeakMap<InferContext, number>();
const handlers = {
  start: (context: InferContext) => started.set(context, performance.now()),
  asyncEnd: (context: InferContext) => {
    const ms = performance.now() - (started.get(context) ?? 0);
    console.log(`${context.operation} ${context.model}: ${ms.toFixed(2)} ms`, context.attributes);
  },
  error: (context: InferContext) => console.log(`${context.model} failed: ${String(context.error)}`),
};
tracing.subscribe(handlers as never);

const model = pipeline(
  defineModel({
    name: 'echo',
    infer: async (text: string, options) => {
      annotate(options, 'ballast.provider', 'cpu'); // middleware add facts to the call
      return text;
    },
  }),
);
await model.infer('hello');
tracing.unsubscribe(handlers as never);
