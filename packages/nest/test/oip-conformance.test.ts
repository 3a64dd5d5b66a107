import type { Model } from '@ballast/core';
import { oipConformance } from '../../serving/test/oip-conformance.js';
import { startNestApp } from './nest-app.js';

// The serving core reads the v2 bodies itself (Nest's JSON parser passes the served routes by),
// so 64-bit integers beyond 2^53 parse exactly whether or not the application keeps raw bodies.
for (const rawBody of [false, true]) {
  oipConformance(`nest${rawBody ? ' (rawBody: true)' : ''}`, (models: readonly Model[]) => startNestApp(models, { rawBody }));
}
