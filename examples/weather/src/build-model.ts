/**
 * Regenerates the shipped artifacts from the data, byte for byte:
 *   model/weather.onnx            the classifier (raw features in, class probabilities out)
 *   model/reference-profile.json  the drift reference: 2012–2013 features
 *   model/model-card.json         features, classes, accuracy
 *
 *   pnpm --filter @ballast/example-weather build-model          (writes the files)
 *   pnpm --filter @ballast/example-weather build-model --check  (exits 1 if they differ)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createProfile } from '@ballast/drift';
import { mlpModel } from '@ballast/onnx/testing';
import { byYears, CLASSES, FEATURES, featuresOf, loadWeather } from './data.js';
import { argmax, forward, train } from './train.js';

/** Where the artifacts live. */
export const MODEL_DIR = join(import.meta.dirname, '..', 'model');

/** The artifacts, in memory. */
export interface Artifacts {
  'weather.onnx': Uint8Array;
  'reference-profile.json': string;
  'model-card.json': string;
}

/** Builds every artifact from the data set. */
export function buildArtifacts(): Artifacts {
  const days = loadWeather();
  const reference = byYears(days, 2012, 2013);
  const holdout = byYears(days, 2014, 2015);
  const labelOf = (weather: string) => CLASSES.indexOf(weather as (typeof CLASSES)[number]);
  const trained = train(
    reference.map(featuresOf),
    reference.map((d) => labelOf(d.weather)),
  );
  const onnx = mlpModel({
    layers: trained.layers,
    softmax: true,
    inputName: 'features',
    outputName: 'probabilities',
    description: 'Seattle weather classifier: precipitation, temp_max, temp_min, wind -> drizzle, fog, rain, snow, sun',
  });
  const holdoutAccuracy =
    holdout.filter((d) => argmax(forward(trained.layers, featuresOf(d))) === labelOf(d.weather)).length / holdout.length;
  // The model (and the service's drift tap) sees features as float32, so the reference is kept
  // in float32 too: 12.8 and float32(12.8) differ, and on data this tied a KS test notices.
  const profile = createProfile(
    reference.map((d) => Object.fromEntries(FEATURES.map((f) => [f, Math.fround(d[f])]))),
    { features: Object.fromEntries(FEATURES.map((f) => [f, 'numeric' as const])), seed: 2012 },
  );
  // The profile records when it was made; pin it to the end of the reference period so the file
  // regenerates byte for byte.
  profile.createdAt = '2013-12-31T23:59:59.000Z';
  const card = {
    name: 'weather',
    version: '1',
    input: { name: 'features', features: FEATURES },
    output: { name: 'probabilities', classes: CLASSES },
    trainedOn: '2012-01-01..2013-12-31',
    trainAccuracy: Number(trained.trainAccuracy.toFixed(4)),
    holdoutAccuracy: Number(holdoutAccuracy.toFixed(4)),
  };
  return {
    'weather.onnx': onnx,
    'reference-profile.json': `${JSON.stringify(profile, null, 1)}\n`,
    'model-card.json': `${JSON.stringify(card, null, 2)}\n`,
  };
}

/** Names of the artifacts whose shipped bytes differ from a fresh build. */
export function staleArtifacts(built: Artifacts = buildArtifacts()): string[] {
  return (Object.keys(built) as (keyof Artifacts)[]).filter((name) => {
    let shipped: Buffer;
    try {
      shipped = readFileSync(join(MODEL_DIR, name));
    } catch {
      return true;
    }
    return !shipped.equals(Buffer.from(built[name] as string | Uint8Array));
  });
}

if (process.argv[1] === import.meta.filename) {
  const built = buildArtifacts();
  if (process.argv.includes('--check')) {
    const stale = staleArtifacts(built);
    console.log(stale.length === 0 ? 'model artifacts are up to date' : `stale: ${stale.join(', ')}`);
    process.exit(stale.length === 0 ? 0 : 1);
  }
  for (const [name, bytes] of Object.entries(built)) writeFileSync(join(MODEL_DIR, name), bytes);
  console.log(`wrote ${Object.keys(built).join(', ')} to ${MODEL_DIR}`);
  console.log(built['model-card.json']);
}
