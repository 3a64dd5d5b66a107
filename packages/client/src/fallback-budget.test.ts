import { type InferOptions, signalOf } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { createClient } from './client.js';
import { scripted } from './test-models.js';

/** A model that never answers on its own; it records the moment its call's signal aborts. */
function hung(name: string) {
  const aborted: number[] = [];
  const model = scripted(name, (_call, _input, options: InferOptions | undefined) => {
    const started = performance.now();
    signalOf(options)?.addEventListener('abort', () => aborted.push(performance.now() - started));
    return new Promise(() => {});
  });
  return Object.assign(model, { aborted });
}

describe('a fallback chain under one budget (real clock)', () => {
  it('serves the static value after a hung primary and a hung fallback model, within the budget', async () => {
    const primary = hung('primary');
    const other = hung('other');
    const client = createClient({ model: primary, timeoutMs: 400, fallback: [other, { value: 'static' }] });
    const started = performance.now();
    expect(await client.infer(1)).toBe('static');
    expect(performance.now() - started).toBeLessThan(400 + 100);
    expect(other.calls).toBe(1);
    expect(client.stats().fallback).toEqual({ primary: 0, served: { static: 1 }, exhausted: 0 });
    expect(client.stats()).toMatchObject({ calls: 1, succeeded: 1, failed: 0 });
    // Both hung calls were abandoned through their signals.
    expect(primary.aborted).toHaveLength(1);
    expect(other.aborted).toHaveLength(1);
  });

  it('shares what is left among model sources, so each hung one is tried and a rule still answers', async () => {
    const primary = hung('primary');
    const models = [hung('a'), hung('b'), hung('c')];
    const client = createClient({
      model: primary,
      timeoutMs: 200,
      fallback: { chain: [...models, (x: number) => x + 1], reserveMs: 60 },
    });
    expect(await client.infer(1)).toBe(2);
    expect(models.map((m) => m.calls)).toEqual([1, 1, 1]);
    // Each got about a third of the 60 ms reserve (not the whole of it, not nothing).
    for (const model of models) {
      expect(model.aborted[0]).toBeGreaterThan(5);
      expect(model.aborted[0]).toBeLessThan(60);
    }
    expect(client.stats().fallback).toEqual({ primary: 0, served: { rule: 1 }, exhausted: 0 });
  });

  it('counts a chain of hung models as exhausted and answers TIMEOUT', async () => {
    const client = createClient({ model: hung('primary'), timeoutMs: 60, fallback: [hung('a'), hung('b')] });
    await expect(client.infer(1)).rejects.toMatchObject({ code: 'TIMEOUT' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(client.stats().fallback?.exhausted).toBe(1);
  });

  it('serves the static value when the event loop was blocked past the whole budget', async () => {
    const primary = scripted('primary', () => {
      // Hold the event loop past every deadline of the call: when timers run again, the primary's
      // scope and the call's are due together, and the earlier one must fire first.
      setTimeout(() => {
        const until = performance.now() + 150;
        while (performance.now() < until) {}
      }, 5);
      return new Promise(() => {});
    });
    const client = createClient({ model: primary, timeoutMs: 100, fallback: [{ value: 'static' }] });
    expect(await client.infer(1)).toBe('static');
    expect(client.stats().fallback?.served).toEqual({ static: 1 });
  });
});
