/*
 * Redaction of a streamed answer. A secret can arrive split across chunks (`sk-abc` in one,
 * `def123...` in the next), so redacting each chunk alone would let it through. The stream keeps
 * back the last `maxMatchLength - 1` characters it has read: any match that still needs a
 * character not yet read starts inside that tail. Everything before the tail is final: it is
 * redacted and released at once (with the whole of a match that starts before the tail), so the
 * added delay is the held tail and nothing more. Written here rather than taken from a library:
 * redaction needs the held tail tied to the patterns' longest match, which no stream
 * transformer on the registry offers.
 */
import {
  BallastError,
  type Chunk,
  callModel,
  createStream,
  type Middleware,
  type Model,
  type ModelStream,
  type StreamResult,
  wrapModel,
} from '@ballast/core';
import { type RedactionOptions, redactor } from './redact.js';

/** Default longest text a pattern can match, characters: the length of the tail a stream holds back (less one). */
export const DEFAULT_MAX_MATCH_LENGTH = 128;

function globalPatterns(options: RedactionOptions): RegExp[] {
  return (options.patterns ?? []).map((p) => (p.global ? p : new RegExp(p.source, `${p.flags}g`)));
}

/** @internal Throws `CONFIG` when `maxMatchLength` is not a positive integer; answers the held tail's length. */
export function heldTailOf(options: RedactionOptions): number {
  const longest = options.maxMatchLength ?? DEFAULT_MAX_MATCH_LENGTH;
  if (!(Number.isInteger(longest) && longest >= 1)) {
    throw new BallastError('CONFIG', `redaction: "maxMatchLength" must be a positive integer, got ${String(longest)}`, {
      details: { path: 'maxMatchLength' },
    });
  }
  return longest - 1;
}

/** @internal Redacts streamed text piece by piece, holding back what a match could still reach. */
export class StreamRedactor {
  private held = '';
  private readonly tail: number;
  private readonly patterns: RegExp[];
  private readonly replacement: string;

  constructor(options: RedactionOptions) {
    this.patterns = globalPatterns(options);
    this.replacement = options.replacement ?? '[REDACTED]';
    this.tail = heldTailOf(options);
  }

  /** Takes the next piece of text; answers the redacted text that is final now ('' when all is held). */
  push(text: string): string {
    if (this.patterns.length === 0) return text;
    const buffer = this.held + text;
    // No match is longer than maxMatchLength, so a match that still needs a character not yet read
    // starts at `base` or later; one that starts before it is final, and the text up to its end is too.
    const base = Math.max(0, buffer.length - this.tail);
    let boundary = base;
    for (const pattern of this.patterns) {
      pattern.lastIndex = 0;
      for (let match = pattern.exec(buffer); match !== null && match.index < base; match = pattern.exec(buffer)) {
        if (match[0].length === 0) pattern.lastIndex++;
        boundary = Math.max(boundary, match.index + match[0].length);
      }
    }
    // The released text must not cut a match: one that reaches past the boundary (a match of
    // another pattern overlapping a final one) is held whole, and so on until none does.
    let moved = boundary > 0;
    while (moved) {
      moved = false;
      for (const pattern of this.patterns) {
        pattern.lastIndex = 0;
        for (let match = pattern.exec(buffer); match !== null && match.index < boundary; match = pattern.exec(buffer)) {
          if (match[0].length === 0) pattern.lastIndex++;
          if (match.index + match[0].length > boundary) {
            boundary = match.index;
            moved = boundary > 0;
            break;
          }
        }
      }
    }
    this.held = buffer.slice(boundary);
    return this.redact(buffer.slice(0, boundary));
  }

  /** The stream ended: answers the rest, redacted. */
  flush(): string {
    const rest = this.held;
    this.held = '';
    return this.redact(rest);
  }

  private redact(text: string): string {
    let out = text;
    for (const pattern of this.patterns) out = out.replace(pattern, this.replacement);
    return out;
  }
}

/**
 * Wraps a {@link ModelStream} so that what it delivers is redacted: text chunks by `patterns`,
 * even a secret split across two chunks (see {@link RedactionOptions.maxMatchLength}: that many
 * characters less one are held back and released as soon as the next chunk shows them safe, or at
 * the end); a text chunk's raw `data` (the upstream's own event, which repeats the text) is
 * dropped; chunks without text have their `data` redacted by `fields` and `patterns`; the final
 * `output` is redacted like `filterOutput` does. Leaving the loop or failing passes through to the
 * wrapped stream (its upstream is aborted; the held text is never released).
 *
 * @example
 * const safe = redactStream(model.stream(input), { patterns: [/sk-[A-Za-z0-9]{20,}/g], maxMatchLength: 64 });
 * for await (const chunk of safe) process.stdout.write(chunk.text ?? '');
 */
export function redactStream<O>(stream: ModelStream<O>, options: RedactionOptions): ModelStream<O> {
  const redactValue = redactor(options);
  // Checked now, not at the first read: a bad option is a configuration error of the caller.
  heldTailOf(options);
  return createStream<O>(async function* redacted() {
    const text = new StreamRedactor(options);
    for await (const chunk of stream) {
      if (typeof chunk.text === 'string') {
        const released = text.push(chunk.text);
        if (released.length > 0) yield { text: released } satisfies Chunk;
      } else {
        yield chunk.data === undefined ? chunk : { data: redactValue(chunk.data) };
      }
    }
    const rest = text.flush();
    if (rest.length > 0) yield { text: rest };
    const result = await stream.result;
    return { ...result, output: redactValue(result.output) } satisfies StreamResult<O>;
  });
}

/**
 * A middleware redacting a model's outputs: `infer` results like `filterOutput`, and streams with
 * {@link redactStream}. For serving layers that stream to a client.
 *
 * @example
 * const safe = pipeline(chat, outputRedaction({ patterns: [/[\w.+-]+@[\w-]+\.[\w.]+/g] }));
 */
export function outputRedaction(options: RedactionOptions): Middleware {
  const redactValue = redactor(options);
  heldTailOf(options);
  return <I, O>(next: Model<I, O>) =>
    wrapModel(next, {
      infer: async (input, callOptions) => redactValue(await callModel(next, input, callOptions)),
      stream: (input, callOptions) => redactStream((next.stream as NonNullable<typeof next.stream>)(input, callOptions), options),
    });
}
