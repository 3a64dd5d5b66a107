/** Feature names the monitor uses for model outputs. */
export const OUTPUT_FEATURES = {
  /** The predicted label (classifiers) or value (regressors). */
  prediction: '__prediction__',
  /** The largest class probability. */
  confidence: '__confidence__',
  /** Entropy (nats) of the class probabilities. */
  entropy: '__entropy__',
} as const;

/** Options of {@link outputFeatures}. */
export interface OutputFeaturesOptions {
  /** Class labels, by index, for probability vectors. Default: the index as a string. */
  labels?: readonly string[];
}

function fromProbabilities(p: ArrayLike<number>, labels: readonly string[] | undefined): Record<string, unknown> {
  let best = 0;
  let max = Number.NEGATIVE_INFINITY;
  let total = 0;
  for (let i = 0; i < p.length; i++) {
    const v = p[i] as number;
    if (!Number.isFinite(v) || v < 0) return {};
    total += v;
    if (v > max) {
      max = v;
      best = i;
    }
  }
  if (!(total > 0)) return {};
  let entropy = 0;
  for (let i = 0; i < p.length; i++) {
    const q = (p[i] as number) / total;
    if (q > 0) entropy -= q * Math.log(q);
  }
  return {
    [OUTPUT_FEATURES.prediction]: labels?.[best] ?? String(best),
    [OUTPUT_FEATURES.confidence]: max / total,
    [OUTPUT_FEATURES.entropy]: entropy,
  };
}

/**
 * Turns a model output into monitorable features: a number is a regression prediction; a string
 * or boolean a label; an array (or `Float32Array`) of probabilities, or an object with
 * `probabilities`, gives the predicted label, the confidence (max probability) and the entropy;
 * an object with `label` and `score` / `confidence` gives both. Anything else gives `{}`.
 *
 * @example
 * outputFeatures([0.1, 0.7, 0.2], { labels: ['sun', 'rain', 'snow'] });
 * // { __prediction__: 'rain', __confidence__: 0.7, __entropy__: 0.80 }
 */
export function outputFeatures(output: unknown, options: OutputFeaturesOptions = {}): Record<string, unknown> {
  const { labels } = options;
  if (typeof output === 'number') return Number.isFinite(output) ? { [OUTPUT_FEATURES.prediction]: output } : {};
  if (typeof output === 'string' || typeof output === 'boolean') return { [OUTPUT_FEATURES.prediction]: String(output) };
  if (Array.isArray(output) || output instanceof Float32Array || output instanceof Float64Array) {
    return output.length > 0 && Array.from(output as ArrayLike<unknown>).every((v) => typeof v === 'number')
      ? fromProbabilities(output as ArrayLike<number>, labels)
      : {};
  }
  if (output !== null && typeof output === 'object') {
    const o = output as Record<string, unknown>;
    const probabilities = o.probabilities ?? o.probs ?? o.scores;
    if (Array.isArray(probabilities) || probabilities instanceof Float32Array || probabilities instanceof Float64Array) {
      return fromProbabilities(probabilities as ArrayLike<number>, labels);
    }
    if (typeof o.label === 'string' || typeof o.label === 'number') {
      const score = typeof o.confidence === 'number' ? o.confidence : o.score;
      return {
        [OUTPUT_FEATURES.prediction]: String(o.label),
        ...(typeof score === 'number' && Number.isFinite(score) ? { [OUTPUT_FEATURES.confidence]: score } : {}),
      };
    }
  }
  return {};
}
