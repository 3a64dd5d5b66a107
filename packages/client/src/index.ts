/** @packageDocumentation Resilient inference client: retries, circuit breakers, deadlines, bulkheads, rate limits, hedging, fallbacks, result cache and remote HTTP models */
export {};
