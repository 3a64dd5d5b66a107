import { BallastError, type BreakerEvent, pipeline, type RejectionEvent, subscribe } from '@ballast/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { circuitBreaker } from './breaker.js';
import type { BreakerStateStore, BreakerStateTarget } from './breaker-state.js';
import { delay, scripted, unavailable } from './test-models.js';

function failing(pattern: (call: number) => boolean) {
  return scripted('up', (call) => {
    if (pattern(call)) throw unavailable();
    return call;
  });
}

async function settle(promise: Promise<unknown>): Promise<unknown> {
  return promise.catch((error: unknown) => error);
}

describe('circuitBreaker', () => {
  let events: BreakerEvent[];
  let stop: () => void;
  beforeEach(() => {
    vi.useFakeTimers();
    events = [];
    stop = subscribe('breaker', (e) => events.push(e));
  });
  afterEach(() => {
    stop();
    vi.useRealTimers();
  });

  it('opens after consecutive failures, rejects at once, half-opens after openMs and closes on a good trial', async () => {
    let down = true;
    const model = scripted('up', () => {
      if (down) throw unavailable();
      return 'ok';
    });
    const breaker = circuitBreaker({ consecutiveFailures: 3, openMs: 1000 });
    const wrapped = pipeline(model, breaker);
    for (let i = 0; i < 3; i++) await settle(wrapped.infer(i));
    expect(breaker.state()).toBe('open');
    const rejected = await settle(wrapped.infer(9));
    expect(rejected).toMatchObject({ code: 'CIRCUIT_OPEN', retryAfterMs: 1000 });
    expect(model.calls).toBe(3);
    await vi.advanceTimersByTimeAsync(400);
    expect(await settle(wrapped.infer(9))).toMatchObject({ code: 'CIRCUIT_OPEN', retryAfterMs: 600 });
    await vi.advanceTimersByTimeAsync(600);
    down = false;
    await expect(wrapped.infer(1)).resolves.toBe('ok');
    expect(breaker.state()).toBe('closed');
    expect(events.map((e) => `${e.from}>${e.to}:${e.reason}`)).toEqual([
      'closed>open:consecutive-failures',
      'open>half-open:timer',
      'half-open>closed:trial-succeeded',
    ]);
    expect(breaker.stats()['']).toMatchObject({ opened: 1, rejected: 2 });
  });

  it('a failed trial opens it again', async () => {
    const model = failing(() => true);
    const breaker = circuitBreaker({ consecutiveFailures: 1, openMs: 100 });
    const wrapped = pipeline(model, breaker);
    await settle(wrapped.infer(1));
    await vi.advanceTimersByTimeAsync(100);
    await settle(wrapped.infer(1));
    expect(breaker.state()).toBe('open');
    expect(events.at(-1)?.reason).toBe('half-open-failure');
  });

  it('admits halfOpenTrials trial calls and needs all of them to succeed', async () => {
    let down = true;
    const model = scripted('up', (_c, _i, options) => (down ? Promise.reject(unavailable()) : delay(10, 'ok', options)));
    const breaker = circuitBreaker({ consecutiveFailures: 1, openMs: 100, halfOpenTrials: 2 });
    const wrapped = pipeline(model, breaker);
    await settle(wrapped.infer(1));
    await vi.advanceTimersByTimeAsync(100);
    down = false;
    const a = wrapped.infer(1);
    const b = wrapped.infer(2);
    expect(await settle(wrapped.infer(3))).toMatchObject({ code: 'CIRCUIT_OPEN' });
    await vi.advanceTimersByTimeAsync(10);
    await Promise.all([a, b]);
    expect(breaker.state()).toBe('closed');
  });

  it('opens on the failure ratio once the window holds minThroughput calls', async () => {
    const model = failing((call) => call % 2 === 0);
    const breaker = circuitBreaker({ consecutiveFailures: 0, failureRatio: 0.5, minThroughput: 10, windowMs: 1000 });
    const wrapped = pipeline(model, breaker);
    for (let i = 0; i < 9; i++) await settle(wrapped.infer(i));
    expect(breaker.state()).toBe('closed');
    await settle(wrapped.infer(9)); // call 10 fails: 5/10
    expect(breaker.state()).toBe('open');
    expect(events[0]?.reason).toBe('failure-ratio');
  });

  it('forgets failures that slid out of the window', async () => {
    const model = failing((call) => call <= 6);
    const breaker = circuitBreaker({ consecutiveFailures: 0, failureRatio: 0.5, minThroughput: 10, windowMs: 1000 });
    const wrapped = pipeline(model, breaker);
    for (let i = 0; i < 6; i++) await settle(wrapped.infer(i));
    await vi.advanceTimersByTimeAsync(1500);
    for (let i = 0; i < 10; i++) await settle(wrapped.infer(i));
    expect(breaker.state()).toBe('closed');
  });

  it('opens on the slow-call ratio', async () => {
    const model = scripted('up', (call, _i, options) => delay(call % 2 === 0 ? 500 : 10, 'ok', options));
    const breaker = circuitBreaker({ slowCallMs: 200, slowCallRatio: 0.5, minThroughput: 4 });
    const wrapped = pipeline(model, breaker);
    for (let i = 0; i < 4; i++) {
      const p = wrapped.infer(i);
      await vi.advanceTimersByTimeAsync(500);
      await p;
    }
    expect(breaker.state()).toBe('open');
    expect(events[0]?.reason).toBe('slow-call-ratio');
  });

  it('does not count caller faults', async () => {
    const model = scripted('up', () => {
      throw new BallastError('INVALID_INPUT', 'bad');
    });
    const breaker = circuitBreaker({ consecutiveFailures: 2 });
    const wrapped = pipeline(model, breaker);
    for (let i = 0; i < 5; i++) await settle(wrapped.infer(i));
    expect(breaker.state()).toBe('closed');
  });

  it('isolate() holds it open until reset()', async () => {
    const model = failing(() => false);
    const breaker = circuitBreaker();
    const wrapped = pipeline(model, breaker);
    await wrapped.infer(1);
    breaker.isolate();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(await settle(wrapped.infer(1))).toMatchObject({ code: 'CIRCUIT_OPEN' });
    breaker.reset();
    await expect(wrapped.infer(1)).resolves.toBe(2);
    expect(events.map((e) => `${e.model}:${e.to}:${e.reason}`)).toEqual(['up:isolated:isolate', 'up:closed:reset']);
  });

  it('keeps separate breakers per key and publishes rejections with the key', async () => {
    const rejections: RejectionEvent[] = [];
    const stopRejections = subscribe('rejection', (e) => rejections.push(e));
    const model = scripted('up', (_c, input: string) => {
      if (input === 'bad-host') throw unavailable();
      return input;
    });
    const breaker = circuitBreaker({ consecutiveFailures: 1, key: (input) => input as string });
    const wrapped = pipeline(model, breaker);
    await settle(wrapped.infer('bad-host'));
    expect(await settle(wrapped.infer('bad-host'))).toMatchObject({ code: 'CIRCUIT_OPEN', details: { key: 'bad-host' } });
    await expect(wrapped.infer('good-host')).resolves.toBe('good-host');
    expect(breaker.state('bad-host')).toBe('open');
    expect(breaker.state('good-host')).toBe('closed');
    stopRejections();
    expect(rejections).toEqual([{ model: 'up', code: 'CIRCUIT_OPEN', source: 'breaker', key: 'bad-host' }]);
    expect(events[0]).toMatchObject({ key: 'bad-host', to: 'open' });
  });

  it('a hung trial does not wedge the breaker', async () => {
    let hang = true;
    const model = scripted('up', (call) => {
      if (call === 1) throw unavailable();
      if (hang) return new Promise(() => {});
      return 'ok';
    });
    const breaker = circuitBreaker({ consecutiveFailures: 1, openMs: 100, trialTimeoutMs: 300 });
    const wrapped = pipeline(model, breaker);
    await settle(wrapped.infer(1));
    await vi.advanceTimersByTimeAsync(100);
    void wrapped.infer(2); // the trial hangs forever
    await vi.advanceTimersByTimeAsync(299);
    expect(breaker.state()).toBe('half-open');
    await vi.advanceTimersByTimeAsync(1);
    expect(await settle(wrapped.infer(3))).toMatchObject({ code: 'CIRCUIT_OPEN' });
    expect(breaker.state()).toBe('open');
    hang = false;
    await vi.advanceTimersByTimeAsync(100);
    await expect(wrapped.infer(4)).resolves.toBe('ok');
    expect(breaker.state()).toBe('closed');
  });

  it('rejects bad options with CONFIG', () => {
    expect(() => circuitBreaker({ failureRatio: 2 })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => circuitBreaker({ slowCallRatio: 0.5 })).toThrow(
      expect.objectContaining({ code: 'CONFIG', details: expect.objectContaining({ path: 'slowCallMs' }) }),
    );
  });

  it('shares state through a state store: failures, openings, trial leases and closings', async () => {
    const calls: unknown[][] = [];
    let lease = false;
    let target: BreakerStateTarget | undefined;
    const store: BreakerStateStore = {
      bind: (t) => {
        target = t;
      },
      opened: (...args) => calls.push(['opened', ...args]),
      failed: (...args) => calls.push(['failed', ...args]),
      closed: (...args) => calls.push(['closed', ...args]),
      acquireTrial: async (key, leaseMs) => {
        calls.push(['trial', key, leaseMs]);
        return lease;
      },
    };
    const breaker = circuitBreaker({ consecutiveFailures: 3, openMs: 1000, trialTimeoutMs: 2000, state: store });
    const up = failing((call) => call <= 1);
    const model = pipeline(up, breaker);
    await settle(model.infer(1));
    expect(calls).toEqual([['failed', '', 3, 1000]]);
    // Another replica opened it: it opens here for the openMs it was given, without sharing it back.
    target?.openShared('', 700);
    expect(breaker.state()).toBe('open');
    expect(await settle(model.infer(1))).toMatchObject({ code: 'CIRCUIT_OPEN', retryAfterMs: 700 });
    vi.advanceTimersByTime(700);
    // Half-open, but another replica holds the trial lease: refused, and the trial is given back.
    expect(await settle(model.infer(1))).toMatchObject({ code: 'CIRCUIT_OPEN' });
    expect(up.calls).toBe(1);
    lease = true;
    expect(await model.infer(1)).toBe(2);
    expect(breaker.state()).toBe('closed');
    expect(calls.slice(1)).toEqual([
      ['trial', '', 2000],
      ['trial', '', 2000],
      ['closed', ''],
    ]);
    // Opening here is shared; a closing elsewhere closes it here.
    breaker.isolate();
    breaker.reset();
    const down = pipeline(
      failing(() => true),
      circuitBreaker({ consecutiveFailures: 1, state: store }),
    );
    await settle(down.infer(1));
    expect(calls.at(-1)).toEqual(['opened', '', 5000]);
    target?.closeShared('');
    expect(await settle(down.infer(1))).toMatchObject({ code: 'MODEL_UNAVAILABLE' });
    expect(() => circuitBreaker({ state: {} as never })).toThrow(
      expect.objectContaining({ code: 'CONFIG', details: expect.objectContaining({ path: 'state' }) }),
    );
  });
});
