/*
 * The minimal hand-written batcher the ONNX benchmarks compare Ballast with, in one place so every
 * benchmark measures the same reference: rows queue with their resolvers; a full queue (or the next
 * microtask) sends up to `maxBatch` of them to `session.run`, two runs at most in flight, outputs
 * split as views. No validation, deadlines, events or error handling.
 */
import * as ort from 'onnxruntime-node';

/** Options of {@link minimalBatcher}: the batch size and the row widths of input and output. */
export interface MinimalBatcherOptions {
  maxBatch: number;
  inWidth: number;
  outWidth: number;
}

/** A single-row promise API over `session` (input `input`, output `output`), batched. */
export function minimalBatcher(
  session: ort.InferenceSession,
  options: MinimalBatcherOptions,
): (row: Float32Array) => Promise<Float32Array> {
  const { maxBatch, inWidth, outWidth } = options;
  let waiting: { row: Float32Array; resolve: (value: Float32Array) => void }[] = [];
  let running = 0;
  let flushQueued = false;
  function flush(): void {
    while (running < 2 && waiting.length > 0) {
      const take = waiting.length > maxBatch ? waiting.splice(0, maxBatch) : waiting;
      if (take === waiting) waiting = [];
      const input = new Float32Array(take.length * inWidth);
      for (let k = 0; k < take.length; k++) input.set((take[k] as { row: Float32Array }).row, k * inWidth);
      running++;
      void session.run({ input: new ort.Tensor('float32', input, [take.length, inWidth]) }).then((result) => {
        const output = result.output?.data as Float32Array;
        for (let k = 0; k < take.length; k++) take[k]?.resolve(output.subarray(k * outWidth, k * outWidth + outWidth));
        running--;
        flush();
      });
    }
  }
  return (row) =>
    new Promise<Float32Array>((resolve) => {
      waiting.push({ row, resolve });
      if (waiting.length >= maxBatch) flush();
      else if (!flushQueued) {
        flushQueued = true;
        queueMicrotask(() => {
          flushQueued = false;
          flush();
        });
      }
    });
}
