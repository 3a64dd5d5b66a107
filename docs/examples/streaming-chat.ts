// docs/examples/streaming-chat.ts
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient, remoteModel } from '@ballast/client';
import { subscribe } from '@ballast/core';

// Two stand-in OpenAI-compatible servers on 127.0.0.1. The primary streams four words of its
// answer and then drops the connection; the fallback continues from what was already said.
const requests: string[] = [];
function sse(model: string, words: string[], cut: boolean) {
  return createServer((req, res) => {
    let body = '';
    req.on('data', (part) => (body += part));
    req.on('end', async () => {
      const { messages } = JSON.parse(body) as { messages: { role: string; content: string }[] };
      requests.push(`${model}: ${messages.map((m) => m.role).join(', ')}`);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const event = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
      const id = `chatcmpl-${model}`;
      for (const word of words) {
        event({ id, object: 'chat.completion.chunk', model, choices: [{ index: 0, delta: { content: word }, finish_reason: null }] });
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      if (cut) {
        res.socket?.destroy();
        return;
      }
      event({ id, object: 'chat.completion.chunk', model, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
      event({
        id,
        object: 'chat.completion.chunk',
        model,
        choices: [],
        usage: { prompt_tokens: 41, completion_tokens: words.length, total_tokens: 41 + words.length },
      });
      res.end('data: [DONE]\n\n');
    });
  });
}
const primary = sse('big-model', ['Circuit', ' breakers', ' stop', ' calls'], true);
const backup = sse('small-model', [' to', ' a', ' failing', ' upstream', ' so', ' it', ' can', ' recover.'], false);
const urlOf = async (server: ReturnType<typeof createServer>) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
};

const stop = subscribe('usage', (e) => console.log(`\nusage of ${e.model}: ${e.inputTokens} in, ${e.outputTokens} out`));

const client = createClient({
  model: remoteModel({ protocol: 'openai', url: await urlOf(primary), name: 'big-model' }),
  retry: { maxAttempts: 3 }, // free until the first chunk reaches the caller
  fallback: [remoteModel({ protocol: 'openai', url: await urlOf(backup), name: 'small-model' })],
  stream: { firstChunkTimeoutMs: 2_000, idleTimeoutMs: 1_000, timeoutMs: 30_000, midStreamFallback: true },
});

const stream = client.stream?.({ messages: [{ role: 'user', content: 'What does a circuit breaker do?' }] });
if (stream === undefined) throw new Error('an OpenAI chat model streams');
for await (const chunk of stream) process.stdout.write(chunk.text ?? '');
const { output } = await stream.result;
console.log(`answer: "${output.text}"`);
console.log(`requests: ${requests.join(' | ')}`);

stop();
primary.close();
backup.close();
