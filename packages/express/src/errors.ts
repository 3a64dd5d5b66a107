import type { BallastError } from '@ballast/core';
import {
  answerStatus,
  ERROR_CODE_HEADER,
  errorBodyFor,
  reportServedError,
  retryAfterSeconds,
  type ServedErrorReporter,
  toHttpError,
} from '@ballast/serving';

export { answerStatus };

import type { ErrorRequestHandler, Response } from 'express';

/**
 * Sends an error answer (the serving core's rules): the status from core's `httpStatusFor`, `Retry-After` (seconds) on 429 and
 * 503, the code in `x-ballast-error-code`, and `{ error: { code, message, details } }` (on the
 * v2 routes the protocol's `{ error: message, code, details }`). `INTERNAL`, `CONFIG` and `INTEGRITY` errors
 * are answered without their message or details (logged by `onError` instead).
 * Returns the BallastError sent.
 */
export function sendError(res: Response, error: unknown): BallastError {
  const ballast = toHttpError(error);
  if (res.headersSent) {
    // Too late for a status: end the response so the client is not left waiting.
    res.end();
    return ballast;
  }
  const status = answerStatus(ballast);
  if (status === 429 || status === 503) res.setHeader('Retry-After', String(retryAfterSeconds(ballast.retryAfterMs)));
  res.setHeader(ERROR_CODE_HEADER, ballast.code);
  res.status(status).json(errorBodyFor(ballast, res.req?.originalUrl ?? res.req?.url));
  return ballast;
}

/** Options of {@link errorHandler}. */
export interface ErrorHandlerOptions {
  /**
   * Called with every error answered with a 5xx (log it here). Replaces the default report, which
   * logs 500 answers to stderr with the request id.
   */
  onError?: ServedErrorReporter;
  /** Header holding the request id (for the default report). Default `x-request-id`. */
  requestIdHeader?: string;
}

/**
 * Express error middleware answering every error as Ballast does (status, `Retry-After`, JSON
 * body). Install it last, after your routes.
 *
 * @example
 * app.use(errorHandler({ onError: (e) => logger.error(e) }));
 */
export function errorHandler(options: ErrorHandlerOptions = {}): ErrorRequestHandler {
  return function ballastErrorHandler(error, request, res, _next) {
    const sent = sendError(res, error);
    const id = res.getHeader(options.requestIdHeader ?? 'x-request-id');
    reportServedError(sent, request, typeof id === 'string' ? id : undefined, options.onError);
  };
}
