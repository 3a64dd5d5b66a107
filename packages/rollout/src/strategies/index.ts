import { z } from 'zod';
import type { StrategyFactory } from '../strategy.js';
import { type BlueGreenStrategy, blueGreen, blueGreenStrategySchema } from './blue-green.js';
import { type CanaryStrategy, canary, canaryStrategySchema } from './canary.js';
import { type ShadowStrategy, shadow, shadowStrategySchema } from './shadow.js';

/** How a rollout splits traffic. */
export type RolloutStrategy<I = unknown, O = unknown> = CanaryStrategy<I> | BlueGreenStrategy | ShadowStrategy<O>;

/**
 * The registered strategies by `strategy.type`. A strategy is one file under `strategies/`
 * exporting its options type and a {@link StrategyFactory}; registering it is one member of
 * {@link RolloutStrategy} and one entry here (the type checker holds the two in step).
 */
export const STRATEGIES: { readonly [Type in RolloutStrategy['type']]: StrategyFactory } = {
  canary,
  'blue-green': blueGreen,
  shadow,
};

/** @internal The schema of {@link RolloutStrategy}: each strategy's own, told apart by `type`. */
export const rolloutStrategySchema = z.discriminatedUnion('type', [canaryStrategySchema, blueGreenStrategySchema, shadowStrategySchema]);
