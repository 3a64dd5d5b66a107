// docs/examples/drift-monitor.ts
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { subscribe } from '@ballast/core';
import { createProfile, DriftMonitor, parseProfile, renderDriftReport } from '@ballast/drift';

// A year of weather-like rows: a seasonal temperature cycle, wind and rain.
function day(i: number, warming = 0) {
  const season = Math.sin((2 * Math.PI * (i % 365)) / 365);
  const noise = (k: number) => Math.sin(i * 12.9898 + k * 78.233) * 0.5;
  return {
    temp_max: 14 + 8 * season + warming + 3 * noise(1),
    wind: 3.2 + 1.2 * noise(2),
    precipitation: Math.max(0, 3 - 3 * season + 4 * noise(3)),
    weather: season > 0.3 ? 'sun' : season < -0.3 ? 'rain' : 'fog',
  };
}
const history = Array.from({ length: 730 }, (_, i) => day(i));

// Profile once, save it as JSON, load it where the service runs.
const saved = JSON.stringify(createProfile(history));
const reference = parseProfile(saved);

const monitor = new DriftMonitor({ name: 'weather', reference, window: { size: 200 } });
console.log('tests chosen by the auto rule:', monitor.tests);

// Every verdict is also published on the `ballast:drift` diagnostics channel.
const stop = subscribe('drift', (e) => {
  if (e.feature === '__dataset__') console.log(`event: dataset drift ${e.drifted} (share ${e.statistic})`);
});

// A window drawn from the reference period itself: no drift.
const sameYear = Array.from({ length: 200 }, (_, i) => day((i * 37) % 730));
const calm = monitor.observeRows(sameYear)[0];
console.log(`reference-period window: drifted ${JSON.stringify(calm?.driftedFeatures)}`);

// Two hundred days of a warmer, drier summer: drift.
const summer = Array.from({ length: 200 }, (_, i) => day(120 + (i % 120), 4));
const hot = monitor.observeRows(summer)[0];
console.log(`summer window: drifted ${JSON.stringify(hot?.driftedFeatures)}, dataset drift ${hot?.datasetDrift}`);
stop();

if (hot) {
  const { html, json } = renderDriftReport(hot, { subtitle: 'reference: two years; current: a warm summer' });
  const file = join(tmpdir(), 'drift-report.html');
  await writeFile(file, html);
  console.log(`report: ${file} (${json.features.length} features, drifted first: ${json.features[0]?.feature})`);
}
