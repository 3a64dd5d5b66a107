import type { HealthReport, Model } from '@ballast/core';

/** A version's health; a model without `health()` is ready, and a throwing one is unavailable. */
export async function healthOf(model: Model): Promise<HealthReport> {
  if (typeof model.health !== 'function') return { ready: true, status: 'ready' };
  try {
    return await model.health();
  } catch (error) {
    return { ready: false, status: 'unavailable', message: error instanceof Error ? error.message : String(error) };
  }
}
