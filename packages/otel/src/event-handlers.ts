/*
 * Every family of Ballast event handlers `instrument()` subscribes, one file each. A new family:
 * write `<family>-events.ts` exporting an `EventHandlers` function and add it to this list.
 */
import { attemptEvents } from './attempt-events.js';
import { balanceEvents } from './balance-events.js';
import { batchEvents } from './batch-events.js';
import { breakerEvents } from './breaker-events.js';
import { cacheEvents } from './cache-events.js';
import { driftEvents } from './drift-events.js';
import { fallbackEvents } from './fallback-events.js';
import type { EventHandlers } from './handler-context.js';
import { httpRequestEvents } from './http-request-events.js';
import { modelLoadEvents } from './model-load-events.js';
import { rejectionEvents } from './rejection-events.js';
import { storeEvents } from './store-events.js';
import { streamEvents } from './stream-events.js';
import { usageEvents } from './usage-events.js';

/** @internal The handler families, each subscribed once per `instrument()` call. */
export const EVENT_HANDLERS: readonly EventHandlers[] = [
  attemptEvents,
  fallbackEvents,
  cacheEvents,
  breakerEvents,
  rejectionEvents,
  batchEvents,
  modelLoadEvents,
  usageEvents,
  streamEvents,
  driftEvents,
  httpRequestEvents,
  storeEvents,
  balanceEvents,
];
