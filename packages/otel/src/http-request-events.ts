/* Trace-context propagation into the HTTP requests of remote models. */
import type { HandlerContext } from './handler-context.js';

/** @internal `ballast:http-request` (with tracing only). */
export function httpRequestEvents({ on, tracesOn, inject }: HandlerContext): void {
  if (!tracesOn) return;
  on('httpRequest', (event) => {
    // The request is published inside the attempt's async context: its span is the active one.
    inject(event.headers);
  });
}
