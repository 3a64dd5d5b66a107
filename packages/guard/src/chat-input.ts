/*
 * Chat requests (OpenAI message shapes): `{ messages: [{ role, content }] }` where `content` is a
 * string, an array of parts (`{ type: 'text', text }`, or other parts such as `image_url` that
 * carry no text), or null (an assistant message holding only tool calls). The input guard checks
 * the shapes and scores the text of the roles that speak for the caller (the user, the system
 * prompt), not the model's own earlier answers.
 */
import type { InputIssue } from './input-guard.js';

/** Roles whose text the prompt-injection check scores by default. */
export const DEFAULT_SCORED_ROLES: readonly string[] = Object.freeze(['system', 'developer', 'user']);

/** One text of a chat request, with the path of its message's content. */
export interface ChatText {
  /** The message's text: a string content, or its text parts joined with spaces (an injection split across parts is scored whole). */
  text: string;
  /** `messages[2].content`. */
  path: string;
}

/** Whether `input` is a chat request: an object with a `messages` array. */
export function isChatInput(input: unknown): input is { messages: unknown[] } {
  return typeof input === 'object' && input !== null && Array.isArray((input as { messages?: unknown }).messages);
}

/**
 * Checks the messages' shapes and collects the text of the `roles` given: issues (code
 * `chat-message`) for a message that is not an object, a role that is not a non-empty string, a
 * content that is neither a string, an array of parts nor null, a part without a string `type`,
 * or a text part without a string `text`.
 */
export function readChat(messages: readonly unknown[], roles: readonly string[]): { issues: InputIssue[]; texts: ChatText[] } {
  const issues: InputIssue[] = [];
  const texts: ChatText[] = [];
  const issue = (path: string, message: string) => issues.push({ path, message, code: 'chat-message' });
  for (let i = 0; i < messages.length && issues.length < 20; i++) {
    const message = messages[i];
    const at = `messages[${i}]`;
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      issue(at, 'must be a message object with a role');
      continue;
    }
    const { role, content } = message as { role?: unknown; content?: unknown };
    if (typeof role !== 'string' || role.length === 0) {
      issue(`${at}.role`, 'must be a non-empty string');
      continue;
    }
    let text: string | undefined;
    if (typeof content === 'string') text = content;
    else if (Array.isArray(content)) {
      const pieces: string[] = [];
      content.forEach((part: unknown, index) => {
        const partAt = `${at}.content[${index}]`;
        const type = (part as { type?: unknown } | null)?.type;
        if (typeof type !== 'string') issue(`${partAt}.type`, 'a content part must have a string type');
        else if (type === 'text') {
          const partText = (part as { text?: unknown }).text;
          if (typeof partText === 'string') pieces.push(partText);
          else issue(`${partAt}.text`, 'a text part must have a string text');
        }
      });
      text = pieces.join(' ');
    } else if (content !== null && content !== undefined) {
      issue(`${at}.content`, 'must be a string, an array of content parts, or null');
    }
    if (text !== undefined && text.length > 0 && roles.includes(role)) texts.push({ text, path: `${at}.content` });
  }
  return { issues, texts };
}
