import { BallastError } from '@ballast/core';

/** Fails a rollout's configuration with `CONFIG`. */
export function fail(message: string, details?: Record<string, unknown>): never {
  throw new BallastError('CONFIG', `rollout: ${message}`, details ? { details } : {});
}

/** Checks a share, 0..1. */
export function checkShare(value: unknown, path: string): void {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1))
    fail(`"${path}" must be a number in [0, 1], got ${String(value)}`, { path });
}

/** Checks a positive, finite number (or integer). */
export function checkPositive(value: unknown, path: string, integer = false): void {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    fail(`"${path}" must be a positive ${integer ? 'integer' : 'number'}, got ${String(value)}`, { path });
  }
}

/**
 * @internal Checks the reason of a manual decision (a rollout's promote/rollback and the admin
 * operations): a string of 1 to 500 characters, kept in the history and the event.
 */
export function checkReason(reason: unknown): asserts reason is string {
  if (typeof reason !== 'string' || reason.length === 0 || reason.length > 500) {
    throw new BallastError('INVALID_INPUT', 'rollout: "reason" must be a string of 1 to 500 characters', { details: { path: 'reason' } });
  }
}
