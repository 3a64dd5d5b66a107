import { describe, expect, it } from 'vitest';
import { BallastError } from './errors.js';
import { subscribe } from './events.js';
import { defineModel, type Middleware } from './model.js';
import { pipeline } from './pipeline.js';
import { type Chunk, collectStream, createStream, type StreamEvent } from './stream.js';
import { wrapModel } from './wrap-model.js';

function words(text: string, seen: { signal?: AbortSignal; finished?: boolean } = {}) {
  return defineModel<string, string>({
    name: 'words',
    async *stream(input, options) {
      seen.signal = options.signal;
      try {
        for (const word of `${input} ${text}`.split(' ')) {
          await new Promise((resolve) => setTimeout(resolve, 1));
          yield { text: `${word} ` };
        }
      } finally {
        seen.finished = true;
      }
      return { output: `${input} ${text} `, usage: { outputTokens: text.split(' ').length + 1 } };
    },
  });
}

async function texts(stream: AsyncIterable<Chunk>): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += chunk.text ?? '';
  return out;
}

describe('model streams', () => {
  it('yields chunks, then the result carries the output and usage', async () => {
    const model = words('b c');
    const stream = model.stream?.('a');
    expect(stream).toBeDefined();
    if (!stream) return;
    expect(await texts(stream)).toBe('a b c ');
    expect(await stream.result).toEqual({ output: 'a b c ', usage: { outputTokens: 3 } });
  });

  it('a streaming-only definition also answers infer() by reading the stream', async () => {
    expect(await words('b').infer('a')).toBe('a b ');
  });

  it('leaving the loop early aborts the source and ends the result as CANCELLED', async () => {
    const seen: { signal?: AbortSignal; finished?: boolean } = {};
    const stream = words('b c d e', seen).stream?.('a');
    if (!stream) throw new Error('no stream');
    for await (const chunk of stream) {
      expect(chunk.text).toBe('a ');
      break;
    }
    expect(seen.signal?.aborted).toBe(true);
    await expect(stream.result).rejects.toMatchObject({ code: 'CANCELLED' });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(seen.finished).toBe(true);
  });

  it("the caller's signal cancels a pending chunk at once, even from a source that ignores it", async () => {
    const stuck = defineModel<string, string>({
      name: 'stuck',
      async *stream() {
        yield { text: 'first' };
        await new Promise(() => {}); // never settles, never looks at its signal
      },
    });
    const controller = new AbortController();
    const stream = stuck.stream?.('x', { signal: controller.signal });
    if (!stream) throw new Error('no stream');
    const iterator = stream[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toEqual({ text: 'first' });
    const pending = iterator.next();
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'CANCELLED' });
    await expect(stream.result).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it('an abort between two reads fails the next read: the stream does not look completed', async () => {
    const seen: { signal?: AbortSignal; finished?: boolean } = {};
    const controller = new AbortController();
    const stream = words('b c d', seen).stream?.('a', { signal: controller.signal });
    if (!stream) throw new Error('no stream');
    const read: string[] = [];
    await expect(
      (async () => {
        for await (const chunk of stream) {
          read.push(chunk.text ?? '');
          controller.abort();
        }
      })(),
    ).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(read).toEqual(['a ']);
    expect(seen.signal?.aborted).toBe(true);
  });

  it('timeoutMs bounds the whole stream', async () => {
    const slow = defineModel<string, string>({
      name: 'slow',
      async *stream() {
        for (;;) {
          yield { text: '.' };
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      },
    });
    const stream = pipeline(slow).stream?.('x', { timeoutMs: 30 });
    if (!stream) throw new Error('no stream');
    await expect(texts(stream)).rejects.toMatchObject({ code: 'TIMEOUT', details: { phase: 'stream' } });
  });

  it('a failing source fails the iteration and the result with a BallastError', async () => {
    const broken = defineModel<string, string>({
      name: 'broken',
      async *stream() {
        yield { text: 'a' };
        throw new BallastError('UPSTREAM', 'connection reset');
      },
    });
    const stream = broken.stream?.('x');
    if (!stream) throw new Error('no stream');
    await expect(texts(stream)).rejects.toMatchObject({ code: 'UPSTREAM' });
    await expect(stream.result).rejects.toMatchObject({ code: 'UPSTREAM' });
  });

  it('defineModel needs infer or stream', () => {
    expect(() => defineModel({ name: 'nothing' } as never)).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => defineModel({ name: 'bad', stream: 'yes' } as never)).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });

  it('a stream is iterated once', async () => {
    const stream = words('b').stream?.('a');
    if (!stream) throw new Error('no stream');
    await collectStream(stream);
    expect(() => stream[Symbol.asyncIterator]()).toThrow(BallastError);
  });

  it('wrappers pass stream through only when the wrapped model has one', () => {
    const plain = defineModel({ name: 'plain', infer: async (x: number) => x });
    const layer: Middleware = (next) => wrapModel(next, { infer: (input, options) => next.infer(input, options) });
    expect(pipeline(plain, layer).stream).toBeUndefined();
    expect(typeof pipeline(words('b'), layer).stream).toBe('function');
  });

  it('a model with a GenAI operation reports it with each chunk after the first, under one stream id', async () => {
    const events: StreamEvent[] = [];
    const stop = subscribe('stream', (event) => {
      if (event.model === 'talker' || event.model === 'words') events.push(event);
    });
    try {
      const talker = defineModel<string, string>({
        name: 'talker',
        operation: 'chat',
        provider: 'acme',
        async *stream() {
          for (const text of ['one ', 'two ', 'three']) yield { text };
          return { output: 'one two three', usage: { outputTokens: 3 } };
        },
      });
      const talking = talker.stream?.('hi');
      const plainStream = words('b').stream?.('a');
      if (talking === undefined || plainStream === undefined) throw new Error('both models stream');
      await collectStream(talking);
      await collectStream(plainStream);
    } finally {
      stop();
    }
    const talked = events.filter((event) => event.model === 'talker');
    expect(talked.map((event) => event.phase)).toEqual(['start', 'first-chunk', 'chunk', 'chunk', 'end']);
    expect(new Set(talked.map((event) => event.id)).size).toBe(1);
    expect(talked[0]).toMatchObject({ operation: 'chat', provider: 'acme' });
    expect(talked.at(-1)).toMatchObject({ outcome: 'completed', chunks: 3, output: 'one two three' });
    // Without an operation, no per-chunk events; and another stream has another id.
    const plain = events.filter((event) => event.model === 'words');
    expect(plain.map((event) => event.phase)).toEqual(['start', 'first-chunk', 'end']);
    expect(plain[0]?.id).not.toBe(talked[0]?.id);
  });

  it('defineModel rejects an operation or provider that is not a non-empty string', () => {
    expect(() => defineModel({ name: 'm', operation: '' as string, infer: async () => 1 })).toThrow(
      expect.objectContaining({ code: 'CONFIG', details: { path: 'operation' } }),
    );
    expect(() => defineModel({ name: 'm', provider: 7 as unknown as string, infer: async () => 1 })).toThrow(
      expect.objectContaining({ code: 'CONFIG', details: { path: 'provider' } }),
    );
  });

  it('pipeline() streams through its layers and publishes start, first chunk and end with usage', async () => {
    const events: StreamEvent[] = [];
    const stop = subscribe('stream', (event) => {
      if (event.model === 'words') events.push(event);
    });
    try {
      const seenByLayer: string[] = [];
      const layer: Middleware = (next) =>
        wrapModel(next, {
          infer: (input, options) => next.infer(input, options),
          stream: (input, options) =>
            createStream(async function* (signal) {
              const inner = (next.stream as NonNullable<typeof next.stream>)(input, { ...options, signal });
              for await (const chunk of inner) {
                seenByLayer.push(chunk.text ?? '');
                yield chunk;
              }
              return inner.result;
            }),
        });
      const stream = pipeline(words('b'), layer).stream?.('a');
      if (!stream) throw new Error('no stream');
      expect(await texts(stream)).toBe('a b ');
      expect(seenByLayer).toEqual(['a ', 'b ']);
      expect((await stream.result).usage).toEqual({ outputTokens: 2 });
    } finally {
      stop();
    }
    const outer = events.filter((event) => event.phase === 'end').at(-1);
    expect(events.map((event) => event.phase)).toContain('first-chunk');
    expect(outer).toMatchObject({ outcome: 'completed', chunks: 2, usage: { outputTokens: 2 } });
  });
});
