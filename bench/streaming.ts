/**
 * What the client stack adds to a stream, measured against iterating the raw parsed stream in the
 * same run:
 *   (a) per chunk: a client with every stream policy on (rate limit, token limit, bulkhead, retry,
 *       breaker, hedge, fallback, first-chunk and idle budgets, a whole-stream budget), over a model
 *       whose chunks come from an in-memory parsed stream, against a `for await` over that parsed
 *       stream itself;
 *   (b) time to first chunk: from `client.stream()` to the first chunk in hand, against the same
 *       for the raw parsed stream.
 * The chunks are already parsed (the network and SSE parsing cost the same with or without the
 * stack): what is left is the stack's own cost. Goals: (a) at most 2 us per chunk, (b) at most 100 us.
 *
 *   pnpm bench streaming
 */
import { createClient } from '@ballast/client';
import { type Chunk, defineModel, TokenBucketLimiter } from '@ballast/core';
import { percentile, size, table } from './_harness.js';

const chunksPerStream = size(2_000, 50);
const streams = size(200, 5);
const firstChunkStreams = size(5_000, 50);
const rounds = size(5, 1);

// The parsed stream: chunk objects as the SSE parser hands them over, one await per chunk.
const parsed: Chunk[] = Array.from({ length: chunksPerStream }, (_, i) => ({ text: `token${i} ` }));
async function* rawStream(count: number): AsyncGenerator<Chunk> {
  for (let i = 0; i < count; i++) yield parsed[i] as Chunk;
}

function model(count: number) {
  return defineModel<string, string>({
    name: 'bench-chat',
    async *stream() {
      yield* rawStream(count);
      return { output: '', usage: { inputTokens: 10, outputTokens: count, totalTokens: count + 10 } };
    },
  });
}

function client(count: number) {
  return createClient<string, string>({
    model: model(count),
    timeoutMs: 60_000,
    rateLimit: { ratePerSecond: 1e9, burst: 1e9 },
    tokenLimit: { limiter: new TokenBucketLimiter({ ratePerSecond: 1e12, burst: 1e12 }) },
    bulkhead: { maxConcurrent: 1_000 },
    retry: { maxAttempts: 2 },
    breaker: { consecutiveFailures: 5 },
    hedge: { delayMs: 10_000 },
    fallback: [{ value: 'fallback' }],
    stream: { firstChunkTimeoutMs: 10_000, idleTimeoutMs: 10_000, timeoutMs: 60_000 },
  });
}

const full = client(chunksPerStream);
const single = client(1);
let sink = 0;

async function perChunkRaw(): Promise<number> {
  const start = process.hrtime.bigint();
  for (let s = 0; s < streams; s++) for await (const chunk of rawStream(chunksPerStream)) sink += chunk.text?.length ?? 0;
  return Number(process.hrtime.bigint() - start) / (streams * chunksPerStream);
}

async function perChunkClient(): Promise<number> {
  const start = process.hrtime.bigint();
  for (let s = 0; s < streams; s++) {
    const stream = full.stream?.('x');
    if (!stream) throw new Error('the client streams');
    for await (const chunk of stream) sink += chunk.text?.length ?? 0;
  }
  return Number(process.hrtime.bigint() - start) / (streams * chunksPerStream);
}

async function firstChunk(open: () => AsyncIterable<Chunk>): Promise<number[]> {
  const times: number[] = [];
  for (let s = 0; s < firstChunkStreams; s++) {
    const start = process.hrtime.bigint();
    const iterator = open()[Symbol.asyncIterator]();
    const first = await iterator.next();
    times.push(Number(process.hrtime.bigint() - start) / 1000);
    sink += first.done ? 0 : 1;
    while (!(await iterator.next()).done) {
      // the rest of the (one-chunk) stream
    }
  }
  return times;
}

// Rounds interleave the variants, best of each kept.
let raw = Number.POSITIVE_INFINITY;
let stack = Number.POSITIVE_INFINITY;
let rawFirst: number[] = [];
let stackFirst: number[] = [];
await perChunkRaw();
await perChunkClient();
for (let r = 0; r < rounds; r++) {
  raw = Math.min(raw, await perChunkRaw());
  stack = Math.min(stack, await perChunkClient());
  const rf = await firstChunk(() => rawStream(1));
  const sf = await firstChunk(() => single.stream?.('x') as AsyncIterable<Chunk>);
  if (rawFirst.length === 0 || percentile(rf, 50) < percentile(rawFirst, 50)) rawFirst = rf;
  if (stackFirst.length === 0 || percentile(sf, 50) < percentile(stackFirst, 50)) stackFirst = sf;
}

console.log(
  `${chunksPerStream} chunks a stream, ${streams} streams a round; first chunk over ${firstChunkStreams} streams; best of ${rounds}`,
);
table(
  ['per chunk', 'raw parsed stream, ns', 'client stack, ns', 'added, ns', 'ratio', 'goal'],
  [['(a)', raw, stack, stack - raw, `${(stack / raw).toFixed(1)}x`, 'added <= 2,000 ns']],
);
const rawP50 = percentile(rawFirst, 50);
const stackP50 = percentile(stackFirst, 50);
table(
  ['time to first chunk', 'raw p50, us', 'client p50, us', 'added p50, us', 'client p99, us', 'goal'],
  [['(b)', rawP50, stackP50, stackP50 - rawP50, percentile(stackFirst, 99), 'added <= 100 us']],
);
if (sink < 0) console.log(sink);
