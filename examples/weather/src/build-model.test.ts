import { join } from 'node:path';
import { onnxModel } from '@ballast/onnx';
import { describe, expect, it } from 'vitest';
import { buildArtifacts, MODEL_DIR, staleArtifacts } from './build-model.js';
import { byYears, CLASSES, featuresOf, loadWeather } from './data.js';
import { forward, train } from './train.js';

describe('weather model artifacts', () => {
  const built = buildArtifacts();

  it('regenerate byte for byte from the data set', () => {
    expect(staleArtifacts(built)).toEqual([]);
  });

  it('classify held-out days (2014–2015) well above the majority class', () => {
    const card = JSON.parse(built['model-card.json']) as { holdoutAccuracy: number; trainAccuracy: number };
    const holdout = byYears(loadWeather(), 2014, 2015);
    const majority = Math.max(...CLASSES.map((c) => holdout.filter((d) => d.weather === c).length)) / holdout.length;
    expect(card.holdoutAccuracy).toBeGreaterThan(majority);
    expect(card.trainAccuracy).toBeGreaterThan(0.75);
  });

  it('runs in ONNX Runtime with the same probabilities as the TypeScript reference', async () => {
    const model = await onnxModel({ path: join(MODEL_DIR, 'weather.onnx'), workers: 0 });
    try {
      const days = byYears(loadWeather(), 2014).slice(0, 50);
      const card = JSON.parse(built['model-card.json']) as { input: { name: string }; output: { name: string } };
      // Re-derive the layers the artifact was built from, and compare per day.
      const reference = byYears(loadWeather(), 2012, 2013);
      const trained = train(
        reference.map(featuresOf),
        reference.map((d) => CLASSES.indexOf(d.weather as (typeof CLASSES)[number])),
      );
      for (const day of days) {
        const out = await model.infer({ [card.input.name]: featuresOf(day) });
        const probabilities = Array.from((out[card.output.name] as { data: ArrayLike<number> }).data);
        const expected = forward(trained.layers, featuresOf(day));
        expect(probabilities).toHaveLength(CLASSES.length);
        for (let i = 0; i < CLASSES.length; i++) expect(probabilities[i]).toBeCloseTo(expected[i] as number, 4);
      }
    } finally {
      await model.close();
    }
  });
});
