/** What to redact from outputs (and from audited inputs). */
export interface RedactionOptions {
  /** Object keys whose values are replaced wherever they appear (case-insensitive). */
  fields?: readonly string[];
  /** Patterns replaced inside every string. Every match is replaced: a pattern without the `g` flag is given it. */
  patterns?: readonly RegExp[];
  /** The replacement. Default `[REDACTED]`. */
  replacement?: string;
  /**
   * Streams only: the longest text any of `patterns` can match, characters. A redacted stream holds
   * back that many characters less one, so a secret split across chunks is still seen whole; a
   * longer match split across chunks could slip through. Default 128.
   */
  maxMatchLength?: number;
}

/** A compiled redactor: returns a redacted copy, never mutating its input. */
export type Redactor = <T>(value: T) => T;

const identity: Redactor = (value) => value;

/**
 * Builds a redactor. Plain objects and arrays are copied with matching fields replaced; strings
 * have matching patterns replaced; typed arrays, numbers and other values pass through unchanged
 * (tensors are not scanned, so redaction costs nothing on numeric outputs).
 *
 * @example
 * const redact = redactor({ fields: ['email'], patterns: [/\b\d{3}-\d{2}-\d{4}\b/g] });
 * redact({ email: 'a@b.c', note: 'ssn 123-45-6789' }); // { email: '[REDACTED]', note: 'ssn [REDACTED]' }
 */
export function redactor(options: RedactionOptions = {}): Redactor {
  const fields = new Set((options.fields ?? []).map((f) => f.toLowerCase()));
  const patterns = (options.patterns ?? []).map((p) => (p.global ? p : new RegExp(p.source, `${p.flags}g`)));
  const replacement = options.replacement ?? '[REDACTED]';
  if (fields.size === 0 && patterns.length === 0) return identity;
  const visit = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') {
      let text = value;
      for (const pattern of patterns) text = text.replace(pattern, replacement);
      return text;
    }
    if (typeof value !== 'object' || value === null || depth > 64) return value;
    if (Array.isArray(value)) return value.map((item) => visit(item, depth + 1));
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) return value;
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = fields.has(key.toLowerCase()) ? replacement : visit(item, depth + 1);
    }
    return out;
  };
  return <T>(value: T) => visit(value, 0) as T;
}
