import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { remoteModel } from '@ballast/client';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatCompletionsHandler } from './infer-handler.js';
import { listen } from './test-server.js';

const WORDS = ['Bulkheads', ' cap', ' concurrency', '.'];
const upstreamBodies: Record<string, unknown>[] = [];

/** A stand-in OpenAI-compatible upstream on 127.0.0.1: streams WORDS (or answers them whole). */
function upstreamServer(): Server {
  return createServer((req, res) => {
    let raw = '';
    req.on('data', (part) => (raw += part));
    req.on('end', () => {
      const body = JSON.parse(raw) as Record<string, unknown>;
      upstreamBodies.push(body);
      const usage = { prompt_tokens: 9, completion_tokens: WORDS.length, total_tokens: 9 + WORDS.length };
      if (body.stream !== true) {
        const answer = {
          object: 'chat.completion',
          choices: [{ index: 0, message: { role: 'assistant', content: WORDS.join('') }, finish_reason: 'stop' }],
          usage,
        };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const word of WORDS)
        res.write(
          `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: word }, finish_reason: null }] })}\n\n`,
        );
      res.write(`data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [], usage })}\n\n`);
      res.end('data: [DONE]\n\n');
    });
  });
}

let upstream: Server;
let base = '';
let close: () => Promise<void> = async () => {};

beforeAll(async () => {
  upstream = upstreamServer();
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const chat = remoteModel({
    protocol: 'openai',
    url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`,
    name: 'upstream-chat',
  });
  const app = express();
  app.post('/v1/chat/completions', chatCompletionsHandler(chat));
  const started = await listen(app);
  base = started.url;
  close = started.close;
});
afterAll(async () => {
  await close();
  await new Promise((resolve) => upstream.close(resolve));
});

describe('chatCompletionsHandler', () => {
  // An OpenAI-compatible client (Ballast's own) talking to the Ballast service.
  const client = () => remoteModel({ protocol: 'openai', url: `${base}/v1`, name: 'served-chat' });
  const question = { messages: [{ role: 'user', content: 'What caps concurrency?' }] };

  it('streams OpenAI chat-completion chunks an OpenAI client reads, usage and [DONE] included', async () => {
    const response = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...question, model: 'served-chat', stream: true }),
    });
    const text = await response.text();
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(text).toContain('"object":"chat.completion.chunk"');

    const stream = client().stream?.(question);
    if (stream === undefined) throw new Error('an OpenAI chat model streams');
    const texts: string[] = [];
    for await (const chunk of stream) if (chunk.text) texts.push(chunk.text);
    expect(texts).toEqual(WORDS);
    const { output, usage } = await stream.result;
    expect(output.text).toBe(WORDS.join(''));
    expect(output.finishReason).toBe('stop');
    expect(usage).toEqual({ inputTokens: 9, outputTokens: WORDS.length, totalTokens: 9 + WORDS.length });
    // The upstream got the messages, not the client's `model`/`stream_options`.
    expect(upstreamBodies.at(-1)).toMatchObject({ messages: question.messages, model: 'upstream-chat' });
  });

  it('answers a whole chat.completion without stream, and 400 for a body that is not an object', async () => {
    const output = await client().infer(question);
    expect(output.text).toBe(WORDS.join(''));
    expect(output.usage).toEqual({ inputTokens: 9, outputTokens: WORDS.length, totalTokens: 9 + WORDS.length });
    const bad = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '[1]',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('INVALID_INPUT');
  });
});
