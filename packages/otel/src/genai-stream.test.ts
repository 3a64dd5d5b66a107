import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient, remoteModel } from '@ballast/client';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { type Histogram, MeterProvider } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { points, useTelemetry } from '../test/harness.js';
import { instrument } from './instrument.js';
import * as S from './semconv.js';

const telemetry = useTelemetry();

// The recorded OpenAI transcript @ballast/client's own tests replay.
const TRANSCRIPT = readFileSync(new URL('../../client/src/fixtures/openai/chat-stream.sse', import.meta.url), 'utf8');
const EVENTS = TRANSCRIPT.split('\n\n').filter((event) => event.trim().length > 0);
const usageChunk = EVENTS.map((event) => JSON.parse(event.slice('data: '.length).trim() === '[DONE]' ? 'null' : event.slice(6)))
  .filter((json) => json?.usage)
  .at(-1) as { usage: { prompt_tokens: number; completion_tokens: number } };

const servers: ReturnType<typeof createServer>[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/** A real server on 127.0.0.1 writing the transcript one event at a time, `gapMs` apart. */
async function transcriptServer(gapMs: number): Promise<string> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', async () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const event of EVENTS) {
        res.write(`${event}\n\n`);
        await new Promise((resolve) => setTimeout(resolve, gapMs));
      }
      res.end();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
}

describe('GenAI streams', () => {
  it('reports a streamed chat under the GenAI conventions, with the usage and cost of the transcript', async () => {
    expect(usageChunk.usage.prompt_tokens).toBeGreaterThan(0);
    telemetry.start({ costs: [{ model: 'assistant', perInputToken: 0.15e-6, perOutputToken: 0.6e-6 }] });
    const chat = remoteModel({ protocol: 'openai', url: await transcriptServer(3), name: 'assistant', model: 'gpt-4o-mini' });
    const stream = chat.stream?.({ messages: [{ role: 'user', content: 'What does a circuit breaker do?' }] });
    if (stream === undefined) throw new Error('an OpenAI chat model streams');
    let chunks = 0;
    for await (const chunk of stream) if (chunk.text) chunks++;
    const { usage } = await stream.result;
    expect(usage?.inputTokens).toBe(usageChunk.usage.prompt_tokens);

    const span = telemetry.harness.span('chat assistant');
    expect(span.kind).toBe(2); // CLIENT
    expect(span.attributes).toMatchObject({
      [S.ATTR_GEN_AI_OPERATION_NAME]: 'chat',
      [S.ATTR_GEN_AI_PROVIDER_NAME]: 'openai',
      [S.ATTR_GEN_AI_REQUEST_MODEL]: 'assistant',
      [S.ATTR_GEN_AI_RESPONSE_MODEL]: 'gpt-4o-mini-2024-07-18',
      [S.ATTR_GEN_AI_USAGE_INPUT_TOKENS]: usageChunk.usage.prompt_tokens,
      [S.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]: usageChunk.usage.completion_tokens,
    });

    const metrics = await telemetry.harness.collect();
    const genAI = { [S.ATTR_GEN_AI_OPERATION_NAME]: 'chat', [S.ATTR_GEN_AI_PROVIDER_NAME]: 'openai' };
    const input = points<Histogram>(metrics.get(S.METRIC_GEN_AI_CLIENT_TOKEN_USAGE), { ...genAI, [S.ATTR_GEN_AI_TOKEN_TYPE]: 'input' });
    const output = points<Histogram>(metrics.get(S.METRIC_GEN_AI_CLIENT_TOKEN_USAGE), { ...genAI, [S.ATTR_GEN_AI_TOKEN_TYPE]: 'output' });
    expect(input.map((p) => p.value.sum)).toEqual([usageChunk.usage.prompt_tokens]);
    expect(output.map((p) => p.value.sum)).toEqual([usageChunk.usage.completion_tokens]);

    const cost = points<number>(metrics.get(S.METRIC_BALLAST_COST));
    const total = cost.reduce((sum, p) => sum + p.value, 0);
    expect(total).toBeCloseTo(usageChunk.usage.prompt_tokens * 0.15e-6 + usageChunk.usage.completion_tokens * 0.6e-6, 15);

    const firstChunk = points<Histogram>(metrics.get(S.METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK), genAI);
    expect(firstChunk).toHaveLength(1);
    expect(firstChunk[0]?.value.count).toBe(1);
    expect(firstChunk[0]?.value.sum).toBeGreaterThan(0);
    expect(metrics.get(S.METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK)?.descriptor.unit).toBe('s');
    const perChunk = points<Histogram>(metrics.get(S.METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK), genAI);
    expect(perChunk[0]?.value.count).toBe(chunks - 1);
    expect(perChunk[0]?.value.sum).toBeGreaterThan(0);
    const duration = points<Histogram>(metrics.get(S.METRIC_GEN_AI_CLIENT_OPERATION_DURATION), {
      ...genAI,
      [S.ATTR_GEN_AI_RESPONSE_MODEL]: 'gpt-4o-mini-2024-07-18',
    });
    expect(duration[0]?.value.count).toBe(1);
    // The first chunk and the gaps after it add up to no more than the whole stream.
    expect(duration[0]?.value.sum).toBeGreaterThanOrEqual((firstChunk[0]?.value.sum ?? 0) + (perChunk[0]?.value.sum ?? 0));
  });

  it('reports a chat call under its operation, and leaves models without one as they were', async () => {
    telemetry.start();
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(readFileSync(new URL('../../client/src/fixtures/openai/chat.json', import.meta.url)));
      });
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    const chat = remoteModel({ protocol: 'openai', url, name: 'assistant' });
    const answer = await chat.infer({ messages: [{ role: 'user', content: 'Hi' }] });
    const span = telemetry.harness.span('chat assistant');
    expect(span.attributes).toMatchObject({
      [S.ATTR_GEN_AI_OPERATION_NAME]: 'chat',
      [S.ATTR_GEN_AI_PROVIDER_NAME]: 'openai',
      [S.ATTR_GEN_AI_RESPONSE_MODEL]: answer.model,
    });
    const metrics = await telemetry.harness.collect();
    expect(
      points<Histogram>(metrics.get(S.METRIC_GEN_AI_CLIENT_OPERATION_DURATION), { [S.ATTR_GEN_AI_OPERATION_NAME]: 'chat' }),
    ).toHaveLength(1);
    // Ballast's own duration is still recorded, and nothing GenAI-only for a plain model.
    expect(points<Histogram>(metrics.get(S.METRIC_BALLAST_INFERENCE_DURATION), { [S.ATTR_GEN_AI_OPERATION_NAME]: 'chat' })).toHaveLength(1);
    expect(metrics.get(S.METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK)?.dataPoints ?? []).toHaveLength(0);
  });

  it('names the GenAI metrics in a Prometheus scrape as docs/telemetry.md says', async () => {
    const exporter = new PrometheusExporter({ preventServerStart: true });
    const meterProvider = new MeterProvider({ readers: [exporter] });
    const telemetry = instrument({ meterProvider, costs: [{ model: 'assistant', perInputToken: 1e-6 }] });
    const metricsServer = createServer((request, response) => exporter.getMetricsRequestHandler(request, response));
    servers.push(metricsServer);
    await new Promise<void>((resolve) => metricsServer.listen(0, '127.0.0.1', resolve));
    try {
      const chat = remoteModel({ protocol: 'openai', url: await transcriptServer(0), name: 'assistant' });
      const stream = chat.stream?.({ messages: [{ role: 'user', content: 'Hi' }] });
      if (stream === undefined) throw new Error('an OpenAI chat model streams');
      for await (const _chunk of stream) {
        // draining
      }
      const scrape = await (await fetch(`http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}/metrics`)).text();
      const names = new Set(
        scrape
          .split('\n')
          .filter((line) => line && !line.startsWith('#'))
          .map((line) => line.split(/[{ ]/)[0]),
      );
      for (const name of [
        'gen_ai_client_operation_duration_bucket',
        'gen_ai_client_operation_time_to_first_chunk_bucket',
        'gen_ai_client_operation_time_per_output_chunk_count',
        'gen_ai_client_token_usage_sum',
        'ballast_cost_total',
      ]) {
        expect(names, name).toContain(name);
      }
      const inputTokens = usageChunk.usage.prompt_tokens;
      expect(scrape).toMatch(
        new RegExp(
          `gen_ai_client_token_usage_sum\\{[^}]*gen_ai_operation_name="chat"[^}]*gen_ai_token_type="input"[^}]*\\} ${inputTokens}\\b`,
        ),
      );
    } finally {
      telemetry.shutdown();
      await meterProvider.shutdown();
    }
  });

  it("records each attempt of a client as one operation, and neither the client's call nor a cache hit", async () => {
    telemetry.start();
    let requests = 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        requests++;
        if (requests === 1) {
          res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' });
          res.end('{"error":{"message":"overloaded","type":"server_error"}}');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(readFileSync(new URL('../../client/src/fixtures/openai/chat.json', import.meta.url)));
      });
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    const client = createClient({
      model: remoteModel({ protocol: 'openai', url, name: 'assistant' }),
      retry: { maxAttempts: 2, baseDelayMs: 0, budget: false },
      cache: { ttlMs: 60_000 },
    });
    const request = { messages: [{ role: 'user', content: 'Hi' }] };
    await client.infer(request);
    await client.infer(request); // a cache hit: no request, no operation
    expect(requests).toBe(2);

    const spans = telemetry.harness.spans.getFinishedSpans().map((span) => span.name);
    expect(spans.filter((name) => name === 'chat assistant')).toHaveLength(2);
    expect(spans.filter((name) => name.startsWith('infer '))).toHaveLength(2);
    const metrics = await telemetry.harness.collect();
    const operations = points<Histogram>(metrics.get(S.METRIC_GEN_AI_CLIENT_OPERATION_DURATION), {
      [S.ATTR_GEN_AI_OPERATION_NAME]: 'chat',
    });
    const byError = Object.fromEntries(operations.map((p) => [String(p.attributes[S.ATTR_ERROR_TYPE] ?? 'none'), p.value.count]));
    expect(byError).toEqual({ MODEL_UNAVAILABLE: 1, none: 1 });
  });
});
