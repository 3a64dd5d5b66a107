/**
 * What redacting a stream costs per chunk: `redactStream` with two patterns (an API key and an
 * e-mail address, `maxMatchLength` 64) over an answer of 1,000 token-sized chunks, against
 * reading the same stream without redaction, in the same run. Each chunk re-scans the held tail
 * (at most 63 characters) with every pattern, so the cost grows with the tail and the patterns,
 * not with the length of the answer.
 *
 *   pnpm bench guard-streams
 */
import { type Chunk, createStream, type ModelStream } from '@ballast/core';
import { redactStream } from '@ballast/guard';
import { nsPerCall, size, table } from './_harness.js';

const words = 'the breaker opens after five failures in a row and lets one trial call through later'.split(' ');
const chunks: Chunk[] = Array.from({ length: 1000 }, (_, i) => ({ text: ` ${words[i % words.length]}` }));
const options = { patterns: [/sk-[A-Za-z0-9]{20,48}/g, /[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g], maxMatchLength: 64 };

const source = (): ModelStream<string> =>
  createStream<string>(async function* () {
    for (const chunk of chunks) yield chunk;
  });
const drain = async (stream: ModelStream<string>): Promise<void> => {
  for await (const _chunk of stream) {
    // reading only
  }
};

const iterations = size(200, 20);
const raw = (await nsPerCall(() => drain(source()), iterations)) / chunks.length;
const redacted = (await nsPerCall(() => drain(redactStream(source(), options)), iterations)) / chunks.length;
table(
  ['stream of 1,000 chunks', 'ns per chunk', 'ratio'],
  [
    ['read as it is (reference)', raw, 1],
    ['redactStream, 2 patterns, tail 63', redacted, redacted / raw],
    ['added by redaction', redacted - raw, ''],
  ],
);
