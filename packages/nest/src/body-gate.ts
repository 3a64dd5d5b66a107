import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable, type OnModuleInit, Optional } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';

/** The routes whose bodies the serving core reads: `POST …/v2/models/:name[/versions/:version]/(infer|generate)`. */
const SERVED_BODY = /\/v2\/models\/[^/]+(?:\/versions\/[^/]+)?\/(?:infer|generate)\/?$/;

/** The names of the body parsers Nest's platform-express registers (the functions body-parser returns). */
const PARSERS = new Set(['jsonParser', 'urlencodedParser']);

type Middleware = (request: IncomingMessage, response: ServerResponse, next: (error?: unknown) => void) => void;
interface Layer {
  handle?: Middleware & { [GATED]?: true };
}
const GATED = Symbol('ballast.bodyGate');

/** Whether the serving core reads this request's body (a POST to a served route). */
function servedBody(request: IncomingMessage): boolean {
  if (request.method !== 'POST') return false;
  const url = request.url ?? '';
  const query = url.indexOf('?');
  return SERVED_BODY.test(query === -1 ? url : url.slice(0, query));
}

/**
 * Lets the serving core read the bodies of the v2 infer and generate routes itself, as it does
 * under Express and Fastify: under the guard's per-model limit, within the request's budget (408
 * with a JSON body for a client that sends its body too slowly), with exact 64-bit integers and
 * the binary tensor data extension. Nest's platform-express reads every JSON body before routing
 * (its `jsonParser`, or the one `app.useBodyParser('json', …)` sets) with no time limit; this
 * wraps those parsers, once the application registered them, so they pass the served routes
 * by and parse every other route as before (same options, `rawBody` included). An application
 * created with `bodyParser: false` has nothing to wrap.
 */
@Injectable()
export class BallastBodyGate implements OnModuleInit {
  /** @param adapterHost the HTTP adapter (absent in an application context without HTTP). */
  constructor(@Optional() @Inject(HttpAdapterHost) private readonly adapterHost?: HttpAdapterHost) {}

  /** Runs after Nest registered its body parsers (and before the application listens). */
  onModuleInit(): void {
    const adapter = this.adapterHost?.httpAdapter;
    if (adapter === undefined || adapter === null || adapter.getType() !== 'express') return;
    const stack = (adapter.getInstance() as { router?: { stack?: Layer[] } }).router?.stack;
    if (!Array.isArray(stack)) return;
    for (const layer of stack) {
      const parser = layer.handle;
      if (typeof parser !== 'function' || parser[GATED] === true || !PARSERS.has(parser.name)) continue;
      // Three parameters (Express tells middleware from error handlers by their count) and the
      // parser's own name (Nest looks parsers up by name before adding its defaults).
      const gated = function gatedParser(request: IncomingMessage, response: ServerResponse, next: (error?: unknown) => void): void {
        if (servedBody(request)) next();
        else parser(request, response, next);
      } as Middleware & { [GATED]?: true };
      Object.defineProperty(gated, 'name', { value: parser.name });
      gated[GATED] = true;
      layer.handle = gated;
    }
  }
}
