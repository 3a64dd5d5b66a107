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
    // Readings change only with answers: an idle endpoint keeps its reading (a probe refreshes it).
    expect(e.latencyAt(101 + 10_000)).toBe(50);
  });

  it('takes an answer to a call sent while idle as the endpoint’s speed, even when its estimates differ in the last bit', () => {
    const e = endpoint('a', { decayMs: 100 });
    e.observe(40, 0);
    e.observe(40, 164); // the plain EWMA of 40 and 40 comes out a hair under 40 here
    e.observe(10, 10_000, 0); // sped up: a probe of the idle endpoint answers in 10 ms
    expect(e.latencyAt(10_000)).toBeCloseTo(10, 6);
    expect(e.loadAt(10_000)).toBeCloseTo(10, 6);
  });

  it('backs probes of an idle endpoint off, and starts again at the base interval when it comes back', () => {
    const e = endpoint('e');
    e.observe(20, 0);
    let last = 0; // the last answer
    for (const interval of [1000, 2000, 4000]) {
      expect(e.probeDue(last + interval - 1)).toBe(false);
      expect(e.sending(last + interval)).toBe(true); // a probe
      last += interval + 20;
      e.observe(20, last, 0); // and it is as slow as before
    }
    expect(e.probeDue(last + 7999)).toBe(false); // 8 s now
    e.startSlowStart(last + 100); // back from an ejection: its reading is old
    expect(e.probeDue(last + 1000)).toBe(true);
  });

  it('keeps an idle slow endpoint at its own latency, however long it idles', () => {
    const slow = endpoint('slow');
    slow.observe(200, 0);
    const fast = endpoint('fast');
    fast.observe(10, 0, 7);
    fast.outstanding = 3; // busy, within its slots
    // Half a second of quiet: the slow one has had no call (not yet due for a probe).
    expect(slow.latencyAt(500)).toBe(200);
    expect(slow.loadAt(500)).toBe(200);
    expect(slow.probeDue(500)).toBe(false);
    expect(p2cEwma().choose([slow, fast], 500, replay(0, 0)).id).toBe('fast');
    expect(p2cEwma().choose([fast, slow], 500, replay(0, 0)).id).toBe('fast');
  });

  it('does not divide the load by weight: capacity shows in latency already', () => {
    const light = endpoint('light');
    light.observe(4, 0);
    const heavy = endpoint('heavy', { weight: 4 });
    heavy.observe(4, 0);
    heavy.outstanding = 2;
    expect(heavy.loadAt(0)).toBe(12);
    expect(light.loadAt(0)).toBe(4);
    expect(p2cEwma().choose([heavy, light], 0, replay(0, 0)).id).toBe('light');
  });

  it('keeps a queue out of the peak: an answer that met one feeds the time per call in flight only', () => {
    const e = endpoint('e');
    e.observe(10, 0, 7); // 8 calls in flight, 10 ms each: 1.25 ms per call in flight
    e.observe(40, 50, 31); // sent behind 31 others: 1.25 × 32 = 40 ms predicted by the queue
    expect(e.ewmaMs).toBe(10);
    e.outstanding = 31;
    expect(e.loadAt(50)).toBe(40); // the queue still counts, once, through the calls in flight
    e.outstanding = 0;
    e.observe(30, 60, 0); // no queue ahead and three times slower: the peak jumps at once
    expect(e.ewmaMs).toBe(30);
  });

  it('averages the time per call in flight over queued answers rather than keeping the lowest', () => {
    const e = endpoint('e');
    e.observe(10, 0, 7);
    // Queued answers behind 31 others, alternately 1 and 1.5 ms per call in flight, one a ms.
    for (let t = 1; t <= 300; t++) e.observe(t % 2 === 0 ? 32 : 48, t, 31);
    e.outstanding = 31;
    // About 1.25 ms × 32: the lowest (1 ms × 32) would let the endpoint queue deeper than it should.
    expect(e.loadAt(300)).toBeGreaterThan(38);
    expect(e.loadAt(300)).toBeLessThan(42);
  });

  it('loads an endpoint by latency × (outstanding + 1), and probes an endpoint with no answer yet once', () => {
    const a = endpoint('a');
    a.observe(4, 0);
    a.outstanding = 2;
    expect(a.loadAt(0)).toBe(12);
    const fresh = endpoint('fresh');
    expect(fresh.loadAt(0)).toBe(0);
    fresh.outstanding = 1;
    expect(fresh.loadAt(0)).toBeGreaterThan(1000);
  });

  it('divides latency by the calls in flight it was measured at, so a parallel server is not charged twice for its queue', () => {
    const parallel = endpoint('parallel');
    parallel.observe(10, 0, 7); // 8 calls in flight (7 before this one), each answered in 10 ms
    expect(parallel.ewmaMs).toBe(10);
    parallel.outstanding = 7;
    expect(parallel.loadAt(0)).toBe(10); // the next call is expected to take about 10 ms too
    const serial = endpoint('serial');
    serial.observe(80, 0, 7); // a serial server: the eighth call waited for seven
    serial.outstanding = 7;
    expect(serial.loadAt(0)).toBe(80);
  });

  it('reads a queued endpoint at its peak too: peak EWMA × (calls in flight + 1) ÷ slots', () => {
    // A parallel server (8 slots, 10 ms a call) whose recent worst answer took 12 ms.
    const fast = endpoint('fast');
    fast.observe(10, 0);
    fast.observe(10, 10_000, 7); // a queued answer: 1.25 ms per call in flight
    fast.observe(12, 10_000, 0); // the peak: 12 ms, the speed still 10 ms
    expect(fast.ewmaMs).toBe(12);
    fast.outstanding = 15; // two calls per slot: the next waits about one service time
    expect(fast.loadAt(10_000)).toBeCloseTo(12 * 2, 6);
    // An idle endpoint twice as slow, its recent worst 22 ms, answers sooner than that queue: it
    // wins. Read at its mean wait (1.25 ms × 16 = 20 ms) the queued one would have won instead.
    const next = endpoint('next');
    next.observe(22, 10_000);
    const strategy = p2cEwma();
    expect(strategy.choose([fast, next], 10_000, replay(0)).id).toBe('next');
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
  it('compares two distinct endpoints, a random one and the last winner, and takes the lower load', () => {
    const [a, b, c] = [endpoint('a'), endpoint('b'), endpoint('c')];
    a.observe(10, 0);
    b.observe(1, 0);
    c.observe(5, 0);
    // No winner yet: two random draws. 0 → index 0 (a); then 0 → index 0 of the rest, past a → b.
    expect(p2cEwma().choose([a, b, c], 0, replay(0, 0)).id).toBe('b');
    // index 2 (c) against index 0 (a): c is faster.
    expect(p2cEwma().choose([a, b, c], 0, replay(0.9, 0)).id).toBe('c');
    const strategy = p2cEwma();
    expect(strategy.choose([a, b, c], 0, replay(0, 0)).id).toBe('b');
    // The next call draws a once and compares it with b, the last winner.
    expect(strategy.choose([a, b, c], 0, replay(0)).id).toBe('b');
    // Calls in flight count: b with 20 outstanding (load 21) loses to a (10).
    b.outstanding = 20;
    expect(strategy.choose([a, b, c], 0, replay(0)).id).toBe('a');
    expect(strategy.choose([a], 0, replay(0.5)).id).toBe('a');
  });

  it('remembers the runner-up too: when the winner fills up, the next best takes the call, not a slow draw', () => {
    const [fast, medium, ...slow] = [10, 20, 200, 200, 200].map((ms, i) => {
      const e = endpoint(`e${i}`);
      e.observe(ms, 0);
      return e;
    });
    const all = [fast, medium, ...slow] as EndpointState[];
    const strategy = p2cEwma();
    // First call: fast against medium (two draws); fast wins, medium is the runner-up.
    expect(strategy.choose(all, 0, replay(0, 0))).toBe(fast);
    (fast as EndpointState).outstanding = 30; // now it would take 310 ms
    // The draw lands on a 200 ms endpoint; the winner alone would lose to it. The runner-up wins.
    expect(strategy.choose(all, 0, replay(0.5))).toBe(medium);
  });

  it('lets the fastest endpoint take more than the 2/n share two random draws would cap it at', () => {
    const endpoints = [1, 5, 5, 5, 5].map((ms, i) => {
      const e = endpoint(`e${i}`);
      e.observe(ms, 0);
      return e;
    });
    let seed = 7;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return (seed - 1) / 2147483646;
    };
    const strategy = p2cEwma();
    let fastest = 0;
    for (let i = 0; i < 1000; i++) if (strategy.choose(endpoints, 0, random) === endpoints[0]) fastest++;
    expect(fastest).toBeGreaterThan(900);
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
    const strategy = p2cEwma();
    for (let i = 0; i < 4000; i++) {
      const chosen = strategy.choose(endpoints, 0, random);
      counts.set(chosen.id, (counts.get(chosen.id) ?? 0) + 1);
    }
    // The slowest never has the lower load; the fastest, once it has won, keeps winning.
    expect(counts.get('20ms') ?? 0).toBe(0);
    expect(counts.get('1ms')).toBeGreaterThan(3900);
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
