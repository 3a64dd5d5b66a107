import { randomUUID } from 'node:crypto';
import type { BallastError, Chunk, StreamResult, Usage } from '@ballast/core';
import { errorBody } from './error-answer.js';
import type { EventStreamFormat } from './event-stream.js';

/** OpenAI's usage fields, from a Ballast usage. */
function wireUsage(usage: Usage | undefined): Record<string, number> | undefined {
  if (usage === undefined) return undefined;
  const input = usage.inputTokens ?? 0;
  const output = usage.outputTokens ?? 0;
  return { prompt_tokens: input, completion_tokens: output, total_tokens: usage.totalTokens ?? input + output };
}

/** The text of an output: a string, or the `text` of an object (a chat model's output). */
function textOf(output: unknown): string {
  if (typeof output === 'string') return output;
  const text = (output as { text?: unknown } | null)?.text;
  return typeof text === 'string' ? text : JSON.stringify(output);
}

/** Why the model stopped, when its output says (`finishReason`); `stop` otherwise. */
function finishOf(output: unknown): string {
  const reason = (output as { finishReason?: unknown } | null)?.finishReason;
  return typeof reason === 'string' ? reason : 'stop';
}

/**
 * OpenAI's chat-completions stream framing, so an OpenAI client can read a Ballast stream: a
 * `chat.completion.chunk` per text chunk (`delta.content`), a last chunk with `finish_reason`, a
 * usage chunk (`choices: []`, as with `stream_options.include_usage`) when the model reported
 * usage, then `data: [DONE]`. An error after the first chunk is a `data:` event with the error
 * body (`{ error: { code, message } }`), as OpenAI sends one. `model` is the name answered.
 *
 * @example
 * await sendEventStream(response, chat.stream(input, options), openaiChatEvents('small-model'));
 */
export function openaiChatEvents(model: string): EventStreamFormat {
  const id = `chatcmpl-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  let first = true;
  const event = (choices: unknown[], extra?: Record<string, unknown>) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices, ...extra })}\n\n`;
  return {
    chunk(chunk: Chunk) {
      const delta: Record<string, unknown> = first ? { role: 'assistant' } : {};
      first = false;
      if (typeof chunk.text === 'string') delta.content = chunk.text;
      return event([{ index: 0, delta, finish_reason: null }]);
    },
    end(result: StreamResult<unknown>) {
      const usage = wireUsage(result.usage);
      const last = event([{ index: 0, delta: {}, finish_reason: finishOf(result.output) }]);
      return `${last}${usage === undefined ? '' : event([], { usage })}data: [DONE]\n\n`;
    },
    error: (error: BallastError) => `data: ${JSON.stringify(errorBody(error))}\n\n`,
  };
}

/**
 * A whole answer as OpenAI's `chat.completion` object (`choices[0].message.content`, `usage`),
 * from a model's output: a string, or an object with `text` (and `finishReason`, `usage`).
 *
 * @example
 * res.json(openaiChatCompletion('small-model', await chat.infer(input)));
 */
export function openaiChatCompletion(model: string, output: unknown): Record<string, unknown> {
  const answer: Record<string, unknown> = {
    id: `chatcmpl-${randomUUID()}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: textOf(output) }, finish_reason: finishOf(output) }],
  };
  const usage = wireUsage((output as { usage?: Usage } | null)?.usage);
  if (usage !== undefined) answer.usage = usage;
  return answer;
}
