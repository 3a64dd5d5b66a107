import { BallastError, defineModel } from '@ballast/core';
import { createGuard } from '@ballast/guard';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inferHandler } from './infer-handler.js';
import { listen } from './test-server.js';

/** A chat-like model: streams `words`, then fails with `failWith` when given. */
function wordsModel(name: string, words: string[], failWith?: BallastError) {
  return defineModel<{ messages: unknown[] }, string>({
    name,
    async *stream() {
      for (const word of words) yield { text: word };
      if (failWith !== undefined) throw failWith;
      return { output: words.join(' '), usage: { inputTokens: 3, outputTokens: words.length } };
    },
  });
}

/** The events of an event stream body, parsed. */
function eventsOf(text: string): { event: string; data: unknown }[] {
  return text
    .split('\n\n')
    .filter((block) => block !== '')
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? 'null';
      return { event, data: JSON.parse(data) };
    });
}

let base = '';
let close: () => Promise<void> = async () => {};
const reported: BallastError[] = [];

beforeAll(async () => {
  const app = express();
  app.post('/chat', inferHandler(wordsModel('chat', ['one', 'two', 'three'])));
  const broken = wordsModel('broken', ['one', 'two'], new BallastError('INTERNAL', 'a bug in the model'));
  app.post('/broken', inferHandler(broken, { onError: (error) => reported.push(error) }));
  const busy = wordsModel('busy', [], new BallastError('RATE_LIMITED', 'busy', { retryAfterMs: 1000 }));
  app.post('/busy', inferHandler(busy));
  // A secret split across two chunks, behind a guard that redacts emails in outputs.
  const leaky = wordsModel('leaky', ['write to ali', 'ce@example.com', ' today']);
  const guard = createGuard({ anonymous: { id: 'reader', roles: ['infer'] }, output: { patterns: [/[\w.]+@[\w.]+\.\w+/] } });
  app.post('/leaky', inferHandler(leaky, { guard }));
  const started = await listen(app);
  base = started.url;
  close = started.close;
});
afterAll(() => close());

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

describe('inferHandler streams', () => {
  it("applies the guard's output redaction to streamed text, a secret split across chunks included", async () => {
    const streamed = await post('/leaky', { messages: [], stream: true });
    const events = eventsOf(await streamed.text());
    const text = events
      .filter((e) => e.event === 'message')
      .map((e) => (e.data as { text: string }).text)
      .join('');
    expect(text).toBe('write to [REDACTED] today');
    expect(text).not.toContain('example.com');
  });

  it('answers Server-Sent Events when the body asks for a stream, JSON when it does not', async () => {
    const streamed = await post('/chat', { messages: [], stream: true });
    expect(streamed.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(eventsOf(await streamed.text())).toEqual([
      { event: 'message', data: { text: 'one' } },
      { event: 'message', data: { text: 'two' } },
      { event: 'message', data: { text: 'three' } },
      { event: 'end', data: { usage: { inputTokens: 3, outputTokens: 3 } } },
    ]);
    const json = await post('/chat', { messages: [] });
    expect(await json.json()).toBe('one two three');
  });

  it('reports a stream that fails with a 500 error mid-way, and hides its message in the error event', async () => {
    const answer = await post('/broken', { messages: [] }, { accept: 'text/event-stream' });
    expect(answer.status).toBe(200);
    const events = eventsOf(await answer.text());
    expect(events.at(-1)).toEqual({ event: 'error', data: { error: { code: 'INTERNAL', message: 'internal error' } } });
    expect(reported.map((error) => error.message)).toEqual(['a bug in the model']);
  });

  it('answers a JSON error with its status when the stream fails before its first chunk', async () => {
    const answer = await post('/busy', { messages: [], stream: true });
    expect(answer.status).toBe(429);
    expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
  });
});
