import { type Chunk, subscribe, type UsageEvent } from '@ballast/core';
import { afterEach, describe, expect, it } from 'vitest';
import { remoteModel } from './remote-model.js';
import { type Reply, startOpenAIServer } from './test-openai-server.js';

type Server = Awaited<ReturnType<typeof startOpenAIServer>>;
let server: Server | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(reply: (path: string, body: Record<string, unknown>) => Reply): Promise<Server> {
  server = await startOpenAIServer(reply);
  return server;
}

async function read(stream: AsyncIterable<Chunk>): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.text ?? '';
  return text;
}

const question = { messages: [{ role: 'user', content: 'What does a circuit breaker do?' }] };

describe("remoteModel({ protocol: 'openai' })", () => {
  it('streams a chat answer, asks for usage, and ends with the output and usage', async () => {
    const { url, received } = await serve(() => ({ fixture: 'chat-stream.sse' }));
    const usage: UsageEvent[] = [];
    const stop = subscribe('usage', (event) => usage.push(event));
    try {
      const chat = remoteModel({ protocol: 'openai', url, name: 'gpt-4o-mini' });
      const stream = chat.stream?.(question, { principal: { id: 'tenant-a' } });
      if (!stream) throw new Error('chat models stream');
      const chunks: Chunk[] = [];
      for await (const chunk of stream) chunks.push(chunk);
      expect(chunks).toHaveLength(13);
      expect(chunks.map((chunk) => chunk.text).join('')).toBe('Circuit breakers stop calls to a failing upstream so it can recover.');
      const result = await stream.result;
      expect(result.usage).toEqual({ inputTokens: 24, outputTokens: 13, totalTokens: 37 });
      expect(result.output).toMatchObject({ finishReason: 'stop', model: 'gpt-4o-mini-2024-07-18' });
    } finally {
      stop();
    }
    expect(received[0]?.path).toBe('/v1/chat/completions');
    expect(received[0]?.body).toMatchObject({ model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true } });
    expect(usage).toEqual([
      { model: 'gpt-4o-mini', provider: 'openai', operation: 'chat', inputTokens: 24, outputTokens: 13, principal: 'tenant-a' },
    ]);
  });

  it('answers chat, completions and embeddings without streaming', async () => {
    const { url, received } = await serve((path) => ({
      fixture: path.endsWith('/embeddings')
        ? 'embeddings.json'
        : path.endsWith('/chat/completions')
          ? 'chat.json'
          : 'completions-stream.sse',
    }));
    const chat = remoteModel({ protocol: 'openai', url, name: 'gpt-4o-mini' });
    expect(await chat.infer(question)).toEqual({
      text: 'Bulkheads cap concurrent calls.',
      finishReason: 'stop',
      model: 'gpt-4o-mini-2024-07-18',
      usage: { inputTokens: 19, outputTokens: 6, totalTokens: 25 },
    });
    expect(received[0]?.body.stream).toBe(false);
    const embed = remoteModel({ protocol: 'openai', url, name: 'text-embedding-3-small', endpoint: 'embeddings' });
    expect(embed.stream).toBeUndefined();
    // Rows come back in input order whatever order the upstream lists them in.
    expect(await embed.infer({ input: ['a', 'b'] } as never)).toEqual({
      embeddings: [
        [-0.0071, 0.0231, -0.0547, 0.0918],
        [0.0123, -0.0456, 0.0789, 0.0012],
      ],
      usage: { inputTokens: 8, totalTokens: 8 },
    });
    const complete = remoteModel({ protocol: 'openai', url, name: 'gpt-3.5-turbo-instruct', endpoint: 'completions' });
    const stream = complete.stream?.({ prompt: 'Why backpressure?' } as never);
    if (!stream) throw new Error('completions stream');
    expect(await read(stream)).toBe('\n\nBackpressure keeps queues short.');
    expect((await stream.result).usage).toEqual({ inputTokens: 6, outputTokens: 7, totalTokens: 13 });
    expect(received.at(-1)?.path).toBe('/v1/completions');
  });

  it('an error event mid-stream fails the stream with a typed, retryable error after the chunks before it', async () => {
    const { url } = await serve(() => ({ fixture: 'chat-stream-error.sse' }));
    const stream = remoteModel({ protocol: 'openai', url, name: 'gpt-4o-mini' }).stream?.(question);
    if (!stream) throw new Error('no stream');
    const texts: string[] = [];
    const failure = await (async () => {
      try {
        for await (const chunk of stream) texts.push(chunk.text ?? '');
      } catch (error) {
        return error;
      }
    })();
    expect(texts.join('')).toBe('Circuit breakers stop calls');
    expect(failure).toMatchObject({ code: 'UPSTREAM', retryable: true, details: { phase: 'stream', type: 'server_error' } });
    await expect(stream.result).rejects.toBe(failure);
  });

  it('a connection cut before [DONE] fails the stream with retryable UPSTREAM', async () => {
    const { url } = await serve(() => ({ fixture: 'chat-stream-cut.sse', cut: true }));
    const stream = remoteModel({ protocol: 'openai', url, name: 'gpt-4o-mini' }).stream?.(question);
    if (!stream) throw new Error('no stream');
    await expect(read(stream)).rejects.toMatchObject({ code: 'UPSTREAM', retryable: true });
  });

  it('429 gives RATE_LIMITED with the wait from retry-after-ms and the x-ratelimit-* numbers', async () => {
    const { url } = await serve(() => ({
      fixture: 'rate-limited.json',
      status: 429,
      headers: {
        'retry-after-ms': '85',
        'x-ratelimit-limit-requests': '10000',
        'x-ratelimit-remaining-requests': '9998',
        'x-ratelimit-reset-requests': '11ms',
        'x-ratelimit-limit-tokens': '200000',
        'x-ratelimit-remaining-tokens': '0',
        'x-ratelimit-reset-tokens': '1m0.5s',
      },
    }));
    const stream = remoteModel({ protocol: 'openai', url, name: 'gpt-4o-mini' }).stream?.(question);
    if (!stream) throw new Error('no stream');
    const error = await read(stream).catch((thrown: unknown) => thrown);
    expect(error).toMatchObject({
      code: 'RATE_LIMITED',
      retryable: true,
      retryAfterMs: 85,
      details: {
        status: 429,
        upstreamCode: 'rate_limit_exceeded',
        rateLimit: {
          limitRequests: 10000,
          remainingRequests: 9998,
          resetRequestsMs: 11,
          limitTokens: 200000,
          remainingTokens: 0,
          resetTokensMs: 60500,
        },
      },
    });
    expect((error as Error).message).toContain('Rate limit reached for gpt-4o-mini');
  });

  it('without Retry-After, a spent allowance waits for its x-ratelimit reset', async () => {
    const { url } = await serve(() => ({
      fixture: 'rate-limited.json',
      status: 429,
      headers: { 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': '6m0s', 'x-ratelimit-remaining-requests': '5' },
    }));
    const chat = remoteModel({ protocol: 'openai', url, name: 'gpt-4o-mini' });
    await expect(chat.infer(question)).rejects.toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 360_000 });
  });

  it('leaving the loop early closes the upstream connection before the answer is all sent', async () => {
    const { url, received } = await serve(() => ({ fixture: 'chat-stream.sse', gapMs: 20 }));
    const stream = remoteModel({ protocol: 'openai', url, name: 'gpt-4o-mini' }).stream?.(question);
    if (!stream) throw new Error('no stream');
    let seen = 0;
    for await (const _chunk of stream) {
      if (++seen === 2) break;
    }
    const closed = await received[0]?.closed;
    expect(closed?.finished).toBe(false);
    expect(closed?.eventsWritten).toBeLessThan(10);
    await expect(stream.result).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it('a slow first byte runs into the stream budget as TIMEOUT', async () => {
    const { url } = await serve(() => ({ fixture: 'chat-stream.sse', firstByteDelayMs: 300 }));
    const stream = remoteModel({ protocol: 'openai', url, name: 'gpt-4o-mini' }).stream?.(question, { timeoutMs: 50 });
    if (!stream) throw new Error('no stream');
    await expect(read(stream)).rejects.toMatchObject({ code: 'TIMEOUT' });
  });
});
