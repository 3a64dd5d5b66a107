import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { autoProviders, translateProviderError } from './providers.js';
import { mlpForward, mlpModel, randomLayers, slowModel } from './testing.js';

describe('@ballast/onnx/testing', () => {
  it('builds an MLP that onnxruntime runs like the reference, with each activation', async () => {
    for (const activation of ['relu', 'tanh', 'sigmoid', 'linear'] as const) {
      const layers = randomLayers({ sizes: [5, 7, 3, 2], activation, seed: 3 });
      const session = await ort.InferenceSession.create(mlpModel({ layers, softmax: activation === 'tanh' }));
      const row = [0.5, -1, 2, 0, 0.25];
      const result = await session.run({ input: new ort.Tensor('float32', new Float32Array(row), [1, 5]) });
      const reference = mlpForward(layers, row, activation === 'tanh');
      const data = result.output?.data as Float32Array;
      reference.forEach((value, j) => {
        expect(data[j] as number).toBeCloseTo(value, 5);
      });
      await session.release();
    }
  });

  it('standardises the input inside the model when asked', async () => {
    const layers = randomLayers({ sizes: [3, 4, 2], activation: 'tanh', seed: 5 });
    const normalize = { mean: [10, -2, 0.5], std: [2, 0.5, 4] };
    const session = await ort.InferenceSession.create(mlpModel({ layers, normalize, softmax: true }));
    const row = [12, -1, 3];
    const result = await session.run({ input: new ort.Tensor('float32', new Float32Array(row), [1, 3]) });
    const reference = mlpForward(layers, row, { softmax: true, normalize });
    const data = result.output?.data as Float32Array;
    reference.forEach((value, j) => {
      expect(data[j] as number).toBeCloseTo(value, 5);
    });
    expect(reference).not.toEqual(mlpForward(layers, row, true));
    expect(() => mlpModel({ layers, normalize: { mean: [0, 0, 0], std: [1, 0, 1] } })).toThrow(/non-zero/);
    await session.release();
  });

  it('rejects malformed layers with CONFIG', () => {
    expect(() => mlpModel({ layers: [] })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => mlpModel({ layers: [{ weights: [[1, 2], [3]], bias: [0, 0] }] })).toThrow(/rectangular/);
    expect(() => mlpModel({ layers: [{ weights: [[1, 2]], bias: [0] }] })).toThrow(/bias has 1 values, expected 2/);
    expect(() =>
      mlpModel({
        layers: [
          { weights: [[1, 2]], bias: [0, 0] },
          { weights: [[1]], bias: [0] },
        ],
      }),
    ).toThrow(/takes 1 inputs but the previous layer gives 2/);
  });

  it('builds a slow model whose rows are independent', async () => {
    const session = await ort.InferenceSession.create(slowModel({ size: 8, repeats: 3 }));
    const a = Float32Array.from({ length: 8 }, (_, i) => i / 8);
    const b = Float32Array.from({ length: 8 }, (_, i) => -i / 4);
    const both = await session.run({ x: new ort.Tensor('float32', Float32Array.from([...a, ...b]), [2, 8]) });
    const alone = await session.run({ x: new ort.Tensor('float32', b, [1, 8]) });
    const y = both.y?.data as Float32Array;
    const single = alone.y?.data as Float32Array;
    single.forEach((v, i) => {
      expect(y[8 + i] as number).toBeCloseTo(v, 5);
    });
    await session.release();
  });
});

describe('providers', () => {
  it('lists the auto order per platform', () => {
    expect(autoProviders('linux', 'x64')).toEqual(['tensorrt', 'cuda', 'webgpu', 'cpu']);
    expect(autoProviders('linux', 'arm64')).toEqual(['cpu']);
    expect(autoProviders('win32', 'x64')).toEqual(['dml', 'webgpu', 'cpu']);
    expect(autoProviders('darwin', 'arm64')).toEqual(['coreml', 'webgpu', 'cpu']);
  });

  it('translates the runtime messages it knows and keeps the original', () => {
    expect(translateProviderError('tensorrt', 'Failed to load shared library', 'linux', 'x64')).toMatch(
      /TensorRT provider library .* TensorRT 10/,
    );
    expect(translateProviderError('webgpu', 'Failed to get a WebGPU adapter: No supported adapters')).toMatch(
      /Vulkan loader \(libvulkan1\).*\(onnxruntime: Failed to get a WebGPU adapter/,
    );
    expect(translateProviderError('dml', 'no available backend found. ERR: [dml] backend not found.', 'linux', 'x64')).toMatch(
      /not part of onnxruntime-node on linux-x64; it is available on Windows/,
    );
    expect(translateProviderError('cuda', 'something else\nsecond line')).toBe(
      'the cuda provider failed to load (onnxruntime: something else)',
    );
  });
});
