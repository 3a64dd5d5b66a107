import { BallastError } from '@ballast/core';

/** A failed `session.run`, on either thread, as Ballast's INTERNAL error naming the model. */
export function runError(modelName: string, error: unknown): BallastError {
  const message = error instanceof Error ? error.message : String(error);
  return new BallastError('INTERNAL', `onnxruntime failed to run model "${modelName}": ${message}`, { cause: error });
}
