import { defineModel, isBallastError } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { createClient } from './client.js';

// The shape of errors thrown by the openai and @anthropic-ai/sdk packages (status + headers),
// axios (response.status/headers) and got (response.statusCode).
function serviceUnavailable(headers?: Record<string, string>): Error {
  return Object.assign(new Error('Service Unavailable'), { status: 503, ...(headers ? { headers } : {}) });
}

describe('errors thrown by ordinary HTTP SDKs', () => {
  it('retries a 503 from an SDK and serves the next answer', async () => {
    let calls = 0;
    const model = defineModel({
      name: 'sdk',
      infer: async (x: number) => {
        if (++calls === 1) throw serviceUnavailable();
        return x * 2;
      },
    });
    const client = createClient({ model, retry: { baseDelayMs: 1, jitter: 'none' } });
    expect(await client.infer(21)).toBe(42);
    expect(calls).toBe(2);
    expect(client.stats().retry?.retries).toBe(1);
  });

  it('gives the caller a code, the Retry-After hint and the original error as cause', async () => {
    const original = Object.assign(new Error('Too Many Requests'), { statusCode: 429, headers: { 'retry-after': '7' } });
    const model = defineModel({
      name: 'sdk',
      infer: async () => {
        throw original;
      },
    });
    const client = createClient({ model, retry: { maxDelayMs: 1000 } });
    const error = await client.infer(1).catch((e: unknown) => e);
    expect(isBallastError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'RATE_LIMITED', retryable: true, retryAfterMs: 7000, message: 'Too Many Requests' });
    expect((error as Error).cause).toBe(original);
    // The hint is longer than the retry policy waits: one attempt, no retry storm.
    expect(client.stats()).toMatchObject({ calls: 1, failed: 1, errors: { RATE_LIMITED: 1 } });
  });

  it('does not retry another 4xx (axios shape)', async () => {
    let calls = 0;
    const model = defineModel({
      name: 'sdk',
      infer: async () => {
        calls++;
        throw Object.assign(new Error('Bad Request'), { response: { status: 400, headers: {} } });
      },
    });
    const client = createClient({ model, retry: { baseDelayMs: 1 } });
    await expect(client.infer(1)).rejects.toMatchObject({ code: 'INVALID_INPUT', retryable: false });
    expect(calls).toBe(1);
  });

  it('lets the breaker tell a 400 (the input) from a 503 (the upstream)', async () => {
    let status = 400;
    const model = defineModel({
      name: 'sdk',
      infer: async () => {
        throw Object.assign(new Error(`HTTP ${status}`), { status });
      },
    });
    const client = createClient({ model, breaker: { consecutiveFailures: 3, openMs: 60_000 } });
    for (let i = 0; i < 5; i++) await expect(client.infer(i)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(client.breaker?.state()).toBe('closed');
    status = 503;
    for (let i = 0; i < 3; i++) await expect(client.infer(i)).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
    expect(client.breaker?.state()).toBe('open');
    await expect(client.infer(0)).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });
  });
});
