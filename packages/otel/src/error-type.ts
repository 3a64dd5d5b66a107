import { isBallastError } from '@ballast/core';
import * as S from './semconv.js';

/**
 * The `error.type` attribute of a failure: a Ballast error code, else the error's name, else `_OTHER`.
 *
 * @example
 * errorType(new BallastError('TIMEOUT', 'too slow')); // 'TIMEOUT'
 */
export function errorType(error: unknown): string {
  if (isBallastError(error)) return error.code;
  if (error instanceof Error) return error.name || error.constructor.name || S.ERROR_TYPE_VALUE_OTHER;
  return S.ERROR_TYPE_VALUE_OTHER;
}
