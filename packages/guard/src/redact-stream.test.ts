import { type Chunk, collectStream, createStream, defineModel, pipeline } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { createGuard } from './guard.js';
import { outputRedaction, redactStream } from './redact-stream.js';

const API_KEY = /sk-[A-Za-z0-9]{20,48}/g;
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g;
const options = { patterns: [API_KEY, EMAIL], maxMatchLength: 64 };

function streamOf(texts: readonly string[]) {
  return createStream<{ text: string }>(async function* () {
    for (const text of texts) yield { text, data: { delta: text } };
    return { output: { text: texts.join('') } };
  });
}

async function read(stream: AsyncIterable<Chunk>): Promise<string[]> {
  const out: string[] = [];
  for await (const chunk of stream) out.push(chunk.text ?? '');
  return out;
}

describe('redactStream', () => {
  it('redacts an API key and an email split across two chunks, in the chunks and in the output', async () => {
    const key = 'sk-Zx81Qm4PLa9wVb27Tn5Ke3Rd';
    const texts = ['Use the key ', key.slice(0, 9), `${key.slice(9)} and mail ops@exa`, 'mple.com today.'];
    const stream = redactStream(streamOf(texts), options);
    const out = await read(stream);
    const joined = out.join('');
    expect(joined).toBe('Use the key [REDACTED] and mail [REDACTED] today.');
    expect(joined).not.toContain('sk-Zx');
    for (const piece of out) expect(piece).not.toMatch(/sk-|@exa|mple\.com/);
    expect((await stream.result).output).toEqual({ text: joined });
  });

  it('releases a redacted secret as soon as it is final, not at the end', async () => {
    let pulled = 0;
    const texts = ['key sk-Zx81Qm4P', 'La9wVb27Tn5Ke3Rd, then', ' plain text long enough to settle the key for good', ' and more.'];
    const source = createStream<string>(async function* () {
      for (const text of texts) {
        pulled++;
        yield { text };
      }
    });
    const seen: { text: string; pulled: number }[] = [];
    for await (const chunk of redactStream(source, options)) seen.push({ text: chunk.text ?? '', pulled });
    expect(seen.map((piece) => piece.text).join('')).toBe(`key [REDACTED], then${texts[2]}${texts[3]}`);
    // The third chunk puts more than 63 characters after the key's start: the key is released then.
    const redacted = seen.find((piece) => piece.text.includes('[REDACTED]'));
    expect(redacted?.pulled).toBe(3);
  });

  it('drops the raw data of text chunks, which repeats the text', async () => {
    const chunks: Chunk[] = [];
    for await (const chunk of redactStream(streamOf(['key sk-Zx81Qm4PLa9', 'wVb27Tn5Ke3Rd']), options)) chunks.push(chunk);
    expect(JSON.stringify(chunks)).not.toContain('sk-');
  });

  it('passes text with no secret through, holding back only the tail, released as soon as it is safe', async () => {
    // The source yields a chunk only when the test lets it: what the redacted stream has delivered
    // by then is what it released without waiting for more.
    const gates: (() => void)[] = [];
    const texts = Array.from({ length: 12 }, (_, i) => `word${i} is plain text; `);
    const source = createStream<string>(async function* () {
      for (const text of texts) {
        await new Promise<void>((resolve) => gates.push(resolve));
        yield { text };
      }
    });
    const stream = redactStream(source, options);
    const iterator = stream[Symbol.asyncIterator]();
    const delivered: string[] = [];
    let read = 0;
    let pending = iterator.next();
    for (let i = 0; i < texts.length; i++) {
      while (gates.length === 0) await new Promise((resolve) => setImmediate(resolve));
      (gates.shift() as () => void)();
      read += (texts[i] as string).length;
      const released = read - 63; // maxMatchLength - 1 characters are held back
      if (released > 0) {
        const step = await pending;
        delivered.push(step.value?.text ?? '');
        pending = iterator.next();
        expect(delivered.join('').length).toBe(released);
      }
    }
    const rest: string[] = [];
    for (let step = await pending; !step.done; step = await iterator.next()) rest.push(step.value.text ?? '');
    expect([...delivered, ...rest].join('')).toBe(texts.join(''));
    // The first three chunks (63 characters) fill the held tail; from then on one piece per chunk,
    // and the tail at the end.
    expect(delivered.length).toBe(texts.length - 3);
    expect(rest).toHaveLength(1);
  });

  it('leaving the loop early cancels the wrapped stream', async () => {
    let finished = false;
    const source = createStream<string>(async function* () {
      try {
        for (let i = 0; ; i++) yield { text: `chunk ${i} with enough text to pass the held tail quickly. ` };
      } finally {
        finished = true;
      }
    });
    const stream = redactStream(source, options);
    for await (const _chunk of stream) break;
    await expect(stream.result).rejects.toMatchObject({ code: 'CANCELLED' });
    await expect(source.result).rejects.toMatchObject({ code: 'CANCELLED' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(finished).toBe(true);
  });

  it('rejects a bad maxMatchLength with CONFIG', () => {
    expect(() => redactStream(streamOf([]), { patterns: [EMAIL], maxMatchLength: 0 })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() =>
      createGuard({ anonymous: { id: 'anonymous', roles: ['user'] }, output: { patterns: [EMAIL], maxMatchLength: 1.5 } }),
    ).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });
});

describe('streamed outputs through a guard and a middleware', () => {
  it('guard.filterStream applies the model redaction; outputRedaction does it in a pipeline', async () => {
    const guard = createGuard({ anonymous: { id: 'anonymous', roles: ['user'] }, models: { chat: { output: options } } });
    const chunks = ['mail ops@exa', 'mple.com'];
    expect((await read(guard.filterStream('chat', streamOf(chunks)))).join('')).toBe('mail [REDACTED]');
    const plain = streamOf(chunks);
    expect(guard.filterStream('other', plain)).toBe(plain);

    const model = pipeline(
      defineModel({
        name: 'chat',
        stream: async function* () {
          yield { text: 'key sk-Zx81Qm4P' };
          yield { text: 'La9wVb27Tn5Ke3Rd.' };
        },
      }),
      outputRedaction(options),
    );
    const stream = model.stream?.('hi');
    if (stream === undefined) throw new Error('the model streams');
    const { output } = await collectStream(stream);
    expect(output).toBe('key [REDACTED].');
    await expect(model.infer('hi')).resolves.toBe('key [REDACTED].');
  });
});
