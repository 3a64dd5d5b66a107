/**
 * Trains the weather classifier in TypeScript, deterministically: a 4→12→5 MLP (tanh hidden
 * layer, softmax output) by full-batch Adam on standardized features, from a seeded
 * initialisation. Standardization is folded into the first layer, so the exported model takes
 * raw features. Same data, same code → the same weights, bit for bit.
 */

import { seededRandom } from '@ballast/core';
import type { DenseLayer } from '@ballast/onnx/testing';
import { CLASSES, FEATURES } from './data.js';

/** Training settings. */
export interface TrainOptions {
  hidden?: number;
  epochs?: number;
  learningRate?: number;
  seed?: number;
}

/** A trained model: layers for the ONNX builder, plus the standardization it folded in. */
export interface TrainedModel {
  layers: DenseLayer[];
  mean: number[];
  std: number[];
  trainAccuracy: number;
}

const ADAM_B1 = 0.9;
const ADAM_B2 = 0.999;
const square = (x: number) => x * x;

// float32 rounding keeps the shipped weights identical to what the ONNX file stores.
const f32 = (x: number) => Math.fround(x);

/** Trains on rows of raw features with integer class labels. */
export function train(rows: readonly number[][], labels: readonly number[], options: TrainOptions = {}): TrainedModel {
  const { hidden = 12, epochs = 1500, learningRate = 0.02, seed = 2012 } = options;
  const n = rows.length;
  const d = FEATURES.length;
  const k = CLASSES.length;
  const mean = Array.from({ length: d }, (_, j) => rows.reduce((s, r) => s + (r[j] as number), 0) / n);
  const std = Array.from(
    { length: d },
    (_, j) => Math.sqrt(rows.reduce((s, r) => s + square((r[j] as number) - (mean[j] as number)), 0) / n) || 1,
  );
  const x = rows.map((r) => r.map((v, j) => (v - (mean[j] as number)) / (std[j] as number)));

  const random = seededRandom(seed);
  const init = (fanIn: number) => (random() * 2 - 1) * Math.sqrt(6 / (fanIn + hidden));
  // Parameters: W1[d][h], b1[h], W2[h][k], b2[k], flattened into one array for Adam.
  const sizes = [d * hidden, hidden, hidden * k, k];
  const params = new Float64Array(sizes.reduce((a, b) => a + b, 0));
  for (let i = 0; i < d * hidden; i++) params[i] = init(d);
  for (let i = d * hidden + hidden; i < d * hidden + hidden + hidden * k; i++) params[i] = init(hidden);
  const [oW1, oB1, oW2, oB2] = [0, d * hidden, d * hidden + hidden, d * hidden + hidden + hidden * k];
  const m = new Float64Array(params.length);
  const v = new Float64Array(params.length);
  const grad = new Float64Array(params.length);
  const h = new Float64Array(hidden);
  const p = new Float64Array(k);

  // b1^t and b2^t as running products: Math.pow (and `**`) differs in the last bit between
  // V8 versions (Node 20 and 24 disagree), which would change the trained weights.
  let b1Power = 1;
  let b2Power = 1;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    grad.fill(0);
    for (let i = 0; i < n; i++) {
      const xi = x[i] as number[];
      for (let a = 0; a < hidden; a++) {
        let s = params[oB1 + a] as number;
        for (let j = 0; j < d; j++) s += (xi[j] as number) * (params[oW1 + j * hidden + a] as number);
        h[a] = Math.tanh(s);
      }
      let max = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < k; c++) {
        let s = params[oB2 + c] as number;
        for (let a = 0; a < hidden; a++) s += (h[a] as number) * (params[oW2 + a * k + c] as number);
        p[c] = s;
        if (s > max) max = s;
      }
      let z = 0;
      for (let c = 0; c < k; c++) z += p[c] = Math.exp((p[c] as number) - max);
      for (let c = 0; c < k; c++) {
        const delta = (p[c] as number) / z - (labels[i] === c ? 1 : 0);
        grad[oB2 + c] = (grad[oB2 + c] as number) + delta;
        for (let a = 0; a < hidden; a++) grad[oW2 + a * k + c] = (grad[oW2 + a * k + c] as number) + delta * (h[a] as number);
      }
      for (let a = 0; a < hidden; a++) {
        let back = 0;
        for (let c = 0; c < k; c++) back += ((p[c] as number) / z - (labels[i] === c ? 1 : 0)) * (params[oW2 + a * k + c] as number);
        back *= 1 - square(h[a] as number);
        grad[oB1 + a] = (grad[oB1 + a] as number) + back;
        for (let j = 0; j < d; j++) grad[oW1 + j * hidden + a] = (grad[oW1 + j * hidden + a] as number) + back * (xi[j] as number);
      }
    }
    // Adam step on the mean gradient.
    b1Power *= ADAM_B1;
    b2Power *= ADAM_B2;
    for (let i = 0; i < params.length; i++) {
      const g = (grad[i] as number) / n;
      m[i] = ADAM_B1 * (m[i] as number) + (1 - ADAM_B1) * g;
      v[i] = ADAM_B2 * (v[i] as number) + (1 - ADAM_B2) * g * g;
      const mHat = (m[i] as number) / (1 - b1Power);
      const vHat = (v[i] as number) / (1 - b2Power);
      params[i] = (params[i] as number) - (learningRate * mHat) / (Math.sqrt(vHat) + 1e-8);
    }
  }

  // Fold standardization into layer 1: w' = w / std, b' = b - sum_j w_j * mean_j / std_j.
  const w1: number[][] = [];
  for (let j = 0; j < d; j++)
    w1.push(Array.from({ length: hidden }, (_, a) => f32((params[oW1 + j * hidden + a] as number) / (std[j] as number))));
  const b1: number[] = Array.from({ length: hidden }, (_, a) => {
    let s = params[oB1 + a] as number;
    for (let j = 0; j < d; j++) s -= ((params[oW1 + j * hidden + a] as number) * (mean[j] as number)) / (std[j] as number);
    return f32(s);
  });
  const w2: number[][] = Array.from({ length: hidden }, (_, a) =>
    Array.from({ length: k }, (_, c) => f32(params[oW2 + a * k + c] as number)),
  );
  const b2: number[] = Array.from({ length: k }, (_, c) => f32(params[oB2 + c] as number));
  const layers: DenseLayer[] = [
    { weights: w1, bias: b1, activation: 'tanh' },
    { weights: w2, bias: b2, activation: 'linear' },
  ];
  const correct = rows.filter((r, i) => argmax(forward(layers, r)) === labels[i]).length;
  return { layers, mean, std, trainAccuracy: correct / n };
}

/** Softmax probabilities of the folded model for one raw feature row (TypeScript reference). */
export function forward(layers: readonly DenseLayer[], row: readonly number[]): number[] {
  let x: number[] = [...row];
  for (const layer of layers) {
    const outputs = layer.bias.length;
    const y = Array.from({ length: outputs }, (_, o) =>
      x.reduce((s, xi, i) => s + xi * ((layer.weights[i] as readonly number[])[o] as number), layer.bias[o] as number),
    );
    x = layer.activation === 'tanh' ? y.map(Math.tanh) : y;
  }
  const max = Math.max(...x);
  const e = x.map((v) => Math.exp(v - max));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

/** Index of the largest value. */
export function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}
