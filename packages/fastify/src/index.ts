/**
 * @packageDocumentation
 * Fastify 5 plugin serving Ballast models over the Open Inference Protocol v2: a thin adapter over
 * the serving core (`@ballast/serving`).
 */

export type { BallastFastifyOptions, BallastFastifyPlugin } from './plugin.js';
export { ballastFastify } from './plugin.js';
