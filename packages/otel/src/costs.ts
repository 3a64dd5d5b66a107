import { BallastError } from '@ballast/core';
import type { Attributes, Counter } from '@opentelemetry/api';
import * as S from './semconv.js';

/** The price of using one model (optionally on one provider). Every rate is in the currency given to `instrument()`. */
export interface CostRate {
  /** Model name the rate applies to; `*` for every model without a rate of its own. */
  model: string;
  /**
   * Provider the rate applies to: an execution provider (`cpu`, `cuda`) reported by an in-process
   * model, or the provider of a `ballast:usage` event. Omit to price the model on any provider.
   */
  provider?: string;
  /**
   * Charged once per successful call that ran the model. Where calls nest (a client retrying a
   * remote model, a fallback model), only the innermost calls are charged: each successful attempt.
   */
  perCall?: number;
  /** Charged per second of inference time of every finished innermost call, failed ones included (compute-priced hardware). */
  perSecond?: number;
  /** Charged per item reported by `ballast:usage` (`items`). */
  perItem?: number;
  /** Charged per input token reported by `ballast:usage`. */
  perInputToken?: number;
  /** Charged per output token reported by `ballast:usage`. */
  perOutputToken?: number;
}

const RATE_FIELDS = ['perCall', 'perSecond', 'perItem', 'perInputToken', 'perOutputToken'] as const;

/** @internal Checks the `costs` option; throws `CONFIG` naming the bad entry. */
export function checkCosts(costs: unknown): readonly CostRate[] {
  if (costs === undefined) return [];
  if (!Array.isArray(costs))
    throw new BallastError('CONFIG', 'instrument: "costs" must be an array of cost rates', { details: { path: 'costs' } });
  costs.forEach((rate: unknown, index) => {
    const path = `costs[${index}]`;
    if (typeof rate !== 'object' || rate === null)
      throw new BallastError('CONFIG', `instrument: ${path} must be an object`, { details: { path } });
    const entry = rate as Record<string, unknown>;
    if (typeof entry.model !== 'string' || entry.model.length === 0) {
      throw new BallastError('CONFIG', `instrument: ${path}.model must be a non-empty string`, { details: { path: `${path}.model` } });
    }
    if (entry.provider !== undefined && typeof entry.provider !== 'string') {
      throw new BallastError('CONFIG', `instrument: ${path}.provider must be a string`, { details: { path: `${path}.provider` } });
    }
    for (const field of RATE_FIELDS) {
      const value = entry[field];
      if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value >= 0)) {
        throw new BallastError('CONFIG', `instrument: ${path}.${field} must be a finite number >= 0, got ${String(value)}`, {
          details: { path: `${path}.${field}` },
        });
      }
    }
  });
  return costs as CostRate[];
}

/**
 * @internal Finds the rate for a (model, provider) pair: the most specific entry wins (model and
 * provider, then model alone, then `*` with the provider, then `*`). Lookups are memoised because
 * they run on every call.
 */
export class CostTable {
  private readonly memo = new Map<string, CostRate | null>();

  constructor(private readonly rates: readonly CostRate[]) {}

  get empty(): boolean {
    return this.rates.length === 0;
  }

  rateFor(model: string, provider: string | undefined): CostRate | undefined {
    const key = provider === undefined ? model : `${model}\u0000${provider}`;
    let rate = this.memo.get(key);
    if (rate === undefined) {
      rate = this.find(model, provider) ?? null;
      this.memo.set(key, rate);
    }
    return rate ?? undefined;
  }

  private find(model: string, provider: string | undefined): CostRate | undefined {
    const rates = this.rates;
    const exact = (m: string) => rates.find((r) => r.model === m && r.provider !== undefined && r.provider === provider);
    const any = (m: string) => rates.find((r) => r.model === m && r.provider === undefined);
    return exact(model) ?? any(model) ?? exact('*') ?? any('*');
  }
}

/**
 * @internal Adds `amount` of `currency` to the cost counter, by model, cost kind (`call`,
 * `second`, `item`, `input_token`, `output_token`) and provider. Nothing for amounts <= 0.
 */
export function chargeCost(
  counter: Counter,
  currency: string,
  model: string,
  provider: string | undefined,
  kind: string,
  amount: number,
): void {
  if (!(amount > 0)) return;
  const attributes: Attributes = {
    [S.ATTR_GEN_AI_REQUEST_MODEL]: model,
    [S.ATTR_BALLAST_COST_KIND]: kind,
    [S.ATTR_BALLAST_COST_CURRENCY]: currency,
  };
  if (provider !== undefined) attributes[S.ATTR_BALLAST_PROVIDER] = provider;
  counter.add(amount, attributes);
}
