import { type BalanceEvent, BallastError, defineModel, type InferOptions, pipeline, signalOf, subscribe } from '@ballast/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../client.js';
import { hedge } from '../hedge.js';
import { retry } from '../retry.js';
import { balance } from './balance.js';
import { costAware } from './cost-aware.js';
import type { BalanceCandidate, BalanceStrategy } from './strategy.js';

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

function record(model: string): BalanceEvent[] {
  const events: BalanceEvent[] = [];
  stops.push(subscribe('balance', (event) => event.model === model && events.push(event)));
  return events;
}

/** An in-process endpoint whose answers follow `behave`; counts its calls. */
function replica(id: string, behave: (call: number) => 'ok' | 'fail' | 'hang' = () => 'ok') {
  const state = { calls: 0 };
  const model = defineModel({
    name: id,
    infer: (_input: number, options?: InferOptions) => {
      const outcome = behave(++state.calls);
      if (outcome === 'ok') return Promise.resolve(id);
      if (outcome === 'fail') return Promise.reject(new BallastError('UPSTREAM', `${id} failed`, { retryable: true }));
      return new Promise<string>((_resolve, reject) => {
        signalOf(options)?.addEventListener('abort', () => reject(new BallastError('CANCELLED', 'aborted')));
      });
    },
  });
  return { id, model, state };
}

/** Always the first candidate: makes "where does the next attempt go" deterministic. */
const first: BalanceStrategy = { name: 'first', choose: (candidates: readonly BalanceCandidate[]) => candidates[0] as BalanceCandidate };

describe('balance: outlier ejection (fake clock)', () => {
  it('ejects after consecutive failures for a growing interval and restores through slow start', async () => {
    let clock = 0;
    const bad = replica('bad', () => 'fail');
    const good = replica('good');
    const events = record('eject');
    const model = balance({
      name: 'eject',
      endpoints: [bad.model, good.model],
      strategy: first,
      retry: false,
      clock: () => clock,
      slowStartMs: 1000,
      outlier: { consecutiveFailures: 3, baseEjectionMs: 100, maxEjectionMs: 10_000 },
    });
    for (let i = 0; i < 3; i++) await expect(model.infer(1)).rejects.toThrow('bad failed');
    expect(events.filter((e) => e.action === 'ejected')).toMatchObject([
      { endpoint: 'bad', reason: 'consecutive-failures', durationMs: 100, available: 1, total: 2 },
    ]);
    expect(await model.infer(1)).toBe('good');
    clock = 99;
    expect(await model.infer(1)).toBe('good');
    clock = 100;
    // Back, in slow start: the first strategy takes it again.
    await expect(model.infer(1)).rejects.toThrow('bad failed');
    expect(events.filter((e) => e.action === 'restored').map((e) => e.endpoint)).toEqual(['bad']);
    expect(model.stats().endpoints[0]).toMatchObject({ id: 'bad', ejected: false, slowStart: 0.1 });
    await expect(model.infer(1)).rejects.toThrow();
    await expect(model.infer(1)).rejects.toThrow();
    // Ejected again in the same run of trouble: twice as long.
    expect(events.filter((e) => e.action === 'ejected').map((e) => e.durationMs)).toEqual([100, 200]);
    clock = 299;
    expect(await model.infer(1)).toBe('good');
    clock = 300;
    await expect(model.infer(1)).rejects.toThrow();
  });

  it('ejects on an error ratio above the other endpoints, but not when every endpoint fails alike', async () => {
    let clock = 0;
    const flaky = replica('flaky', (n) => (n % 3 === 0 ? 'fail' : 'ok'));
    const steady = replica('steady');
    const model = balance({
      name: 'ratio',
      endpoints: [flaky.model, steady.model],
      strategy: 'round-robin',
      retry: false,
      clock: () => clock,
      outlier: { minRequests: 6, windowSize: 10 },
    });
    const events = record('ratio');
    for (let i = 0; i < 20; i++) await model.infer(1).catch(() => undefined);
    expect(events.filter((e) => e.action === 'ejected')).toMatchObject([{ endpoint: 'flaky', reason: 'error-ratio' }]);
    expect(flaky.state.calls).toBeLessThanOrEqual(10);
    clock = 10_000;

    const a = replica('a', (n) => (n % 3 === 0 ? 'fail' : 'ok'));
    const b = replica('b', (n) => (n % 3 === 0 ? 'fail' : 'ok'));
    const both = balance({
      name: 'both',
      endpoints: [a.model, b.model],
      strategy: 'round-robin',
      retry: false,
      outlier: { minRequests: 6, windowSize: 10 },
    });
    const bothEvents = record('both');
    for (let i = 0; i < 40; i++) await both.infer(1).catch(() => undefined);
    expect(bothEvents.filter((e) => e.action === 'ejected')).toEqual([]);
  });

  it('never ejects more than the configured share of the set', async () => {
    const replicas = ['a', 'b', 'c', 'd'].map((id) => replica(id, () => 'fail'));
    const model = balance({
      name: 'share',
      endpoints: replicas.map((r) => r.model),
      strategy: 'round-robin',
      retry: false,
      outlier: { consecutiveFailures: 1, maxEjectedShare: 0.5 },
    });
    for (let i = 0; i < 20; i++) await model.infer(1).catch(() => undefined);
    expect(model.stats().endpoints.filter((e) => e.ejected)).toHaveLength(2);
    expect(model.stats().available).toBe(2);
  });

  it('does not count the caller’s errors against an endpoint', async () => {
    const picky = defineModel({ name: 'picky', infer: async () => Promise.reject(new BallastError('INVALID_INPUT', 'bad input')) });
    const model = balance({
      name: 'picky',
      endpoints: [picky, replica('other').model],
      strategy: first,
      outlier: { consecutiveFailures: 1 },
    });
    for (let i = 0; i < 5; i++) await expect(model.infer(1)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(model.stats().endpoints[0]).toMatchObject({ ejected: false, failures: 0, calls: 5 });
  });
});

describe('balance: the next attempt of a call goes elsewhere', () => {
  it('balance’s own retry goes to another endpoint', async () => {
    const bad = replica('bad', () => 'fail');
    const good = replica('good');
    const model = balance({ name: 'own', endpoints: [bad.model, good.model], strategy: first, outlier: false });
    expect(await model.infer(1)).toBe('good');
    expect(model.stats().retries).toBe(1);
  });

  it('a retry() above it avoids the endpoint the last attempt failed on', async () => {
    const bad = replica('bad', () => 'fail');
    const good = replica('good');
    const balanced = balance({ name: 'outer-retry', endpoints: [bad.model, good.model], strategy: first, retry: false, outlier: false });
    const model = pipeline(balanced, retry({ maxAttempts: 2, baseDelayMs: 0, budget: false }));
    expect(await model.infer(1)).toBe('good');
    expect(bad.state.calls).toBe(1);
    // Without a call budget too (no scope at all).
    expect(await model.infer(1, {})).toBe('good');
    expect(await model.infer(1, { timeoutMs: 1000 })).toBe('good');
    expect(bad.state.calls).toBe(3);
  });

  it('a hedge() above it goes to another endpoint than the one that lags', async () => {
    const stuck = replica('stuck', () => 'hang');
    const quick = replica('quick');
    const balanced = balance({ name: 'outer-hedge', endpoints: [stuck.model, quick.model], strategy: first, retry: false, outlier: false });
    const client = createClient({ model: balanced, timeoutMs: 2000, hedge: { delayMs: 5, maxRatio: 1, minPerSecond: 100 } });
    expect(await client.infer(1)).toBe('quick');
    expect(stuck.state.calls).toBe(1);
    expect(quick.state.calls).toBe(1);
  });

  it('sequential calls that succeed leave nothing behind', async () => {
    const a = replica('a');
    const b = replica('b');
    const balanced = balance({ name: 'clean', endpoints: [a.model, b.model], strategy: first, retry: false });
    const model = pipeline(balanced, retry({ maxAttempts: 3, budget: false }), hedge({ delayMs: 1000 }));
    for (let i = 0; i < 5; i++) expect(await model.infer(1, { timeoutMs: 100 })).toBe('a');
  });
});

describe('balance: the set at run time', () => {
  it('follows a discovery source: new ids are connected in slow start, vanished ones drained and closed', async () => {
    let listed = [{ id: 'a' }, { id: 'b' }];
    const closed: string[] = [];
    const model = balance({
      name: 'discovered',
      discovery: {
        list: () => listed,
        connect: (endpoint) => ({ ...replica(endpoint.id).model, close: async () => void closed.push(endpoint.id) }),
        intervalMs: 0,
      },
    });
    await model.refresh();
    expect(model.stats().endpoints.map((e) => e.id)).toEqual(['a', 'b']);
    listed = [{ id: 'b' }, { id: 'c' }];
    await model.refresh();
    expect(model.stats().endpoints.map((e) => e.id)).toEqual(['b', 'c']);
    expect(closed).toEqual(['a']);
    expect(model.stats().endpoints[1]?.slowStart).toBeLessThan(1);
    // A failing listing keeps the set.
    const failing = balance({
      name: 'listing-fails',
      endpoints: [replica('x').model],
      discovery: { list: () => Promise.reject(new Error('dns')), connect: () => replica('y').model, intervalMs: 0 },
    });
    await failing.refresh();
    expect(failing.stats().endpoints.map((e) => e.id)).toEqual(['x']);
    await model.close();
    expect(closed.sort()).toEqual(['a', 'b', 'c']);
  });

  it('reports readiness of the set: ready while any endpoint is', async () => {
    const up = defineModel({ name: 'up', infer: async () => 1, health: async () => ({ ready: true, status: 'ready' as const }) });
    const down = defineModel({
      name: 'down',
      infer: async () => 1,
      health: async () => ({ ready: false, status: 'unavailable' as const }),
    });
    expect(await balance({ name: 'h1', endpoints: [up, down] }).health()).toMatchObject({ ready: true, status: 'degraded' });
    expect(await balance({ name: 'h2', endpoints: [up] }).health()).toMatchObject({ ready: true, status: 'ready' });
    expect(await balance({ name: 'h3', endpoints: [down] }).health()).toMatchObject({ ready: false, status: 'unavailable' });
  });

  it('answers MODEL_UNAVAILABLE when the set is empty, and CONFIG for bad options', async () => {
    const model = balance({ name: 'empty', endpoints: [] });
    await expect(model.infer(1)).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE', retryable: true });
    expect(() => balance({ name: '' } as never)).toThrow(BallastError);
    expect(() => balance({ name: 'x' })).toThrow(/endpoints, discovery/);
    expect(() => balance({ name: 'x', endpoints: [{ id: 'a', model: {} as never }] })).toThrow(/infer/);
    expect(() => balance({ name: 'x', endpoints: [replica('a').model, replica('a').model] })).toThrow(/already in the set/);
    expect(() => balance({ name: 'x', endpoints: [], strategy: 'fastest' as never })).toThrow(/strategy/);
    expect(() => balance({ name: 'x', endpoints: [], outlier: { maxEjectedShare: 2 } })).toThrow(/maxEjectedShare/);
    expect(() => balance({ name: 'x', endpoints: [{ model: replica('a').model, weight: 0 }] })).toThrow(/weight/);
    await expect(model.remove('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('balance: probing idle endpoints (fake clock)', () => {
  /** An endpoint whose every call takes `ms` on the shared clock (calls run one at a time). */
  function timed(id: string, ms: number, clock: { now: number }) {
    const state = { calls: 0, ms };
    const model = defineModel({
      name: id,
      infer: async () => {
        state.calls++;
        clock.now += state.ms;
        return id;
      },
    });
    return { model, state };
  }

  it('sends an idle slow endpoint one probe per probeIntervalMs, not a share that grows while it idles', async () => {
    for (const probeIntervalMs of [1000, 250]) {
      const clock = { now: 0 };
      const fast = timed('fast', 1, clock);
      const slow = timed('slow', 20, clock);
      const model = balance({
        name: `probe-${probeIntervalMs}`,
        endpoints: [fast.model, slow.model],
        clock: () => clock.now,
        // No back-off (probeMaxIntervalMs = probeIntervalMs): the default interval, then a shorter one.
        ...(probeIntervalMs === 1000 ? { probeMaxIntervalMs: 1000 } : { probeIntervalMs, probeMaxIntervalMs: probeIntervalMs }),
      });
      // Ten seconds of calls, one every millisecond or so.
      while (clock.now < 10_000) {
        await model.infer(1);
        clock.now += 1;
      }
      const probes = 10_000 / probeIntervalMs;
      // One first call to learn its latency, then one probe per interval (each probe takes 20 ms
      // of the ten seconds, so a few fewer fit).
      expect(slow.state.calls).toBeLessThanOrEqual(probes + 1);
      expect(slow.state.calls).toBeGreaterThanOrEqual(probes * 0.9);
    }
  });

  /** A 1 ms endpoint and a slow one whose calls are noted (`probes`), on a virtual clock. */
  function fastAndProbed(name: string, slowMs: number) {
    const clock = { now: 0 };
    const fast = timed('fast', 1, clock);
    const slow = timed('slow', slowMs, clock);
    const probes: number[] = [];
    const slowModel = defineModel({
      name: 'slow',
      infer: (input: number) => {
        probes.push(clock.now);
        return slow.model.infer(input);
      },
    });
    const model = balance({ name, endpoints: [fast.model, slowModel], clock: () => clock.now });
    /** One call a millisecond until the clock reads `untilMs`. */
    const runUntil = async (untilMs: number) => {
      while (clock.now < untilMs) {
        await model.infer(1);
        clock.now += 1;
      }
    };
    return { slow, probes, runUntil };
  }

  it('backs the probe interval off while probes confirm a slow reading, up to probeMaxIntervalMs', async () => {
    const { probes, runUntil } = fastAndProbed('probe-back-off', 20);
    await runUntil(60_000);
    // The first call learns its latency; the probes then come 1, 2, 4, 8 and 16 s apart, and
    // 16 s apart (16 × probeIntervalMs, the default probeMaxIntervalMs) from then on.
    const gaps = probes.slice(1).map((at, i) => Math.round((at - (probes[i] as number) - 20) / 1000));
    expect(gaps).toEqual([1, 2, 4, 8, 16, 16]);
  });

  it('probes at the base interval again once a probe shows the endpoint much faster', async () => {
    const { slow, probes, runUntil } = fastAndProbed('probe-reset', 40);
    await runUntil(20_000);
    expect(probes).toHaveLength(5); // the first call, then probes 1, 2, 4 and 8 s apart
    slow.state.ms = 10; // four times faster, still ten times slower than `fast`: it wins no call
    const before = probes.length;
    await runUntil(40_000);
    // The next probe (16 s after the last) shows the change: the interval starts again at 1 s,
    // so the 20 s hold 1 + the probes 1, 2 and 4 s apart after it (and none 16 s apart).
    const gaps = probes.slice(before - 1).map((at, i, all) => (i === 0 ? 0 : Math.round((at - (all[i - 1] as number)) / 1000)));
    expect(gaps.slice(1, 4)).toEqual([16, 1, 2]);
  });

  it('finds a slow endpoint that sped up within probeMaxIntervalMs, however long it was slow', async () => {
    const clock = { now: 0 };
    const a = timed('a', 2, clock);
    const b = timed('b', 50, clock);
    const model = balance({ name: 'recover-late', endpoints: [a.model, b.model], clock: () => clock.now, probeMaxIntervalMs: 8000 });
    while (clock.now < 120_000) {
      await model.infer(1);
      clock.now += 1;
    }
    expect(b.state.calls).toBeLessThanOrEqual(1 + 4 + 120 / 8); // backed off to one probe per 8 s
    b.state.ms = 1; // sped up: faster than a now
    const sped = clock.now;
    while (b.state.calls < 100 && clock.now < 130_000) {
      await model.infer(1);
      clock.now += 1;
    }
    // Found by the next probe, at most 8 s later, and it takes the traffic from then on.
    expect(b.state.calls).toBe(100);
    expect(clock.now - sped).toBeLessThanOrEqual(8000 + 200);
  });

  it('finds an endpoint again through a probe once it has recovered from a slow spell', async () => {
    const clock = { now: 0 };
    const a = timed('a', 2, clock);
    const b = timed('b', 50, clock); // slow for now
    const model = balance({ name: 'recover', endpoints: [a.model, b.model], clock: () => clock.now });
    for (let i = 0; i < 20; i++) await model.infer(1);
    b.state.ms = 1; // recovered: faster than a now
    const before = b.state.calls;
    const served = new Map<string, number>();
    while (clock.now < 3_000) {
      const id = await model.infer(1);
      served.set(id, (served.get(id) ?? 0) + 1);
      clock.now += 1;
    }
    // The first probe after its recovery showed it fast: it takes the traffic from then on.
    expect(b.state.calls - before).toBeGreaterThan(served.get('a') ?? 0);
  });

  it('probes for cost-aware too: a cheap endpoint that missed the objective is tried again', async () => {
    const clock = { now: 0 };
    const cheap = timed('cheap', 80, clock);
    const dear = timed('dear', 5, clock);
    const model = balance({
      name: 'cost-probe',
      endpoints: [
        { model: cheap.model, cost: 1 },
        { model: dear.model, cost: 5 },
      ],
      strategy: costAware({ latencyObjectiveMs: 50 }),
      clock: () => clock.now,
    });
    for (let i = 0; i < 10; i++) await model.infer(1);
    expect(cheap.state.calls).toBe(1); // over the objective: the dearer one serves
    cheap.state.ms = 10;
    while (clock.now < 1_500) {
      await model.infer(1);
      clock.now += 1;
    }
    // Probed after a second, it met the objective and, being cheaper, takes the calls again.
    expect(model.stats().endpoints[0]?.ewmaMs).toBeLessThan(50);
    expect(await model.infer(1)).toBe('cheap');
  });
});
