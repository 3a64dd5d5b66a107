import type { StrategyFactory } from '../strategy.js';
import { type BlueGreenStrategy, blueGreen } from './blue-green.js';
import { type CanaryStrategy, canary } from './canary.js';
import { type ShadowStrategy, shadow } from './shadow.js';

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
