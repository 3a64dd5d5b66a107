import type { HealthReport, Model } from '@ballast/core';
import { breakerUnreadiness, type OpenBreakers } from './breakers.js';

/** Whether one model can answer, and why not. */
export interface ModelReadiness {
  /** True when the model can answer. */
  ready: boolean;
  /** Why not, when not. */
  reason?: string;
}

/** What {@link modelReadiness} needs besides the model. */
export interface ReadinessRule {
  /** True while shutting down (nothing is ready). */
  draining: boolean;
  /** The open breakers. */
  breakers: OpenBreakers;
  /** Tie readiness to breakers even when a fallback answers. */
  followBreakers: boolean;
  /** How long `health()` may take before the model counts as not ready, ms. */
  healthTimeoutMs: number;
}

/** Default bound on a model's `health()`, ms. */
export const DEFAULT_HEALTH_TIMEOUT_MS = 2000;

/**
 * The one readiness rule of every adapter: not ready while shutting down; not ready while the
 * model's own breaker is open and nothing answers in its place (see `breakerUnreadiness`); else
 * the model's `health()` when it has one, bounded by `healthTimeoutMs` (a slow or throwing check
 * counts as not ready, so a readiness probe never hangs); else ready.
 *
 * @example
 * const state = await modelReadiness('fraud', model, { draining: false, breakers, followBreakers: false, healthTimeoutMs: 2000 });
 */
export async function modelReadiness(name: string, model: Model, rule: ReadinessRule): Promise<ModelReadiness> {
  if (rule.draining) return { ready: false, reason: 'shutting down' };
  const breaker = breakerUnreadiness(rule.breakers, name, model, rule.followBreakers);
  if (breaker !== undefined) return { ready: false, reason: breaker };
  const health = model.health;
  if (health === undefined) return { ready: true };
  let timer: NodeJS.Timeout | undefined;
  try {
    const report = await Promise.race([
      health.call(model),
      new Promise<HealthReport>((_, reject) => {
        timer = setTimeout(() => reject(new Error('health check timed out')), rule.healthTimeoutMs);
      }),
    ]);
    return report.ready ? { ready: true } : { ready: false, reason: report.message ?? report.status };
  } catch (error) {
    return { ready: false, reason: error instanceof Error ? error.message : 'health check failed' };
  } finally {
    clearTimeout(timer);
  }
}
