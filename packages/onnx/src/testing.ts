/**
 * @packageDocumentation
 * Builders for small ONNX models, written with `onnx-proto`: an MLP from given weights, a
 * multi-input model, an int64 model, a fixed-shape model, an identity model of any element type
 * and a deliberately slow model. Tests, examples and benchmarks use them instead of binary files,
 * and an app can export a model it trained in TypeScript with {@link mlpModel}.
 */
import { BallastError, type TensorType } from '@ballast/core';
import onnxProto from 'onnx-proto';

// onnx-proto is CommonJS; its namespace is the default export under ESM.
const { onnx } = onnxProto;

/** Activation after a dense layer. */
export type Activation = 'relu' | 'tanh' | 'sigmoid' | 'linear';

/** One dense layer: `y = activation(x · weights + bias)`. */
export interface DenseLayer {
  /** Weights, `[inputs][outputs]` (row i holds the weights from input i). */
  weights: readonly (readonly number[])[];
  /** Bias, one value per output. */
  bias: readonly number[];
  /** Activation; default `linear` (none). */
  activation?: Activation;
}

/** The first dimension of a model's inputs: `'dynamic'` (a symbolic `batch`) or a fixed size. */
export type BatchDimension = 'dynamic' | number;

/** Per-feature standardisation applied to the input first: `(x - mean) / std`. */
export interface Normalization {
  /** Mean of each input feature. */
  mean: readonly number[];
  /** Standard deviation of each input feature (non-zero). */
  std: readonly number[];
}

/** Options of {@link mlpModel}. */
export interface MlpModelOptions {
  /** The layers, first to last. */
  layers: readonly DenseLayer[];
  /** Standardise the input inside the model, so callers send raw features. */
  normalize?: Normalization;
  /** Apply softmax to the last layer's output (after its activation). Default false. */
  softmax?: boolean;
  /** Input name. Default `input`. */
  inputName?: string;
  /** Output name. Default `output`. */
  outputName?: string;
  /** First dimension of the input. Default `'dynamic'`. */
  batch?: BatchDimension;
  /** Stored in the model's `producerName`/`docString`. */
  description?: string;
}

const ELEMENT_TYPES: Record<TensorType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
};

type Node = InstanceType<typeof onnx.NodeProto>;
type ValueInfo = InstanceType<typeof onnx.ValueInfoProto>;
type Initializer = InstanceType<typeof onnx.TensorProto>;

function valueInfo(name: string, type: TensorType, dims: readonly (number | string)[]): ValueInfo {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: ELEMENT_TYPES[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}

function floatTensor(name: string, dims: readonly number[], values: ArrayLike<number>): Initializer {
  const data = Float32Array.from(values as ArrayLike<number>);
  return onnx.TensorProto.create({ name, dims: [...dims], dataType: 1, rawData: new Uint8Array(data.buffer) });
}

function int64Tensor(name: string, dims: readonly number[], values: readonly number[]): Initializer {
  const data = BigInt64Array.from(values.map((v) => BigInt(v)));
  return onnx.TensorProto.create({ name, dims: [...dims], dataType: 7, rawData: new Uint8Array(data.buffer) });
}

function node(opType: string, inputs: string[], outputs: string[], attributes: Record<string, number | number[]> = {}): Node {
  return onnx.NodeProto.create({
    opType,
    input: inputs,
    output: outputs,
    name: `${opType}_${outputs[0]}`,
    attribute: Object.entries(attributes).map(([name, value]) =>
      Array.isArray(value)
        ? { name, type: onnx.AttributeProto.AttributeType.INTS, ints: value }
        : { name, type: onnx.AttributeProto.AttributeType.INT, i: value },
    ),
  });
}

interface GraphParts {
  name: string;
  nodes: Node[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers?: Initializer[];
  description?: string;
}

function encodeModel(parts: GraphParts): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 7,
    producerName: '@ballast/onnx/testing',
    docString: parts.description ?? '',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: parts.name,
      node: parts.nodes,
      input: parts.inputs,
      output: parts.outputs,
      initializer: parts.initializers ?? [],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

function batchDim(batch: BatchDimension | undefined): number | string {
  if (batch === undefined || batch === 'dynamic') return 'batch';
  if (!Number.isInteger(batch) || batch < 1)
    throw new BallastError('CONFIG', `batch must be 'dynamic' or a positive integer, got ${batch}`);
  return batch;
}

function checkLayers(layers: readonly DenseLayer[]): void {
  if (!Array.isArray(layers) || layers.length === 0) throw new BallastError('CONFIG', 'mlpModel: layers must be a non-empty array');
  let width: number | undefined;
  layers.forEach((layer, index) => {
    const rows = layer.weights.length;
    const columns = layer.weights[0]?.length ?? 0;
    if (rows === 0 || columns === 0 || layer.weights.some((row: readonly number[]) => row.length !== columns)) {
      throw new BallastError('CONFIG', `mlpModel: layer ${index} weights must be a non-empty rectangular [inputs][outputs] array`);
    }
    if (width !== undefined && rows !== width) {
      throw new BallastError('CONFIG', `mlpModel: layer ${index} takes ${rows} inputs but the previous layer gives ${width}`);
    }
    if (layer.bias.length !== columns) {
      throw new BallastError('CONFIG', `mlpModel: layer ${index} bias has ${layer.bias.length} values, expected ${columns}`);
    }
    width = columns;
  });
}

/**
 * Builds an MLP as ONNX bytes: `MatMul` + `Add` + activation per layer, optional `Softmax`.
 * Input `[batch, inputs]` float32, output `[batch, outputs]` float32.
 *
 * @example
 * const bytes = mlpModel({
 *   layers: [
 *     { weights: [[1, -1], [0.5, 2]], bias: [0, 0.1], activation: 'relu' },
 *     { weights: [[1], [1]], bias: [0] },
 *   ],
 * });
 * const model = await onnxModel({ bytes });
 */
export function mlpModel(options: MlpModelOptions): Uint8Array {
  const { layers, softmax = false, inputName = 'input', outputName = 'output' } = options;
  checkLayers(layers);
  const batch = batchDim(options.batch);
  const nodes: Node[] = [];
  const initializers: Initializer[] = [];
  let current = inputName;
  const width = (layers[0] as DenseLayer).weights.length;
  if (options.normalize !== undefined) {
    const { mean, std } = options.normalize;
    if (mean.length !== width || std.length !== width || std.some((v) => !(Math.abs(v) > 0))) {
      throw new BallastError('CONFIG', `mlpModel: normalize needs ${width} means and ${width} non-zero standard deviations`);
    }
    initializers.push(floatTensor('mean', [width], mean), floatTensor('std', [width], std));
    nodes.push(node('Sub', [current, 'mean'], ['centered']), node('Div', ['centered', 'std'], ['normalized']));
    current = 'normalized';
  }
  layers.forEach((layer, index) => {
    const rows = layer.weights.length;
    const columns = layer.bias.length;
    const flat: number[] = [];
    for (const row of layer.weights) flat.push(...row);
    initializers.push(floatTensor(`w${index}`, [rows, columns], flat), floatTensor(`b${index}`, [columns], layer.bias));
    nodes.push(node('MatMul', [current, `w${index}`], [`mm${index}`]), node('Add', [`mm${index}`, `b${index}`], [`z${index}`]));
    current = `z${index}`;
    const activation = layer.activation ?? 'linear';
    if (activation !== 'linear') {
      const op = { relu: 'Relu', tanh: 'Tanh', sigmoid: 'Sigmoid' }[activation];
      if (op === undefined) throw new BallastError('CONFIG', `mlpModel: unknown activation "${activation}"`);
      nodes.push(node(op, [current], [`a${index}`]));
      current = `a${index}`;
    }
  });
  if (softmax) {
    nodes.push(node('Softmax', [current], ['softmax'], { axis: -1 }));
    current = 'softmax';
  }
  nodes.push(node('Identity', [current], [outputName]));
  const first = layers[0] as DenseLayer;
  const last = layers[layers.length - 1] as DenseLayer;
  return encodeModel({
    name: 'mlp',
    nodes,
    initializers,
    inputs: [valueInfo(inputName, 'float32', [batch, first.weights.length])],
    outputs: [valueInfo(outputName, 'float32', [batch, last.bias.length])],
    ...(options.description === undefined ? {} : { description: options.description }),
  });
}

/** Options of {@link mlpForward}. */
export interface MlpForwardOptions {
  /** Apply softmax at the end. Default false. */
  softmax?: boolean;
  /** Standardise the input first, as {@link MlpModelOptions.normalize}. */
  normalize?: Normalization;
}

/**
 * The MLP of {@link mlpModel} computed in plain TypeScript (float64) for one row: a reference to
 * check a runtime against, or to evaluate a model while training it. The third argument is
 * `softmax` or an options object.
 *
 * @example
 * mlpForward([{ weights: [[2]], bias: [1] }], [3]); // [7]
 */
export function mlpForward(
  layers: readonly DenseLayer[],
  input: readonly number[],
  options: boolean | MlpForwardOptions = false,
): number[] {
  const { softmax = false, normalize } = typeof options === 'boolean' ? { softmax: options } : options;
  let x: number[] = normalize ? input.map((v, i) => (v - (normalize.mean[i] as number)) / (normalize.std[i] as number)) : [...input];
  for (const layer of layers) {
    const columns = layer.bias.length;
    const y = new Array<number>(columns);
    for (let j = 0; j < columns; j++) {
      let sum = layer.bias[j] as number;
      for (let i = 0; i < x.length; i++) sum += (x[i] as number) * ((layer.weights[i] as readonly number[])[j] as number);
      const activation = layer.activation ?? 'linear';
      y[j] =
        activation === 'relu'
          ? Math.max(0, sum)
          : activation === 'tanh'
            ? Math.tanh(sum)
            : activation === 'sigmoid'
              ? 1 / (1 + Math.exp(-sum))
              : sum;
    }
    x = y;
  }
  if (softmax) {
    const max = Math.max(...x);
    const exps = x.map((v) => Math.exp(v - max));
    const total = exps.reduce((a, b) => a + b, 0);
    x = exps.map((v) => v / total);
  }
  return x;
}

/** Options of {@link randomLayers}. */
export interface RandomLayersOptions {
  /** Layer widths, input first: `[16, 64, 4]` gives two layers 16→64→4. */
  sizes: readonly number[];
  /** Activation of the hidden layers. Default `relu`. */
  activation?: Activation;
  /** Seed of the deterministic generator. Default 1. */
  seed?: number;
}

/**
 * Deterministic pseudo-random layers (Xavier-scaled uniform weights) for tests and benchmarks.
 *
 * @example
 * const layers = randomLayers({ sizes: [16, 64, 4], seed: 7 });
 * const bytes = mlpModel({ layers, softmax: true });
 */
export function randomLayers(options: RandomLayersOptions): DenseLayer[] {
  const { sizes, activation = 'relu' } = options;
  // mulberry32: a tiny seeded generator so weights are the same on every run and machine.
  let state = (options.seed ?? 1) >>> 0;
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const layers: DenseLayer[] = [];
  for (let k = 0; k + 1 < sizes.length; k++) {
    const inputs = sizes[k] as number;
    const outputs = sizes[k + 1] as number;
    const scale = Math.sqrt(6 / (inputs + outputs));
    const weights = Array.from({ length: inputs }, () => Array.from({ length: outputs }, () => (random() * 2 - 1) * scale));
    const bias = Array.from({ length: outputs }, () => (random() * 2 - 1) * 0.1);
    layers.push({ weights, bias, activation: k + 2 < sizes.length ? activation : 'linear' });
  }
  return layers;
}

/** Options of {@link multiInputModel}. */
export interface MultiInputModelOptions {
  /** Values per row of each input. Default 3. */
  width?: number;
  /** First dimension. Default `'dynamic'`. */
  batch?: BatchDimension;
}

/**
 * Two float32 inputs `a` and `b` (`[batch, width]`) and two outputs: `sum = a + b` and
 * `product = a * b`.
 *
 * @example
 * const model = await onnxModel({ bytes: multiInputModel({ width: 2 }) });
 * await model.infer({ a: [1, 2], b: [3, 4] }); // sum [4, 6], product [3, 8]
 */
export function multiInputModel(options: MultiInputModelOptions = {}): Uint8Array {
  const width = options.width ?? 3;
  const batch = batchDim(options.batch);
  return encodeModel({
    name: 'multi-input',
    nodes: [node('Add', ['a', 'b'], ['sum']), node('Mul', ['a', 'b'], ['product'])],
    inputs: [valueInfo('a', 'float32', [batch, width]), valueInfo('b', 'float32', [batch, width])],
    outputs: [valueInfo('sum', 'float32', [batch, width]), valueInfo('product', 'float32', [batch, width])],
  });
}

/** Options of {@link int64Model}. */
export interface Int64ModelOptions {
  /** Values per row. Default 4. */
  width?: number;
  /** The multiplier applied to the ids. Default 2. */
  factor?: number;
}

/**
 * An int64 input `ids` (`[batch, width]`) and outputs `scaled = ids * factor` (int64) and
 * `asFloat = float(ids)` (float32).
 *
 * @example
 * const model = await onnxModel({ bytes: int64Model({ width: 2 }) });
 * await model.infer({ ids: new BigInt64Array([3n, 4n]) }); // scaled BigInt64Array [6n, 8n]
 */
export function int64Model(options: Int64ModelOptions = {}): Uint8Array {
  const width = options.width ?? 4;
  const factor = options.factor ?? 2;
  return encodeModel({
    name: 'int64',
    nodes: [node('Mul', ['ids', 'factor'], ['scaled']), node('Cast', ['ids'], ['asFloat'], { to: 1 })],
    initializers: [int64Tensor('factor', [], [factor])],
    inputs: [valueInfo('ids', 'int64', ['batch', width])],
    outputs: [valueInfo('scaled', 'int64', ['batch', width]), valueInfo('asFloat', 'float32', ['batch', width])],
  });
}

/** Options of {@link fixedShapeModel}. */
export interface FixedShapeModelOptions {
  /** The full input shape, first dimension fixed. Default `[2, 3]`. */
  dims?: readonly number[];
  /** Added to every element. Default 1. */
  offset?: number;
}

/**
 * A model whose first dimension is fixed: input `x` float32 of exactly `dims`, output
 * `y = x + offset`. Such models take whole tensors and are not batched.
 *
 * @example
 * const model = await onnxModel({ bytes: fixedShapeModel({ dims: [2, 2] }) });
 * await model.infer({ x: [[1, 2], [3, 4]] }); // y: [2, 3, 4, 5]
 */
export function fixedShapeModel(options: FixedShapeModelOptions = {}): Uint8Array {
  const dims = options.dims ?? [2, 3];
  return encodeModel({
    name: 'fixed-shape',
    nodes: [node('Add', ['x', 'offset'], ['y'])],
    initializers: [floatTensor('offset', [], [options.offset ?? 1])],
    inputs: [valueInfo('x', 'float32', dims)],
    outputs: [valueInfo('y', 'float32', dims)],
  });
}

/** Options of {@link identityModel}. */
export interface IdentityModelOptions {
  /** Element type of input and output. Default `float32`. */
  type?: TensorType;
  /** Dimensions after the batch dimension; strings are symbolic. Default `[4]`. */
  dims?: readonly (number | string)[];
  /** First dimension. Default `'dynamic'`. */
  batch?: BatchDimension;
}

/**
 * Input `x` copied to output `y`, of any element type (bool, string, float16, ...): a model to
 * exercise input conversion and validation.
 *
 * @example
 * const model = await onnxModel({ bytes: identityModel({ type: 'bool', dims: [2] }) });
 * await model.infer({ x: [true, false] });
 */
export function identityModel(options: IdentityModelOptions = {}): Uint8Array {
  const type = options.type ?? 'float32';
  const dims = [batchDim(options.batch), ...(options.dims ?? [4])];
  return encodeModel({
    name: `identity-${type}`,
    nodes: [node('Identity', ['x'], ['y'])],
    inputs: [valueInfo('x', type, dims)],
    outputs: [valueInfo('y', type, dims)],
  });
}

/** Options of {@link slowModel}. */
export interface SlowModelOptions {
  /** Values per input row and the side of the square matrices. Default 64. */
  size?: number;
  /** `MatMul`+`Tanh` steps per row. Default 8. */
  repeats?: number;
}

/**
 * A deliberately slow model: each row `x` (`[batch, size]`) becomes the `size × size` outer
 * product with a ones vector, goes through `repeats` steps of `tanh(A · W)`, and is averaged back
 * to `y` (`[batch, size]`). Each row costs `repeats · size³` multiply-adds and rows stay
 * independent, so batched and unbatched results agree. Raise `size` or `repeats` to make it slower.
 *
 * @example
 * const bytes = slowModel({ size: 128, repeats: 300 }); // about 10 ms per row on one core
 */
export function slowModel(options: SlowModelOptions = {}): Uint8Array {
  const size = options.size ?? 64;
  const repeats = options.repeats ?? 8;
  const weights: number[] = [];
  // 1.5 on the diagonal plus small noise: activations settle near tanh's fixed points (about
  // ±0.86) instead of shrinking to subnormal numbers, whose slow arithmetic would make the cost
  // jump with `repeats` instead of growing in proportion to it.
  for (let i = 0; i < size * size; i++) weights.push((i % (size + 1) === 0 ? 1.5 : 0) + (Math.sin(i * 12.9898) * 0.1) / Math.sqrt(size));
  const nodes: Node[] = [node('Unsqueeze', ['x', 'axis2'], ['column']), node('MatMul', ['column', 'ones'], ['square0'])];
  for (let r = 0; r < repeats; r++) {
    nodes.push(node('MatMul', [`square${r}`, 'w'], [`mm${r}`]), node('Tanh', [`mm${r}`], [`square${r + 1}`]));
  }
  nodes.push(node('ReduceMean', [`square${repeats}`], ['y'], { axes: [1], keepdims: 0 }));
  return encodeModel({
    name: 'slow',
    nodes,
    initializers: [
      int64Tensor('axis2', [1], [2]),
      floatTensor('ones', [1, size], new Array<number>(size).fill(1)),
      floatTensor('w', [size, size], weights),
    ],
    inputs: [valueInfo('x', 'float32', ['batch', size])],
    outputs: [valueInfo('y', 'float32', ['batch', size])],
  });
}
