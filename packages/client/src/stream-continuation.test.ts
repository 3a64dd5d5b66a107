import { describe, expect, it } from 'vitest';
import { CONTINUE_PROMPT, continueChat, mergeText } from './stream-continuation.js';

describe('stream continuation', () => {
  it('continues a chat with the partial answer as an assistant message and a request to go on', () => {
    const input = { messages: [{ role: 'user', content: 'Hi' }], temperature: 0.2 };
    expect(continueChat(input, 'Hel')).toEqual({
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hel' },
        { role: 'user', content: CONTINUE_PROMPT },
      ],
      temperature: 0.2,
    });
    expect(input.messages).toHaveLength(1);
  });

  it('continues a completion by appending the partial answer to the prompt', () => {
    expect(continueChat({ prompt: 'Once upon', max_tokens: 5 }, ' a time')).toEqual({ prompt: 'Once upon a time', max_tokens: 5 });
  });

  it('refuses an input it cannot continue', () => {
    expect(() => continueChat([1, 2, 3], 'x')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });

  it('merges the delivered text into string and { text } outputs', () => {
    expect(mergeText('Circuit', ' breakers')).toBe('Circuit breakers');
    expect(mergeText('Circuit', { text: ' breakers', finishReason: 'stop' })).toEqual({ text: 'Circuit breakers', finishReason: 'stop' });
    expect(mergeText('Circuit', { score: 1 })).toEqual({ score: 1 });
  });
});
