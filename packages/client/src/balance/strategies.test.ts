import { describe, expect, it } from 'vitest';
import { costAware } from './cost-aware.js';
import { EndpointState } from './endpoint-state.js';
import { p2cEwma } from './p2c-ewma.js';
import { randomChoice } from './random-choice.js';
import { roundRobin } from './round-robin.js';
import type { BalanceCandidate } from './strategy.js';
import { weighted } from './weighted.js';

const model = { name: 'm', infer: async () => 0 };

function endpoint(id: string, options: { weight?: number; cost?: number; decayMs?: number; slowStartMs?: number } = {}): EndpointState {
  return new EndpointState(id, model, options.weight ?? 1, options.cost ?? 0, options.decayMs ?? 100, options.slowStartMs ?? 1000, 0.1, 20);
}

/** A random source replaying `values` in a loop. */
function replay(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length] as number;
}

describe('peak EWMA (fake clock)', () => {
  it('jumps to a slower sample at once and decays towards faster ones with time, not per sample', () => {
    const e = endpoint('a', { decayMs: 100 });
    expect(e.latencyAt(0)).toBeUndefined();
    e.observe(10, 0);
    expect(e.ewmaMs).toBe(10);
    e.observe(2, 0); // no time passed: a faster sample changes nothing yet
    expect(e.ewmaMs).toBe(10);
    e.observe(2, 100); // one decay time later: weight e^-1 on the old value
    expect(e.ewmaMs).toBeCloseTo(10 * Math.exp(-1) + 2 * (1 - Math.exp(-1)), 10);
    e.observe(50, 101); // a peak replaces the average
    expect(e.ewmaMs).toBe(50);
    // While idle the reading decays towards 0, so the endpoint is probed again.
    expect(e.latencyAt(101 + 100)).toBeCloseTo(50 * Math.exp(-1), 10);
  });

  it('loads an endpoint by latency × (outstanding + 1) / weight, and probes an endpoint with no answer yet once', () => {
    const a = endpoint('a');
    a.observe(4, 0);
    a.outstanding = 2;
    expect(a.loadAt(0)).toBe(12);
    const heavy = endpoint('heavy', { weight: 4 });
    heavy.observe(4, 0);
    heavy.outstanding = 2;
    expect(heavy.loadAt(0)).toBe(3);
    const fresh = endpoint('fresh');
    expect(fresh.loadAt(0)).toBe(0);
    fresh.outstanding = 1;
    expect(fresh.loadAt(0)).toBeGreaterThan(1000);
  });

  it('ramps the slow-start factor from the minimum to 1 over slowStartMs', () => {
    const e = endpoint('a', { slowStartMs: 1000 });
    expect(e.slowStartAt(0)).toBe(1);
    e.startSlowStart(0);
    expect(e.slowStartAt(0)).toBe(0.1);
    expect(e.slowStartAt(500)).toBe(0.5);
    expect(e.slowStartAt(1000)).toBe(1);
    e.observe(2, 500);
    expect(e.loadAt(500)).toBe(4); // 2 ms at half weight
  });
});

describe('p2cEwma', () => {
  it('compares two distinct random endpoints and takes the lower load', () => {
    const [a, b, c] = [endpoint('a'), endpoint('b'), endpoint('c')];
    a.observe(10, 0);
    b.observe(1, 0);
    c.observe(5, 0);
    const strategy = p2cEwma();
    // random 0 → index 0 (a); then 0 → index 0 of the rest, shifted past a → b.
    expect(strategy.choose([a, b, c], 0, replay(0, 0)).id).toBe('b');
    // index 2 (c) against index 0 (a): c is faster.
    expect(strategy.choose([a, b, c], 0, replay(0.9, 0)).id).toBe('c');
    // Calls in flight count: b with 20 outstanding loses to c.
    b.outstanding = 20;
    expect(strategy.choose([a, b, c], 0, replay(0.5, 0.9)).id).toBe('c');
    expect(strategy.choose([a], 0, replay(0.5)).id).toBe('a');
  });

  it('gives a 20 ms endpoint far less traffic than a 1 ms one', () => {
    const endpoints = [1, 2, 5, 20].map((ms) => {
      const e = endpoint(`${ms}ms`);
      e.observe(ms, 0);
      return e;
    });
    let seed = 1;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return (seed - 1) / 2147483646;
    };
    const counts = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const chosen = p2cEwma().choose(endpoints, 0, random);
      counts.set(chosen.id, (counts.get(chosen.id) ?? 0) + 1);
    }
    // With equal loads the slowest only wins a pair it is not in: never.
    expect(counts.get('20ms') ?? 0).toBe(0);
    expect(counts.get('1ms')).toBeGreaterThan(counts.get('5ms') as number);
  });
});

describe('roundRobin', () => {
  it('takes each endpoint in turn and skips one in slow start with probability 1 − factor', () => {
    const [a, b, c] = [endpoint('a'), endpoint('b'), endpoint('c')];
    const strategy = roundRobin();
    const order = Array.from({ length: 6 }, () => strategy.choose([a, b, c], 0, replay(0.5)).id);
    expect(order).toEqual(['b', 'c', 'a', 'b', 'c', 'a']);
    c.startSlowStart(0); // factor 0.1 at t=0: a draw of 0.5 skips it
    const skipped = Array.from({ length: 4 }, () => strategy.choose([a, b, c], 0, replay(0.5)).id);
    expect(skipped).toEqual(['b', 'a', 'b', 'a']);
    expect(strategy.choose([a, b, c], 0, replay(0.05)).id).toBe('b');
    expect(strategy.choose([a, b, c], 0, replay(0.05)).id).toBe('c'); // a draw under 0.1 takes it
  });
});

describe('weighted', () => {
  it('spreads 5:1:1 smoothly', () => {
    const [a, b, c] = [endpoint('a', { weight: 5 }), endpoint('b'), endpoint('c')];
    const strategy = weighted();
    const order = Array.from({ length: 7 }, () => strategy.choose([a, b, c], 0, Math.random).id);
    expect(order).toEqual(['a', 'a', 'b', 'a', 'c', 'a', 'a']);
  });

  it('scales a slow-starting endpoint by its factor (fake clock)', () => {
    const [a, b] = [endpoint('a'), endpoint('b', { slowStartMs: 1000 })];
    b.startSlowStart(0);
    const strategy = weighted();
    const count = (now: number) => {
      let n = 0;
      for (let i = 0; i < 100; i++) if (strategy.choose([a, b], now, Math.random) === b) n++;
      return n;
    };
    expect(count(0)).toBe(9); // weight 0.1 against 1: 1 in 11
    expect(count(2000)).toBe(50);
  });
});

describe('randomChoice', () => {
  it('picks uniformly', () => {
    const [a, b] = [endpoint('a'), endpoint('b')];
    expect(randomChoice().choose([a, b], 0, replay(0.1)).id).toBe('a');
    expect(randomChoice().choose([a, b], 0, replay(0.7)).id).toBe('b');
  });
});

describe('costAware', () => {
  it('takes the cheapest endpoint that meets the latency objective, spilling to dearer ones', () => {
    const spot = endpoint('spot', { cost: 1 });
    const reserved = endpoint('reserved', { cost: 2 });
    const onDemand = endpoint('on-demand', { cost: 5 });
    const all: BalanceCandidate[] = [onDemand, reserved, spot];
    const strategy = costAware({ latencyObjectiveMs: 50 });
    // Without answers yet each counts as meeting it: the cheapest is probed.
    expect(strategy.choose(all, 0, Math.random).id).toBe('spot');
    spot.observe(80, 0);
    reserved.observe(30, 0);
    onDemand.observe(10, 0);
    expect(strategy.choose(all, 0, Math.random).id).toBe('reserved');
    reserved.observe(90, 1);
    expect(strategy.choose(all, 1, Math.random).id).toBe('on-demand');
    onDemand.observe(200, 2);
    // None meets it: the least loaded takes the call.
    expect(strategy.choose(all, 2, Math.random).id).toBe('spot');
    expect(() => costAware({ latencyObjectiveMs: 0 })).toThrow(/latencyObjectiveMs/);
  });
});
