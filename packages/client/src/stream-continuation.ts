import { BallastError } from '@ballast/core';

/** Builds the input that asks a fallback model to continue an answer of which `delivered` was already read. */
export type ContinueStream<I> = (input: I, delivered: string) => I;

/** Joins the text already delivered with the output of the model that continued it. */
export type MergeContinuation<O> = (delivered: string, continued: O) => O;

/** The message that asks a chat model to go on from the partial answer. */
export const CONTINUE_PROMPT = 'Continue your previous answer exactly where it stopped. Do not repeat any of it.';

/**
 * The default continuation: for a chat input (`{ messages }`), the messages plus the partial
 * answer as an assistant message and a user message asking to continue; for a completion input
 * (`{ prompt }`), the prompt with the partial answer appended. Other inputs cannot be continued
 * (`INVALID_INPUT`).
 *
 * @example
 * continueChat({ messages: [{ role: 'user', content: 'Hi' }] }, 'Hel');
 * // { messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hel' }, { role: 'user', content: CONTINUE_PROMPT }] }
 */
export function continueChat<I>(input: I, delivered: string): I {
  const request = input as { messages?: unknown; prompt?: unknown } | null;
  if (Array.isArray(request?.messages)) {
    return {
      ...request,
      messages: [...request.messages, { role: 'assistant', content: delivered }, { role: 'user', content: CONTINUE_PROMPT }],
    } as I;
  }
  if (typeof request?.prompt === 'string') return { ...request, prompt: request.prompt + delivered } as I;
  throw new BallastError(
    'INVALID_INPUT',
    'mid-stream fallback: the input is neither a chat ({ messages }) nor a completion ({ prompt }); give stream.continueWith',
  );
}

/**
 * The default merge: a string output, or an object output's `text`, gets the delivered text in
 * front; any other output is the continuation's as it is.
 *
 * @example
 * mergeText('Circuit breakers', { text: ' stop calls.' }); // { text: 'Circuit breakers stop calls.' }
 */
export function mergeText<O>(delivered: string, continued: O): O {
  if (typeof continued === 'string') return (delivered + continued) as O;
  const text = (continued as { text?: unknown } | null)?.text;
  if (typeof text === 'string') return { ...(continued as object), text: delivered + text } as O;
  return continued;
}
