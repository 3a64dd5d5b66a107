import { type Chunk, type ModelStream, TokenBucketLimiter } from '@ballast/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { CacheEntry, CacheStore } from './cache.js';
import { type ClientOptions, createClient } from './client.js';
import type { ChatInput, TextOutput } from './openai-model.js';
import { remoteModel } from './remote-model.js';
import { CONTINUE_PROMPT } from './stream-continuation.js';
import { type Reply, startOpenAIServer } from './test-openai-server.js';

type Server = Awaited<ReturnType<typeof startOpenAIServer>>;
const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function serve(reply: (path: string, body: Record<string, unknown>) => Reply): Promise<Server> {
  const server = await startOpenAIServer(reply);
  servers.push(server);
  return server;
}

const WHOLE = 'Circuit breakers stop calls to a failing upstream so it can recover.';
const question: ChatInput = { messages: [{ role: 'user', content: 'What does a circuit breaker do?' }] };

/** A client over a primary answering with `primary` and, when given, a fallback model answering with `backup`. */
async function setup(
  primary: (call: number) => Reply,
  options: Partial<ClientOptions<ChatInput, TextOutput>> = {},
  backup?: (call: number) => Reply,
) {
  let calls = 0;
  const main = await serve(() => primary(++calls));
  let fallbackCalls = 0;
  const spare = backup ? await serve(() => backup(++fallbackCalls)) : undefined;
  const chain = spare ? [remoteModel({ protocol: 'openai', url: spare.url, name: 'llama-3.1-8b-instruct' })] : undefined;
  const client = createClient<ChatInput, TextOutput>({
    model: remoteModel({ protocol: 'openai', url: main.url, name: 'gpt-4o-mini' }),
    ...(chain ? { fallback: chain } : {}),
    ...options,
  });
  return { client, main, spare };
}

async function read(stream: ModelStream<TextOutput> | undefined): Promise<{ texts: string[]; error?: unknown }> {
  if (!stream) throw new Error('the client streams when its model does');
  const texts: string[] = [];
  try {
    for await (const chunk of stream as AsyncIterable<Chunk>) texts.push(chunk.text ?? '');
  } catch (error) {
    return { texts, error };
  }
  return { texts };
}

describe('client streams: retry, hedge and fallback before the first chunk', () => {
  it('a failure before the first chunk falls back invisibly: the caller sees only the fallback answer', async () => {
    const { client, main, spare } = await setup(
      () => ({ fixture: 'rate-limited.json', status: 503 }),
      {},
      () => ({
        fixture: 'fallback-full-stream.sse',
      }),
    );
    const stream = client.stream?.(question);
    const { texts, error } = await read(stream);
    expect(error).toBeUndefined();
    expect(texts.join('')).toBe(WHOLE);
    expect((await stream?.result)?.usage).toEqual({ inputTokens: 24, outputTokens: 13, totalTokens: 37 });
    expect(main.received).toHaveLength(1);
    expect(spare?.received).toHaveLength(1);
    expect(client.stats()).toMatchObject({ calls: 1, succeeded: 1, failed: 0 });
  });

  it('a static fallback value answers as a one-chunk stream', async () => {
    const main = await serve(() => ({ fixture: 'rate-limited.json', status: 503 }));
    const client = createClient<ChatInput, TextOutput>({
      model: remoteModel({ protocol: 'openai', url: main.url, name: 'gpt-4o-mini' }),
      fallback: [{ value: { text: 'The assistant is busy; try again shortly.' } }],
    });
    const stream = client.stream?.(question);
    const { texts, error } = await read(stream);
    expect(error).toBeUndefined();
    expect(texts).toEqual(['The assistant is busy; try again shortly.']);
    expect((await stream?.result)?.output).toEqual({ text: 'The assistant is busy; try again shortly.' });
  });

  it('a slow first byte past firstChunkTimeoutMs is abandoned for the fallback', async () => {
    const { client, main } = await setup(
      () => ({ fixture: 'chat-stream.sse', firstByteDelayMs: 400 }),
      { stream: { firstChunkTimeoutMs: 60 } },
      () => ({ fixture: 'fallback-full-stream.sse' }),
    );
    const started = performance.now();
    const { texts, error } = await read(client.stream?.(question));
    expect(error).toBeUndefined();
    expect(texts.join('')).toBe(WHOLE);
    expect(performance.now() - started).toBeLessThan(350);
    // The abandoned attempt's connection is closed, not left to finish.
    expect((await main.received[0]?.closed)?.finished).toBe(false);
  });

  it('retries a 429 before the first chunk, after the wait it asked for', async () => {
    const { client, main } = await setup(
      (call) =>
        call === 1
          ? { fixture: 'rate-limited.json', status: 429, headers: { 'retry-after-ms': '30', 'x-ratelimit-remaining-tokens': '0' } }
          : { fixture: 'chat-stream.sse' },
      { retry: { maxAttempts: 3, baseDelayMs: 1 } },
    );
    const started = performance.now();
    const { texts, error } = await read(client.stream?.(question));
    expect(error).toBeUndefined();
    expect(texts.join('')).toBe(WHOLE);
    expect(main.received).toHaveLength(2);
    expect(performance.now() - started).toBeGreaterThanOrEqual(29);
  });

  it('hedges a slow first chunk: the first attempt to deliver wins, the other is closed', async () => {
    const { client, main } = await setup((call) => ({ fixture: 'chat-stream.sse', firstByteDelayMs: call === 1 ? 500 : 0 }), {
      hedge: { delayMs: 30 },
    });
    const started = performance.now();
    const { texts, error } = await read(client.stream?.(question));
    expect(error).toBeUndefined();
    expect(texts.join('')).toBe(WHOLE);
    expect(performance.now() - started).toBeLessThan(400);
    expect(main.received).toHaveLength(2);
    expect((await main.received[0]?.closed)?.finished).toBe(false);
    // Closed as soon as the hedge won, not when its own answer would have started.
    expect(performance.now() - started).toBeLessThan(400);
  });
});

describe('client streams: after the first chunk', () => {
  it('by default a mid-stream failure ends the stream with a typed error, and is not retried', async () => {
    const { client, main, spare } = await setup(
      () => ({ fixture: 'chat-stream-cut.sse', cut: true }),
      { retry: { maxAttempts: 3, baseDelayMs: 1 } },
      () => ({ fixture: 'fallback-stream.sse' }),
    );
    const stream = client.stream?.(question);
    const { texts, error } = await read(stream);
    expect(texts.join('')).toBe('Circuit breakers stop calls');
    expect(error).toMatchObject({ code: 'UPSTREAM', retryable: false, details: { phase: 'mid-stream', chunks: 4 } });
    await expect(stream?.result).rejects.toBe(error);
    expect(main.received).toHaveLength(1);
    expect(spare?.received).toHaveLength(0);
    expect(client.stats()).toMatchObject({ failed: 1, errors: { UPSTREAM: 1 } });
  });

  it('with midStreamFallback the fallback continues the answer from what was delivered', async () => {
    const { client, spare } = await setup(
      () => ({ fixture: 'chat-stream-error.sse' }),
      { stream: { midStreamFallback: true } },
      () => ({ fixture: 'fallback-stream.sse' }),
    );
    const stream = client.stream?.(question);
    const { texts, error } = await read(stream);
    expect(error).toBeUndefined();
    expect(texts.join('')).toBe(WHOLE);
    const result = await stream?.result;
    expect(result?.output.text).toBe(WHOLE);
    expect(result?.usage).toEqual({ inputTokens: 41, outputTokens: 9, totalTokens: 50 });
    expect(spare?.received[0]?.body.messages).toEqual([
      ...question.messages,
      { role: 'assistant', content: 'Circuit breakers stop calls' },
      { role: 'user', content: CONTINUE_PROMPT },
    ]);
  });

  it('an idle gap past idleTimeoutMs fails the stream with TIMEOUT', async () => {
    const { client } = await setup(() => ({ fixture: 'chat-stream.sse', gapMs: 80 }), { stream: { idleTimeoutMs: 30 } });
    const { texts, error } = await read(client.stream?.(question));
    expect(texts).toEqual(['Circuit']);
    expect(error).toMatchObject({ code: 'TIMEOUT', details: { phase: 'mid-stream', failedIn: 'idle' } });
  });

  it('leaving the loop early closes the upstream socket and frees the bulkhead slot', async () => {
    const { client, main } = await setup(() => ({ fixture: 'chat-stream.sse', gapMs: 15 }), { bulkhead: { maxConcurrent: 1 } });
    const stream = client.stream?.(question);
    if (!stream) throw new Error('no stream');
    let seen = 0;
    for await (const _chunk of stream) {
      if (++seen === 2) break;
    }
    const closed = await main.received[0]?.closed;
    expect(closed?.finished).toBe(false);
    await expect(stream.result).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(client.stats().bulkhead).toMatchObject({ active: 0 });
  });
});

describe('client streams: budgets and cancellation', () => {
  it("aborting the caller's signal mid-stream ends it with CANCELLED and closes the upstream", async () => {
    const { client, main } = await setup(() => ({ fixture: 'chat-stream.sse', gapMs: 15 }), { breaker: { consecutiveFailures: 1 } });
    const controller = new AbortController();
    const stream = client.stream?.(question, { signal: controller.signal });
    if (!stream) throw new Error('no stream');
    const texts: string[] = [];
    const error = await (async () => {
      try {
        for await (const chunk of stream) {
          texts.push(chunk.text ?? '');
          if (texts.length === 2) controller.abort();
        }
      } catch (thrown) {
        return thrown;
      }
    })();
    expect(error).toMatchObject({ code: 'CANCELLED' });
    expect(texts).toEqual(['Circuit', ' breakers']);
    expect((await main.received[0]?.closed)?.finished).toBe(false);
    // The caller's cancel is not the upstream's failure.
    expect(client.breaker?.state()).toBe('closed');
  });

  it('stream.timeoutMs bounds the whole stream, in place of the client timeoutMs', async () => {
    const { client } = await setup(() => ({ fixture: 'chat-stream.sse', gapMs: 20 }), { timeoutMs: 10, stream: { timeoutMs: 120 } });
    const { texts, error } = await read(client.stream?.(question));
    expect(texts.length).toBeGreaterThan(1); // the client's 10 ms (sized for one answer) did not apply
    expect(texts.length).toBeLessThan(13);
    expect(error).toMatchObject({ code: 'TIMEOUT' });
  });

  it('a closed client refuses streams with MODEL_UNAVAILABLE', async () => {
    const { client } = await setup(() => ({ fixture: 'chat-stream.sse' }));
    await client.close();
    expect((await read(client.stream?.(question))).error).toMatchObject({ code: 'MODEL_UNAVAILABLE' });
  });
});

describe('client streams: admission policies hold for the whole stream', () => {
  it('a stream holds its bulkhead slot until it ends', async () => {
    const { client } = await setup(() => ({ fixture: 'chat-stream.sse', gapMs: 5 }), { bulkhead: { maxConcurrent: 1, maxQueue: 0 } });
    const first = client.stream?.(question);
    if (!first) throw new Error('no stream');
    const iterator = first[Symbol.asyncIterator]();
    await iterator.next();
    const second = await read(client.stream?.(question));
    expect(second.error).toMatchObject({ code: 'OVERLOADED' });
    while (!(await iterator.next()).done) {
      // reading the first stream to its end
    }
    expect((await read(client.stream?.(question))).texts.join('')).toBe(WHOLE);
  });

  it('the breaker counts a mid-stream failure', async () => {
    const { client, main } = await setup(() => ({ fixture: 'chat-stream-cut.sse', cut: true }), { breaker: { consecutiveFailures: 1 } });
    expect((await read(client.stream?.(question))).error).toMatchObject({ details: { phase: 'mid-stream' } });
    expect(client.breaker?.state()).toBe('open');
    expect((await read(client.stream?.(question))).error).toMatchObject({ code: 'CIRCUIT_OPEN' });
    expect(main.received).toHaveLength(1);
  });

  it('the rate limit counts streams', async () => {
    const { client } = await setup(() => ({ fixture: 'chat-stream.sse' }), { rateLimit: { ratePerSecond: 0.01, burst: 1 } });
    expect((await read(client.stream?.(question))).error).toBeUndefined();
    expect((await read(client.stream?.(question))).error).toMatchObject({ code: 'RATE_LIMITED' });
  });

  it('a token limit charges the reported usage and refuses the next stream once spent', async () => {
    const limiter = new TokenBucketLimiter({ ratePerSecond: 0.01, burst: 50 });
    const { client } = await setup(() => ({ fixture: 'chat-stream.sse' }), { tokenLimit: { limiter } });
    const alice = { principal: { id: 'alice' } };
    expect((await read(client.stream?.(question, alice))).error).toBeUndefined();
    expect(Math.floor(limiter.available('alice'))).toBe(13); // 50 - 37 tokens
    expect((await read(client.stream?.(question, alice))).error).toBeUndefined();
    expect(Math.floor(limiter.available('alice'))).toBe(0); // 37 more than the 13 left: spent
    expect((await read(client.stream?.(question, alice))).error).toMatchObject({ code: 'RATE_LIMITED', details: { key: 'alice' } });
    // Another principal has its own allowance.
    expect((await read(client.stream?.(question, { principal: { id: 'bob' } }))).error).toBeUndefined();
  });

  it('a token limit smaller than one stream still spends the whole allowance', async () => {
    // 37 tokens reported against a bucket of 30: the limiter refuses a cost above its burst, so the
    // charge spends what is left instead.
    const limiter = new TokenBucketLimiter({ ratePerSecond: 0.01, burst: 30 });
    const { client } = await setup(() => ({ fixture: 'chat-stream.sse' }), { tokenLimit: { limiter } });
    const alice = { principal: { id: 'alice' } };
    expect((await read(client.stream?.(question, alice))).error).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(Math.floor(limiter.available('alice'))).toBe(0);
    expect((await read(client.stream?.(question, alice))).error).toMatchObject({ code: 'RATE_LIMITED', details: { key: 'alice' } });
  });
});

describe('client streams: cache', () => {
  it('stores a completed stream and replays it as a stream; an unfinished one is never stored', async () => {
    const { client, main } = await setup(() => ({ fixture: 'chat-stream.sse' }), { cache: { ttlMs: 60_000 } });
    const first = await read(client.stream?.(question));
    const replay = client.stream?.(question);
    const again = await read(replay);
    expect(again.texts).toEqual(first.texts);
    expect((await replay?.result)?.output.text).toBe(WHOLE);
    expect(main.received).toHaveLength(1);

    const other: ChatInput = { messages: [{ role: 'user', content: 'And a bulkhead?' }] };
    const partial = client.stream?.(other);
    if (!partial) throw new Error('no stream');
    for await (const _chunk of partial) break;
    await read(client.stream?.(other));
    expect(main.received).toHaveLength(3);
  });

  it('a stored stream survives a store that serializes its entries as JSON', async () => {
    const saved = new Map<string, string>();
    const store: CacheStore = {
      get: (key) => {
        const text = saved.get(key);
        return text === undefined ? undefined : (JSON.parse(text) as CacheEntry);
      },
      set: (key, entry) => {
        saved.set(key, JSON.stringify(entry));
      },
      delete: (key) => {
        saved.delete(key);
      },
    };
    const { client, main } = await setup(() => ({ fixture: 'chat-stream.sse' }), { cache: { store } });
    const first = await read(client.stream?.(question));
    const again = await read(client.stream?.(question));
    expect(again.texts).toEqual(first.texts);
    expect(main.received).toHaveLength(1);
  });
});
