// docs/examples/drift-online.ts
import { ADWIN, DDM, KSWIN, PageHinkley } from '@ballast/drift';

// A latency stream whose mean jumps from ~20 ms to ~35 ms at index 500.
const stream = Array.from({ length: 1000 }, (_, i) => (i < 500 ? 20 : 35) + 5 * Math.sin(i * 1.7));

for (const detector of [new ADWIN(), new PageHinkley(), new KSWIN({ alpha: 0.0001, seed: 42 })]) {
  const at = stream.findIndex((x) => detector.update(x).driftDetected);
  console.log(`${detector.constructor.name}: first change at index ${at}`);
}

// DDM watches an error stream (1 = wrong): the error rate rises from 10 % to 40 % at index 600.
const ddm = new DDM();
const errors = Array.from({ length: 1200 }, (_, i) => ((i * 7) % 10 < (i < 600 ? 1 : 4) ? 1 : 0));
const drift = errors.findIndex((e) => ddm.update(e).driftDetected);
console.log(`DDM: error rate rise detected at index ${drift}`);
