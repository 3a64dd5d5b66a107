import { BallastError } from '@ballast/core';
import { z } from 'zod';

/*
 * The zod pieces of a rollout's options schema. Each part declares its schema next to itself
 * (analysisOptionsSchema in analysis.ts, canaryStrategySchema in strategies/canary.ts, ...);
 * rollout() composes them and parses its options once with core's parseOptions.
 */

/** @internal A share, 0..1. */
export const shareOption = z.number().min(0).max(1);
/** @internal A positive, finite number. */
export const positiveOption = z.number().finite().positive();
/** @internal A positive integer. */
export const positiveIntOption = z.number().int().positive();
/** @internal A function (any signature: the option's type says which). */
export const functionOption = z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', 'expected a function');

/**
 * @internal Checks the reason of a manual decision (a rollout's promote/rollback and the admin
 * operations): a string of 1 to 500 characters, kept in the history and the event.
 */
export function checkReason(reason: unknown): asserts reason is string {
  if (typeof reason !== 'string' || reason.length === 0 || reason.length > 500) {
    throw new BallastError('INVALID_INPUT', 'rollout: "reason" must be a string of 1 to 500 characters', { details: { path: 'reason' } });
  }
}
