import { describe, expect, it } from 'vitest';
import { createBackend } from './backend.js';
import { slowModel } from './testing.js';

describe('worker backend', () => {
  it('replaces a worker that dies and keeps serving meanwhile', async () => {
    const backend = await createBackend({
      bytes: slowModel({ size: 64, repeats: 40 }),
      providers: ['cpu'],
      requireProvider: false,
      workers: 2,
      threadsPerSession: 1,
      sessionOptions: {},
      modelName: 'slow',
    });
    const feeds = () => [{ name: 'x', type: 'float32' as const, dims: [1, 64], data: new Float32Array(64).fill(0.2) }];
    try {
      // Terminating a thread while onnxruntime is inside run() aborts the process (a limitation
      // of the native binding), so the worker is killed between runs here.
      await Promise.all([backend.run(feeds()), backend.run(feeds())]);
      const victim = backend.threads[0];
      await victim?.terminate();
      // Still serving on the survivor while the dead worker is replaced.
      const during = await Promise.all([backend.run(feeds()), backend.run(feeds()), backend.run(feeds())]);
      expect(during.map((o) => o[0]?.dims)).toEqual([
        [1, 64],
        [1, 64],
        [1, 64],
      ]);
      for (let i = 0; i < 500 && backend.threads[0] === victim; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(backend.threads[0]).not.toBe(victim);
      const after = await Promise.all([backend.run(feeds()), backend.run(feeds())]);
      expect(after.map((o) => o[0]?.dims)).toEqual([
        [1, 64],
        [1, 64],
      ]);
    } finally {
      await backend.close();
    }
  });
});
