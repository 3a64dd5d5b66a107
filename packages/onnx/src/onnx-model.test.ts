import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type InferContext, isBallastError, type ModelLoadEvent, subscribe } from '@ballast/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encryptModel, generateModelKey } from './encryption.js';
import { type OnnxModel, onnxModel } from './onnx-model.js';
import { fixedShapeModel, identityModel, int64Model, mlpForward, mlpModel, multiInputModel, randomLayers, slowModel } from './testing.js';

const layers = randomLayers({ sizes: [16, 64, 4], seed: 42 });
const mlpBytes = mlpModel({ layers, softmax: true, inputName: 'features', outputName: 'probabilities' });

/** Deterministic rows of 16 values in [-2, 2]. */
function rows(count: number, seed = 1): number[][] {
  return Array.from({ length: count }, (_, r) => Array.from({ length: 16 }, (_, i) => 2 * Math.sin((r + seed) * 31.7 + i * 1.3)));
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

const execFileAsync = promisify(execFile);

let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'ballast-onnx-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('onnxModel on the real runtime', () => {
  it('computes the same MLP as a TypeScript reference, row by row', async () => {
    const model = await onnxModel({ bytes: mlpBytes, name: 'mlp' });
    try {
      expect(model.perExample).toBe(true);
      expect(model.inputs).toEqual([{ name: 'features', type: 'float32', dims: ['batch', 16] }]);
      const inputs = rows(50);
      const outputs = await Promise.all(inputs.map((row) => model.infer({ features: row })));
      outputs.forEach((output, r) => {
        const probabilities = output.probabilities;
        expect(probabilities?.type).toBe('float32');
        expect(probabilities?.dims).toEqual([4]);
        const reference = mlpForward(layers, inputs[r] as number[], true);
        reference.forEach((value, j) => {
          expect(probabilities?.data[j] as number).toBeCloseTo(value, 5);
        });
      });
    } finally {
      await model.close();
    }
  });

  it('returns the same rows batched as unbatched', async () => {
    const batched = await onnxModel({ bytes: mlpBytes, batching: { maxBatchSize: 16 } });
    const unbatched = await onnxModel({ bytes: mlpBytes, batching: false });
    const sizes: number[] = [];
    const stop = subscribe('batch', (event) => {
      if (event.phase === 'dispatch' && event.model === batched.name) sizes.push(event.size);
    });
    try {
      const inputs = rows(200, 7);
      // Typed arrays take the fast path, plain arrays and { data, dims } the general one: a batch
      // mixes all three.
      const forms = (row: number[], r: number) =>
        r % 3 === 0 ? { features: Float32Array.from(row) } : r % 3 === 1 ? { features: row } : { features: { data: row, dims: [16] } };
      const together = await Promise.all(inputs.map((row, r) => batched.infer(forms(row, r))));
      const alone: unknown[] = [];
      for (const row of inputs) alone.push(await unbatched.infer({ features: row }));
      expect(Math.max(...sizes)).toBeGreaterThan(1);
      together.forEach((output, r) => {
        const a = output.probabilities?.data as Float32Array;
        const b = (alone[r] as typeof output).probabilities?.data as Float32Array;
        // One runtime, one kernel: per-row results agree to float rounding of the batched GEMM.
        for (let j = 0; j < 4; j++) expect(a[j] as number).toBeCloseTo(b[j] as number, 6);
      });
    } finally {
      stop();
      await batched.close();
      await unbatched.close();
    }
  });

  it('answers each row of successive full batches with its own output (input arrays reused between runs)', async () => {
    const model = await onnxModel({ bytes: mlpBytes, batching: { maxBatchSize: 8 } });
    try {
      // Waves of full batches, each wave with other rows: a batch written into the array of an
      // earlier run must not answer with that run's rows.
      for (let wave = 0; wave < 4; wave++) {
        const inputs = rows(48, 100 + wave);
        const outputs = await Promise.all(inputs.map((row) => model.infer({ features: Float32Array.from(row) })));
        outputs.forEach((output, r) => {
          const reference = mlpForward(layers, inputs[r] as number[], true);
          reference.forEach((value, j) => {
            expect(output.probabilities?.data[j] as number).toBeCloseTo(value, 5);
          });
        });
      }
    } finally {
      await model.close();
    }
  });

  it('gives the same results in worker threads as on the main thread', async () => {
    const main = await onnxModel({ bytes: mlpBytes });
    const threaded = await onnxModel({ bytes: mlpBytes, workers: 2, intraOpThreads: 2 });
    try {
      const inputs = rows(300, 3);
      const [a, b] = await Promise.all([
        Promise.all(inputs.map((row) => main.infer({ features: row }))),
        Promise.all(inputs.map((row) => threaded.infer({ features: new Float32Array(row) }))),
      ]);
      a.forEach((output, r) => {
        const x = output.probabilities?.data as Float32Array;
        const y = b[r]?.probabilities?.data as Float32Array;
        for (let j = 0; j < 4; j++) expect(y[j] as number).toBeCloseTo(x[j] as number, 6);
      });
    } finally {
      await main.close();
      await threaded.close();
    }
  });

  it('does not detach or change the caller typed arrays when sending them to workers', async () => {
    const model = await onnxModel({ bytes: mlpBytes, workers: 1 });
    try {
      const row = new Float32Array(rows(1)[0] as number[]);
      const copy = row.slice();
      await model.infer({ features: row });
      expect(row.length).toBe(16);
      expect(row).toEqual(copy);
    } finally {
      await model.close();
    }
    // Large inputs go to the worker as a message whose buffer is moved: the caller's array is
    // copied first, alone and in a batch.
    const large = await onnxModel({ bytes: identityModel({ dims: [20_000] }), workers: 1 });
    try {
      const values = Float32Array.from({ length: 20_000 }, (_, i) => i % 7);
      const [alone] = await Promise.all([large.infer({ x: values })]);
      const batch = await Promise.all([large.infer({ x: values }), large.infer({ x: values })]);
      for (const output of [alone, ...batch]) expect(Array.from(output.y?.data as Float32Array)).toEqual(Array.from(values));
      expect(values.length).toBe(20_000);
      expect(values[6]).toBe(6);
    } finally {
      await large.close();
    }
  });

  it('records a failed cuda attempt with a translated reason and serves on cpu', async () => {
    const model = await onnxModel({ bytes: mlpBytes, providers: ['cuda', 'cpu'] });
    try {
      expect(model.provider).toBe('cpu');
      const [cuda, cpu] = model.providerAttempts;
      expect(cuda?.provider).toBe('cuda');
      expect(cuda?.ok).toBe(false);
      expect(cuda?.reason).toMatch(/install script/);
      expect(cuda?.reason).toMatch(/CUDA 12 and cuDNN 9/);
      expect(cuda?.reason).toMatch(/onnxruntime: .*Failed to load shared library/);
      expect(cpu).toEqual({ provider: 'cpu', ok: true });
      const output = await model.infer({ features: rows(1)[0] as number[] });
      expect(output.probabilities?.dims).toEqual([4]);
    } finally {
      await model.close();
    }
  });

  it.each([0, 1])('keeps onnxruntime’s failed provider loads off stderr, in the attempts instead (workers: %i)', async (workers) => {
    // A child process: onnxruntime's log level is set once per process, when its first session starts.
    const fixture = fileURLToPath(new URL('./fixtures/provider-attempts.ts', import.meta.url));
    const child = await execFileAsync(process.execPath, ['--import', 'tsx', '--conditions=source', fixture, String(workers)], {
      cwd: fileURLToPath(new URL('../../..', import.meta.url)),
      timeout: 60_000,
    });
    const report = JSON.parse(child.stdout) as { provider: string; attempts: { provider: string; ok: boolean; reason?: string }[] };
    expect(report.provider).toBe('cpu');
    expect(report.attempts.map((a) => [a.provider, a.ok])).toEqual([
      ['tensorrt', false],
      ['cuda', false],
      ['webgpu', false],
      ['cpu', true],
    ]);
    expect(report.attempts[1]?.reason).toMatch(/onnxruntime: .*Failed to load shared library/);
    expect(child.stderr).not.toMatch(/\[E:onnxruntime/);
  });

  it('fails with MODEL_UNAVAILABLE when the required provider does not load', async () => {
    const error = await rejection(onnxModel({ bytes: mlpBytes, providers: ['cuda', 'cpu'], requireProvider: true }));
    expect(isBallastError(error) && error.code).toBe('MODEL_UNAVAILABLE');
    expect((error as Error).message).toMatch(/requires the cuda provider/);
    const attempts = (error as { details: { attempts: { provider: string; ok: boolean }[] } }).details.attempts;
    expect(attempts.map((a) => a.provider)).toEqual(['cuda']);
    expect(await rejection(onnxModel({ bytes: mlpBytes, providers: ['cpu'], requireProvider: 'cuda' }))).toMatchObject({ code: 'CONFIG' });
  });

  it('explains providers that do not exist on this platform', async () => {
    const model = await onnxModel({ bytes: mlpBytes, providers: ['coreml', 'cpu'], workers: 1 });
    try {
      expect(model.providerAttempts[0]?.reason).toMatch(/not part of onnxruntime-node on linux-x64; it is available on macOS/);
      expect(model.provider).toBe('cpu');
    } finally {
      await model.close();
    }
  });

  it('publishes ballast:model-load and annotates traced calls with provider and batch size', async () => {
    const loads: ModelLoadEvent[] = [];
    const stop = subscribe('modelLoad', (event) => loads.push(event));
    const contexts: InferContext[] = [];
    const tracing = diagnostics.tracingChannel<InferContext>('ballast:infer');
    const handlers = { asyncEnd: (context: InferContext) => contexts.push(context) };
    tracing.subscribe(handlers as never);
    try {
      const model = await onnxModel({ bytes: mlpBytes, name: 'traced', version: 'v1', providers: ['cuda', 'cpu'] });
      await Promise.all(rows(8).map((row) => model.infer({ features: row })));
      await model.reload();
      await model.close();
      expect(loads.map((e) => [e.model, e.phase, e.provider, e.version])).toEqual([
        ['traced', 'load', 'cpu', 'v1'],
        ['traced', 'reload', 'cpu', 'v1'],
      ]);
      expect(loads[0]?.attempts.map((a) => a.ok)).toEqual([false, true]);
      expect(loads[0]?.durationMs).toBeGreaterThan(0);
      const traced = contexts.filter((c) => c.model === 'traced');
      expect(traced).toHaveLength(8);
      for (const context of traced) {
        expect(context.attributes['ballast.provider']).toBe('cpu');
        expect(context.attributes['ballast.batch.size']).toBeGreaterThanOrEqual(1);
      }
      expect(Math.max(...traced.map((c) => c.attributes['ballast.batch.size'] as number))).toBeGreaterThan(1);
    } finally {
      stop();
      tracing.unsubscribe(handlers as never);
    }
  });

  it('honours the call budget through pipeline(): TIMEOUT while the runtime is busy', async () => {
    const model = await onnxModel({
      bytes: slowModel({ size: 128, repeats: 200 }),
      batching: { maxBatchSize: 1, maxInFlight: 1 },
      warmUp: false,
    });
    try {
      const row = new Array<number>(128).fill(0.1);
      // The first call occupies the session; the second waits in the queue past its budget.
      const busy = model.infer({ x: row });
      const late = await rejection(model.infer({ x: row }, { timeoutMs: 0.5 }));
      expect(isBallastError(late) && late.code).toBe('TIMEOUT');
      await busy;
    } finally {
      await model.close();
    }
  });

  it('fails a tampered file with INTEGRITY when pinned by sha256', async () => {
    const path = join(directory, 'mlp.onnx');
    await writeFile(path, mlpBytes);
    const sha256 = createHash('sha256').update(mlpBytes).digest('hex');
    const good = await onnxModel({ path, sha256 });
    expect(good.name).toBe('mlp');
    await good.close();
    const tampered = Buffer.from(mlpBytes);
    tampered[tampered.length - 5] = (tampered[tampered.length - 5] as number) ^ 0xff;
    await writeFile(path, tampered);
    const error = await rejection(onnxModel({ path, sha256 }));
    expect(isBallastError(error) && error.code).toBe('INTEGRITY');
    expect((error as Error).message).toMatch(/expected/);
  });

  it('round-trips an encrypted model decrypted in memory; a changed byte or wrong key is INTEGRITY', async () => {
    const key = generateModelKey();
    const path = join(directory, 'mlp.onnx.enc');
    const sealed = encryptModel(mlpBytes, key);
    await writeFile(path, sealed);
    expect(Buffer.from(sealed).includes(Buffer.from(mlpBytes.subarray(0, 64)))).toBe(false);
    const plain = await onnxModel({ bytes: mlpBytes });
    const encrypted = await onnxModel({ path, key, sha256: createHash('sha256').update(sealed).digest('hex') });
    try {
      const row = rows(1)[0] as number[];
      expect((await encrypted.infer({ features: row })).probabilities?.data).toEqual(
        (await plain.infer({ features: row })).probabilities?.data,
      );
      // A reload with only a new path keeps the key (and drops the old pin).
      const layers9 = randomLayers({ sizes: [16, 64, 4], seed: 9 });
      const second = encryptModel(mlpModel({ layers: layers9, inputName: 'features', outputName: 'probabilities' }), key);
      await writeFile(join(directory, 'v2.onnx.enc'), second);
      await encrypted.reload({ path: join(directory, 'v2.onnx.enc') });
      const after = (await encrypted.infer({ features: row })).probabilities?.data as Float32Array;
      expect(after[0] as number).toBeCloseTo(mlpForward(layers9, row)[0] as number, 5);
    } finally {
      await plain.close();
      await encrypted.close();
    }
    const changed = Buffer.from(await readFile(path));
    changed[changed.length - 1] = (changed[changed.length - 1] as number) ^ 1;
    expect(await rejection(onnxModel({ bytes: changed, key }))).toMatchObject({ code: 'INTEGRITY' });
    expect(await rejection(onnxModel({ path, key: generateModelKey() }))).toMatchObject({ code: 'INTEGRITY' });
    expect(await rejection(onnxModel({ path }))).toMatchObject({ code: 'CONFIG' });
  });

  it('reloads 100 times under concurrent load without failing a request', async () => {
    const second = randomLayers({ sizes: [16, 64, 4], seed: 43 });
    const versions = [mlpBytes, mlpModel({ layers: second, softmax: true, inputName: 'features', outputName: 'probabilities' })];
    for (const workers of [0, 1]) {
      const model = await onnxModel({ bytes: mlpBytes, workers, warmUp: workers === 0 });
      let stop = false;
      let served = 0;
      const failures: unknown[] = [];
      const inputs = rows(16);
      const callers = Array.from({ length: 16 }, async (_, c) => {
        while (!stop) {
          try {
            const output = await model.infer({ features: inputs[c] as number[] });
            if (output.probabilities?.data.length !== 4) failures.push(new Error('bad output'));
            served++;
          } catch (error) {
            failures.push(error);
          }
        }
      });
      const reloads = workers === 0 ? 100 : 10;
      for (let i = 0; i < reloads; i++) await model.reload({ bytes: versions[(i + 1) % 2] as Uint8Array });
      stop = true;
      await Promise.all(callers);
      expect(failures).toEqual([]);
      expect(served).toBeGreaterThan(reloads);
      expect((await model.health()).details?.reloads).toBe(reloads);
      await model.close();
    }
  });

  it('keeps the old model serving when a reload fails, and reports why', async () => {
    const model = await onnxModel({ bytes: mlpBytes });
    try {
      const error = await rejection(model.reload({ bytes: new Uint8Array([1, 2, 3]) }));
      expect(isBallastError(error) && error.code).toBe('CONFIG');
      const other = await rejection(model.reload({ bytes: multiInputModel() }));
      expect((other as Error).message).toMatch(/other inputs or outputs/);
      const health = await model.health();
      expect(health).toMatchObject({ ready: true, status: 'degraded' });
      expect(health.message).toMatch(/last reload failed/);
      expect((await model.infer({ features: rows(1)[0] as number[] })).probabilities?.dims).toEqual([4]);
      await model.reload();
      expect((await model.health()).status).toBe('ready');
    } finally {
      await model.close();
    }
  });

  it('checks a golden sample in health()', async () => {
    const row = rows(1)[0] as number[];
    const expected = mlpForward(layers, row, true);
    const good = await onnxModel({
      bytes: mlpBytes,
      golden: { input: { features: row }, output: { probabilities: expected }, tolerance: 1e-5 },
    });
    const health = await good.health();
    expect(health).toMatchObject({ ready: true, status: 'ready', details: { provider: 'cpu', golden: { ok: true } } });
    await good.close();
    expect(await good.health()).toMatchObject({ ready: false, status: 'unavailable' });
    const wrong = await onnxModel({
      bytes: mlpBytes,
      golden: { input: { features: row }, output: { probabilities: expected.map((v) => v + 0.01) } },
    });
    expect(await wrong.health()).toMatchObject({ ready: false, status: 'degraded' });
    await wrong.close();
  });

  it('serves multi-input, int64, bool, string and float16 models', async () => {
    const multi = await onnxModel({ bytes: multiInputModel({ width: 2 }) });
    expect(await multi.infer({ a: [1, 2], b: [3, 4] })).toEqual({
      sum: { type: 'float32', dims: [2], data: new Float32Array([4, 6]) },
      product: { type: 'float32', dims: [2], data: new Float32Array([3, 8]) },
    });
    await multi.close();
    const ids = await onnxModel({ bytes: int64Model({ width: 2, factor: 3 }), workers: 1 });
    const [a, b] = await Promise.all([ids.infer({ ids: [2, 5] }), ids.infer({ ids: new BigInt64Array([2n ** 40n, -1n]) })]);
    expect(a.scaled?.data).toEqual(new BigInt64Array([6n, 15n]));
    expect(b.scaled?.data).toEqual(new BigInt64Array([3n * 2n ** 40n, -3n]));
    expect(b.asFloat?.data).toEqual(new Float32Array([2 ** 40, -1]));
    await ids.close();
    for (const workers of [0, 1]) {
      const flags = await onnxModel({ bytes: identityModel({ type: 'bool', dims: [3] }), workers });
      expect((await flags.infer([true, false, true])).y).toEqual({ type: 'bool', dims: [3], data: [true, false, true] });
      await flags.close();
      const half = await onnxModel({ bytes: identityModel({ type: 'float16', dims: [3] }), workers });
      expect((await half.infer({ x: [1.5, -2, 65504] })).y?.data).toEqual(new Float32Array([1.5, -2, 65504]));
      await half.close();
    }
    const words = await onnxModel({ bytes: identityModel({ type: 'string', dims: [2] }), workers: 1 });
    const [w1, w2] = await Promise.all([words.infer({ x: ['a', 'bc'] }), words.infer({ x: ['', 'é'] })]);
    expect(w1.y?.data).toEqual(['a', 'bc']);
    expect(w2.y?.data).toEqual(['', 'é']);
    await words.close();
  });

  it('groups inputs with different trailing shapes into separate batches', async () => {
    const model = await onnxModel({ bytes: identityModel({ type: 'float32', dims: ['length'] }) });
    try {
      const inputs = [[1, 2], [3], [4, 5], [6, 7, 8], [9]];
      const outputs = await Promise.all(inputs.map((x) => model.infer({ x })));
      outputs.forEach((output, i) => {
        expect(output.y?.dims).toEqual([inputs[i]?.length]);
        expect(Array.from(output.y?.data as Float32Array)).toEqual(inputs[i]);
      });
      const batch = await model.inferBatch?.([{ x: [1] }, { x: [2, 3] }, { x: [4] }]);
      expect(batch?.map((o) => Array.from(o.y?.data as Float32Array))).toEqual([[1], [2, 3], [4]]);
    } finally {
      await model.close();
    }
  });

  it('takes whole tensors when the first dimension is fixed', async () => {
    const model = await onnxModel({ bytes: fixedShapeModel({ dims: [2, 2], offset: 10 }), workers: 1 });
    try {
      expect(model.perExample).toBe(false);
      expect(
        await model.infer({
          x: [
            [1, 2],
            [3, 4],
          ],
        }),
      ).toEqual({ y: { type: 'float32', dims: [2, 2], data: new Float32Array([11, 12, 13, 14]) } });
      expect(await model.infer({ x: new Float32Array([0, 0, 0, 1]) })).toMatchObject({ y: { dims: [2, 2] } });
      expect(await rejection(model.infer({ x: [1, 2] }))).toMatchObject({ code: 'INVALID_INPUT' });
    } finally {
      await model.close();
    }
  });

  it('rejects bad options, unloadable bytes and calls after close with typed errors', async () => {
    expect(await rejection(onnxModel({ bytes: mlpBytes, workers: -1 }))).toMatchObject({ code: 'CONFIG' });
    expect(await rejection(onnxModel({ bytes: mlpBytes, providers: ['gpu' as never] }))).toMatchObject({ code: 'CONFIG' });
    expect(await rejection(onnxModel({}))).toMatchObject({
      code: 'CONFIG',
      message: expect.stringMatching(/^onnxModel: .*"path" or "bytes"/),
    });
    const unknown = await rejection(onnxModel({ bytes: mlpBytes, providers: ['cuda11' as never] }));
    expect(unknown).toMatchObject({ code: 'CONFIG', message: expect.stringContaining('"cuda11"') });
    expect((unknown as Error).message).toContain('tensorrt, cuda, webgpu, dml, coreml, cpu');
    expect(((await rejection(onnxModel({ bytes: mlpBytes, requireProvider: 'gpu' as never }))) as Error).message).toContain(
      'tensorrt, cuda, webgpu, dml, coreml, cpu',
    );
    expect(await rejection(onnxModel({ path: join(directory, 'missing.onnx') }))).toMatchObject({ code: 'CONFIG' });
    const broken = await rejection(onnxModel({ bytes: new Uint8Array([8, 1, 2, 3]) }));
    expect(broken).toMatchObject({ code: 'CONFIG' });
    expect((broken as Error).message).toMatch(/did not load/);
    const model: OnnxModel = await onnxModel({ bytes: mlpBytes });
    await model.close();
    expect(await rejection(model.infer({ features: rows(1)[0] as number[] }))).toMatchObject({ code: 'MODEL_UNAVAILABLE' });
  });
});
