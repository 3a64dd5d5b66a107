import { BallastError, isBallastError } from '@ballast/core';
import { answerStatus, ERROR_CODE_HEADER, type ErrorBody, errorBodyFor, reportServedError, retryAfterSeconds } from '@ballast/serving';
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Inject, Logger, Optional } from '@nestjs/common';
import { currentRequestContext } from './context.js';
import type { ResolvedOptions } from './options.js';
import { codeForStatus, existingStateOf } from './request-state.js';
import { BALLAST_OPTIONS } from './tokens.js';

/**
 * The JSON body of an error answer outside the v2 routes: `{ error: { code, message, details } }`
 * (the same as `@ballast/express`). The v2 routes answer the protocol's `{ error: message, code,
 * details }` (`V2ErrorBody`); every error answer carries the code in `x-ballast-error-code`.
 */
export type BallastErrorBody = ErrorBody;

interface ResponseLike {
  headersSent: boolean;
  status(code: number): ResponseLike;
  setHeader(name: string, value: string): void;
  json(body: unknown): void;
  end(): void;
}

/**
 * Turns whatever a route throws into one HTTP answer. A `BallastError` answers with the status of
 * its code (core `httpStatusFor`) and `{ error: { code, message, details } }`; 429 and 503 carry
 * `Retry-After` (seconds, from `retryAfterMs`, at least 1). Malformed JSON bodies answer 400
 * `INVALID_INPUT` and oversized ones 413; Nest's `HttpException`s keep their status with the
 * matching code; anything else is a 500 `INTERNAL`. No 500 answer (`INTERNAL`, `CONFIG`,
 * `INTEGRITY`) carries the error's message or details, which can name files, keys or hosts: the
 * body says `internal error` and the error is logged instead, with the request id, as `@ballast/express`
 * does. Every 5xx answer goes to the module's `onError` when it has one (replacing that log): one
 * rule, shared with `@ballast/express`.
 *
 * @example
 * const app = await NestFactory.create(AppModule);
 * app.useGlobalFilters(new BallastExceptionFilter());
 */
@Catch()
export class BallastExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Ballast');

  /** @param options the module options (`onError`, `requestIdHeader`); optional, so `new BallastExceptionFilter()` works. */
  constructor(@Optional() @Inject(BALLAST_OPTIONS) private readonly options?: ResolvedOptions) {}

  /** Maps `exception` to a Ballast error and writes the answer. */
  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const http = host.switchToHttp();
    const response = http.getResponse<ResponseLike>();
    const error = this.toError(exception);
    const state = existingStateOf(http.getRequest());
    if (state !== undefined) state.error = error;
    const status = answerStatus(error);
    const request = http.getRequest();
    const requestId = state?.requestId ?? currentRequestContext()?.requestId;
    // A 500 (INTERNAL, CONFIG, INTEGRITY) answers `internal error` only: its message can name
    // files, keys or hosts. The whole error is reported instead (the rule @ballast/express applies).
    reportServedError(error, request, requestId, this.options?.onError, (line) => this.logger.error(line));
    if (response.headersSent) {
      // The answer is under way (a stream failed mid-body): all that is left is to end it.
      response.end();
      return;
    }
    if (status === 429 || status === 503) response.setHeader('Retry-After', String(retryAfterSeconds(error.retryAfterMs)));
    if (requestId !== undefined) response.setHeader('X-Request-Id', requestId);
    response.setHeader(ERROR_CODE_HEADER, error.code);
    const { originalUrl, url } = request as { originalUrl?: string; url?: string };
    response.status(status).json(errorBodyFor(error, originalUrl ?? url));
  }

  /** The Ballast error an exception stands for. */
  toError(exception: unknown): BallastError {
    if (isBallastError(exception)) return exception;
    if (exception instanceof HttpException) return fromHttpException(exception);
    const parser = fromBodyParser(exception);
    if (parser !== undefined) return parser;
    // Reported by catch() (with the request id) as the cause of this INTERNAL error.
    return new BallastError('INTERNAL', 'internal error', { cause: exception });
  }
}

function fromHttpException(exception: HttpException): BallastError {
  const status = exception.getStatus();
  const code = codeForStatus(status);
  // A parse failure wrapped by Nest keeps the body-parser's meaning.
  const inner = fromBodyParser(exception.cause);
  if (inner !== undefined) return inner;
  const answer = exception.getResponse();
  const message =
    typeof answer === 'object' && answer !== null && typeof (answer as { message?: unknown }).message === 'string'
      ? (answer as { message: string }).message
      : exception.message;
  return new BallastError(code, message, { cause: exception });
}

// body-parser (used by Express and Nest) marks its errors with `type` and `status`.
function fromBodyParser(exception: unknown): BallastError | undefined {
  if (typeof exception !== 'object' || exception === null) return undefined;
  const type = (exception as { type?: unknown }).type;
  if (type === 'entity.parse.failed') {
    return new BallastError('INVALID_INPUT', 'the request body is not valid JSON', {
      cause: exception,
      details: { reason: 'malformed-json' },
    });
  }
  if (type === 'entity.too.large') {
    const limit = (exception as { limit?: unknown }).limit;
    return new BallastError('PAYLOAD_TOO_LARGE', 'the request body is too large', {
      cause: exception,
      ...(typeof limit === 'number' ? { details: { limitBytes: limit } } : {}),
    });
  }
  if ((typeof type === 'string' && type.startsWith('encoding.')) || type === 'charset.unsupported' || type === 'request.aborted') {
    return new BallastError('INVALID_INPUT', 'the request body could not be read', { cause: exception, details: { reason: type } });
  }
  return undefined;
}
