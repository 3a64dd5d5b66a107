import { describe, expect, it } from 'vitest';
import { attemptMemo, shareAttemptMemo, signalOf, withAttemptMemo } from './deadline.js';
import { defineModel, type InferOptions } from './model.js';
import { pipeline } from './pipeline.js';

describe('attempt memo', () => {
  it('is absent until a layer asks for one, then shared by every attempt and through nested scopes', async () => {
    expect(attemptMemo(undefined)).toBeUndefined();
    expect(attemptMemo({ timeoutMs: 5 })).toBeUndefined();
    const fresh = withAttemptMemo(undefined);
    expect(attemptMemo(fresh)).toBeInstanceOf(Map);
    const seen: (Map<object, unknown> | undefined)[] = [];
    const inner = pipeline(
      defineModel({
        name: 'm',
        infer: async (_x: number, options?: InferOptions) => {
          seen.push(attemptMemo(options));
          return signalOf(options) !== undefined;
        },
      }),
    );
    // A layer above re-attempts: the memo survives the nested pipeline's scoped copy.
    const outer = pipeline(
      defineModel({
        name: 'outer',
        infer: async (x: number, options?: InferOptions) => {
          const attempts = withAttemptMemo(options);
          expect(withAttemptMemo(attempts)).toBe(attempts);
          await inner.infer(x, { ...attempts, timeoutMs: 50 });
          return inner.infer(x, attempts);
        },
      }),
    );
    expect(await outer.infer(1, { timeoutMs: 1000 })).toBe(true); // the scope (budget) is kept
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBeInstanceOf(Map);
    expect(seen[1]).toBe(seen[0]);
  });

  it('is shared with detached options on request', () => {
    const attempts = withAttemptMemo({ priority: 1 });
    expect(attempts.priority).toBe(1);
    const detached = shareAttemptMemo(attempts, { deadline: 5 });
    expect(attemptMemo(detached)).toBe(attemptMemo(attempts));
    expect(attemptMemo(shareAttemptMemo({}, {}))).toBeUndefined();
  });
});
