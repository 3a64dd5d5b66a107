import { pipeline, seededRandom } from '@ballast/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { chaos } from './chaos.js';
import { scripted, settleTime } from './test-models.js';

describe('chaos', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is reproducible from its seed', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const c = seededRandom(8);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(xs);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });

  it('injects errors at about the configured rate, the same ones for the same seed', async () => {
    const run = async (seed: number) => {
      const wrapped = pipeline(
        scripted('m', () => 'ok'),
        chaos({ seed, errorRate: 0.3 }),
      );
      const outcomes: boolean[] = [];
      for (let i = 0; i < 2000; i++)
        outcomes.push(
          await wrapped.infer(i).then(
            () => true,
            () => false,
          ),
        );
      return outcomes;
    };
    const first = await run(3);
    const failures = first.filter((ok) => !ok).length;
    expect(failures).toBeGreaterThan(500);
    expect(failures).toBeLessThan(700);
    expect(await run(3)).toEqual(first);
  });

  it('hangs until the deadline and adds latency', async () => {
    vi.useFakeTimers();
    const hung = pipeline(
      scripted('m', () => 'ok'),
      chaos({ hangRate: 1 }),
    );
    const result = hung.infer(0, { timeoutMs: 100 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(100);
    expect(await result).toMatchObject({ code: 'TIMEOUT' });

    const policy = chaos({ latency: { kind: 'fixed', ms: 40 } });
    const slow = pipeline(
      scripted('m', () => 'ok'),
      policy,
    );
    const started = performance.now();
    const answer = slow.infer(0);
    const settled = settleTime(answer);
    await vi.advanceTimersByTimeAsync(39);
    expect(settled.at).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(settled.at).toBe(started + 40);
    await expect(answer).resolves.toBe('ok');
    expect(policy.stats()).toMatchObject({ calls: 1, delayed: 1 });
  });

  it('rejects bad rates with CONFIG', () => {
    expect(() => chaos({ errorRate: 1.5 })).toThrow(
      expect.objectContaining({ code: 'CONFIG', details: expect.objectContaining({ path: 'errorRate' }) }),
    );
  });
});
