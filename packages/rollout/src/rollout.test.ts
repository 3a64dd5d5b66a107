import { BallastError, defineModel, type Model, subscribe } from '@ballast/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type RolloutEvent, rollout } from './index.js';
import { memoryStore } from './store.js';

function collectEvents(): { events: RolloutEvent[]; stop: () => void } {
  const events: RolloutEvent[] = [];
  const stop = subscribe('rollout', (event) => events.push(event));
  return { events, stop };
}

/**
 * A model that answers its version after `delayMs` (fake clock), failing while `failing()` says
 * so. Once closed, it fails every call, including those in flight: a rollout that closed or
 * swapped a version under a running call would show up as failed requests.
 */
function versionModel(
  version: string,
  settings: { delayMs?: number; failing?: () => boolean } = {},
): Model<unknown, string> & { calls: number; closed: boolean } {
  const model = {
    name: 'scorer',
    version,
    calls: 0,
    closed: false,
    async infer(): Promise<string> {
      model.calls++;
      if (settings.delayMs) await new Promise((resolve) => setTimeout(resolve, settings.delayMs));
      if (model.closed) throw new BallastError('MODEL_UNAVAILABLE', `${version} is closed`);
      if (settings.failing?.()) throw new BallastError('UPSTREAM', `${version} failed`);
      return version;
    },
    async close(): Promise<void> {
      model.closed = true;
    },
  };
  return model;
}

const user = (i: number) => ({ principal: { id: `user-${i}` } });

let listener: { events: RolloutEvent[]; stop: () => void };

beforeEach(() => {
  vi.useFakeTimers();
  listener = collectEvents();
});

afterEach(() => {
  listener.stop();
  vi.useRealTimers();
});

describe('canary', () => {
  it('ramps the candidate share step by step as time passes, keeping each key on its version', async () => {
    const model = rollout({
      stable: versionModel('v1'),
      candidate: versionModel('v2'),
      strategy: {
        type: 'canary',
        steps: [
          { weight: 0.1, durationMs: 60_000 },
          { weight: 0.5, durationMs: 60_000 },
          { weight: 1, durationMs: 60_000 },
        ],
      },
      analysis: { windowMs: 3_600_000 },
    });
    const candidateUsers = async (): Promise<Set<number>> => {
      const found = new Set<number>();
      for (let i = 0; i < 2000; i++) if ((await model.infer(null, user(i))) === 'v2') found.add(i);
      return found;
    };

    const first = await candidateUsers();
    expect(first.size / 2000).toBeGreaterThan(0.07);
    expect(first.size / 2000).toBeLessThan(0.13);
    expect(model.status().step).toEqual({ index: 0, count: 3, weight: 0.1 });

    await vi.advanceTimersByTimeAsync(59_999);
    expect(listener.events).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(listener.events.map((e) => [e.decision, e.reason, e.weight, e.automatic])).toEqual([['step', 'ramp', 0.5, true]]);
    const second = await candidateUsers();
    expect(second.size / 2000).toBeGreaterThan(0.45);
    expect(second.size / 2000).toBeLessThan(0.55);
    for (const i of first) expect(second.has(i)).toBe(true);

    await vi.advanceTimersByTimeAsync(60_000);
    expect(listener.events.at(-1)).toMatchObject({ decision: 'step', weight: 1, fromVersion: 'v1', toVersion: 'v2' });
    expect((await candidateUsers()).size).toBe(2000);
    await model.close();
  });

  it('rolls back at once when the candidate error rate breaches, and the stable version serves everything after', async () => {
    let candidateFails = false;
    const candidate = versionModel('v2', { failing: () => candidateFails });
    const model = rollout({
      stable: versionModel('v1'),
      candidate,
      strategy: { type: 'canary', weight: 0.5 },
      analysis: { minRequests: 20, maxErrorRate: 0.2, windowMs: 60_000 },
    });
    // Healthy traffic first: no decision.
    for (let i = 0; i < 100; i++) await model.infer(null, user(i));
    expect(listener.events).toHaveLength(0);
    const healthyCalls = candidate.calls;

    candidateFails = true;
    let failures = 0;
    for (let i = 0; i < 400; i++) {
      await model.infer(null, user(i)).catch(() => failures++);
    }
    expect(listener.events).toHaveLength(1);
    const event = listener.events[0] as RolloutEvent;
    expect(event).toMatchObject({
      decision: 'rollback',
      reason: 'error-rate',
      automatic: true,
      fromVersion: 'v2',
      toVersion: 'v1',
      weight: 0,
    });
    expect(event.metrics.candidate?.errorRate).toBeGreaterThan(0.2);
    // "At once": the breach is seen on the call that crossed the limit, not at the end of a window.
    const failedOnCandidate = candidate.calls - healthyCalls;
    expect(failures).toBe(failedOnCandidate);
    // The first failure that lifts the rate above 0.2 (e / (healthy + e) > 0.2, e > healthy / 4) rolls back.
    expect(failedOnCandidate).toBe(Math.floor(healthyCalls / 4) + 1);
    expect(model.status().phase).toBe('rolled-back');
    for (let i = 0; i < 200; i++) expect(await model.infer(null, user(i))).toBe('v1');
    await model.close();
  });

  it('rolls back when the candidate p95 latency breaches, and not when it stays under the limit', async () => {
    const run = async (candidateDelayMs: number) => {
      const model = rollout({
        stable: versionModel('v1', { delayMs: 10 }),
        candidate: versionModel('v2', { delayMs: candidateDelayMs }),
        strategy: { type: 'canary', weight: 0.5 },
        analysis: { minRequests: 20, maxP95Ms: 100 },
      });
      const calls = Array.from({ length: 200 }, (_, i) => model.infer(null, user(i)));
      await vi.advanceTimersByTimeAsync(Math.max(10, candidateDelayMs));
      await Promise.all(calls);
      const status = model.status();
      await model.close();
      return status;
    };
    const fast = await run(80);
    expect(fast.phase).toBe('running');
    expect(fast.metrics.candidate.p95Ms).toBeGreaterThanOrEqual(80);
    expect(listener.events).toHaveLength(0);

    const slow = await run(150);
    expect(slow.phase).toBe('rolled-back');
    expect(listener.events).toHaveLength(1);
    expect(listener.events[0]).toMatchObject({ decision: 'rollback', reason: 'p95-latency' });
    expect(listener.events[0]?.metrics.candidate?.p95Ms).toBeGreaterThan(100);
  });

  it('promotes after N consecutive healthy windows, and a quiet window does not count', async () => {
    const model = rollout({
      stable: versionModel('v1'),
      candidate: versionModel('v2'),
      strategy: { type: 'canary', weight: 0.5 },
      analysis: { windowMs: 10_000, buckets: 5, minRequests: 10, healthyWindows: 3 },
    });
    const traffic = async (calls: number) => {
      for (let i = 0; i < calls; i++) await model.infer(null, user(i));
    };
    await traffic(100);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(model.status().healthyWindows).toEqual({ count: 1, required: 3 });
    // A window with too little traffic: neither healthy nor a breach.
    await traffic(4);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(model.status().healthyWindows.count).toBe(1);
    await traffic(100);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(listener.events).toHaveLength(0);
    await traffic(100);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(listener.events).toHaveLength(1);
    expect(listener.events[0]).toMatchObject({ decision: 'promote', reason: 'healthy-windows', automatic: true, weight: 1 });
    expect(listener.events[0]?.metrics.candidate?.requests).toBeGreaterThanOrEqual(10);
    expect(model.status().phase).toBe('promoted');
    for (let i = 0; i < 50; i++) expect(await model.infer(null, user(i))).toBe('v2');
    await model.close();
  });

  it('promotes a ramp only once its last step has run and the windows were healthy', async () => {
    const model = rollout({
      stable: versionModel('v1'),
      candidate: versionModel('v2'),
      strategy: {
        type: 'canary',
        steps: [
          { weight: 0.2, durationMs: 20_000 },
          { weight: 0.6, durationMs: 20_000 },
        ],
      },
      analysis: { windowMs: 10_000, minRequests: 5, healthyWindows: 2 },
    });
    for (let t = 0; t < 5; t++) {
      for (let i = 0; i < 100; i++) await model.infer(null, user(i));
      await vi.advanceTimersByTimeAsync(10_000);
    }
    expect(listener.events.map((e) => e.decision)).toEqual(['step', 'promote']);
    expect(listener.events[1]?.reason).toBe('healthy-windows');
    await model.close();
  });

  it('rolls back on the drift score of the candidate when a window closes', async () => {
    let score = 0.1;
    const model = rollout({
      stable: versionModel('v1'),
      candidate: versionModel('v2'),
      strategy: { type: 'canary', weight: 0.5 },
      analysis: { windowMs: 1000, minRequests: 5, maxDriftScore: 0.3, drift: { score: (role) => (role === 'candidate' ? score : 0) } },
    });
    for (let i = 0; i < 50; i++) await model.infer(null, user(i));
    await vi.advanceTimersByTimeAsync(1000);
    expect(listener.events).toHaveLength(0);
    expect(model.status().metrics.candidate.driftScore).toBe(0.1);
    score = 0.4;
    await vi.advanceTimersByTimeAsync(1000);
    expect(listener.events[0]).toMatchObject({ decision: 'rollback', reason: 'drift' });
    expect(listener.events[0]?.metrics.candidate?.driftScore).toBe(0.4);
    await model.close();
  });

  it('leaves decisions to people with autoRollback and autoPromote off', async () => {
    const model = rollout({
      stable: versionModel('v1'),
      candidate: versionModel('v2', { failing: () => true }),
      strategy: { type: 'canary', weight: 0.5 },
      analysis: { windowMs: 1000, minRequests: 5, autoRollback: false, autoPromote: false },
    });
    for (let i = 0; i < 100; i++) await model.infer(null, user(i)).catch(() => undefined);
    await vi.advanceTimersByTimeAsync(5000);
    expect(listener.events).toHaveLength(0);
    const status = await model.rollback({ reason: 'bad candidate', by: 'ops-1' });
    expect(status.phase).toBe('rolled-back');
    expect(status.decisions.at(-1)).toMatchObject({ decision: 'rollback', reason: 'bad candidate', automatic: false, by: 'ops-1' });
    expect(listener.events[0]).toMatchObject({ decision: 'rollback', reason: 'bad candidate', automatic: false });
    await model.close();
  });
});

describe('blue-green', () => {
  it('switches when the candidate reports healthy, and switches back at once on a breach, the stable version kept warm', async () => {
    let candidateReady = false;
    let candidateFails = false;
    const stableClose = vi.fn(async () => undefined);
    const stable = { ...versionModel('blue'), close: stableClose };
    const green = versionModel('green', { failing: () => candidateFails });
    const candidate = {
      name: green.name,
      version: green.version,
      infer: green.infer,
      health: async () => ({ ready: candidateReady, status: candidateReady ? ('ready' as const) : ('unavailable' as const) }),
    };
    const model = rollout({ stable, candidate, strategy: { type: 'blue-green' }, analysis: { windowMs: 1000, minRequests: 10 } });
    await vi.advanceTimersByTimeAsync(0);
    expect(model.status().switched).toBe(false);
    expect(await model.infer(null)).toBe('blue');
    await vi.advanceTimersByTimeAsync(3000);
    expect(listener.events).toHaveLength(0);

    candidateReady = true;
    await vi.advanceTimersByTimeAsync(1000);
    expect(listener.events[0]).toMatchObject({ decision: 'switch', reason: 'candidate-healthy', weight: 1 });
    for (let i = 0; i < 20; i++) expect(await model.infer(null)).toBe('green');

    candidateFails = true;
    let failed = 0;
    for (let i = 0; i < 50; i++) await model.infer(null).catch(() => failed++);
    expect(listener.events[1]).toMatchObject({ decision: 'rollback', reason: 'error-rate', fromVersion: 'green', toVersion: 'blue' });
    expect(failed).toBeLessThan(10);
    expect(await model.infer(null)).toBe('blue');
    expect(stableClose).not.toHaveBeenCalled();
    await model.close();
  });
});

describe('shadow', () => {
  function shadowPair(candidateOutput: number[], candidateDelayMs: number) {
    let inFlight = 0;
    let maxInFlight = 0;
    let completed = 0;
    const stable = defineModel({ name: 'classifier', version: 'v1', infer: async (_x: number) => [0.1, 0.9] });
    const candidate = defineModel({
      name: 'classifier',
      version: 'v2',
      infer: async (_x: number) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, candidateDelayMs));
        inFlight--;
        completed++;
        return candidateOutput;
      },
    });
    return { stable, candidate, stats: () => ({ inFlight, maxInFlight, completed }) };
  }

  it('never changes a response, never waits for the candidate, and never exceeds its concurrency cap', async () => {
    const { stable, candidate, stats } = shadowPair([0.8, 0.2], 500);
    const model = rollout({
      stable,
      candidate,
      strategy: { type: 'shadow', maxConcurrency: 3 },
      analysis: { minRequests: 1000 },
    });
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => model.infer(i)));
      // Every caller got the stable answer before any mirrored call could finish.
      for (const answer of answers) expect(answer).toEqual([0.1, 0.9]);
      await vi.advanceTimersByTimeAsync(0);
      expect(stats().inFlight).toBeLessThanOrEqual(3);
      await vi.advanceTimersByTimeAsync(500);
    }
    expect(stats().maxInFlight).toBe(3);
    expect(stats().completed).toBe(15);
    const status = model.status();
    expect(status.shadow).toMatchObject({ maxConcurrency: 3, started: 15, dropped: 185, inFlight: 0 });
    expect(status.metrics.candidate.shadowCompared).toBe(15);
    expect(status.metrics.candidate.disagreementRate).toBe(1);
    expect(status.metrics.stable.requests).toBe(200);
    await model.close();
  });

  it('keeps the caller unaffected when the candidate throws, even synchronously', async () => {
    const stable = defineModel({ name: 'c', version: 'v1', infer: async () => 'ok' });
    const candidate: Model<unknown, string> = {
      name: 'c',
      version: 'v2',
      infer: () => {
        throw new Error('boom');
      },
    };
    const model = rollout({ stable, candidate, strategy: { type: 'shadow' }, analysis: { minRequests: 5, maxErrorRate: 0.5 } });
    for (let i = 0; i < 10; i++) {
      expect(await model.infer(i)).toBe('ok');
      await vi.advanceTimersByTimeAsync(0);
    }
    expect(listener.events[0]).toMatchObject({ decision: 'rollback', reason: 'error-rate' });
    await model.close();
  });

  it('rolls back on disagreement, and promotes a candidate that agrees on the top class', async () => {
    const disagreeing = shadowPair([0.7, 0.3], 5);
    const bad = rollout({
      stable: disagreeing.stable,
      candidate: disagreeing.candidate,
      strategy: { type: 'shadow', maxConcurrency: 10 },
      analysis: { minRequests: 20, maxDisagreementRate: 0.1, windowMs: 60_000 },
    });
    for (let round = 0; round < 3; round++) {
      await Promise.all(Array.from({ length: 10 }, (_, i) => bad.infer(i)));
      await vi.advanceTimersByTimeAsync(5);
    }
    expect(listener.events[0]).toMatchObject({ decision: 'rollback', reason: 'disagreement' });
    expect(listener.events[0]?.metrics.candidate?.disagreementRate).toBe(1);
    await bad.close();

    const agreeing = shadowPair([0.3, 0.7], 5);
    const good = rollout({
      stable: agreeing.stable,
      candidate: agreeing.candidate,
      strategy: { type: 'shadow', maxConcurrency: 10 },
      analysis: { minRequests: 20, windowMs: 1000, healthyWindows: 2 },
    });
    for (let window = 0; window < 2; window++) {
      for (let round = 0; round < 4; round++) {
        await Promise.all(Array.from({ length: 10 }, (_, i) => good.infer(i)));
        await vi.advanceTimersByTimeAsync(5);
      }
      await vi.advanceTimersByTimeAsync(1000 - 20);
    }
    expect(listener.events[1]).toMatchObject({ decision: 'promote', reason: 'healthy-windows' });
    expect(listener.events[1]?.metrics.candidate?.disagreementRate).toBe(0);
    const promoted = good.infer(1);
    await vi.advanceTimersByTimeAsync(5);
    expect(await promoted).toEqual([0.3, 0.7]);
    await good.close();
  });
});

describe('under concurrent load', () => {
  it('a promotion and a rollback fail zero requests', async () => {
    const stable = versionModel('v1', { delayMs: 7 });
    const candidate = versionModel('v2', { delayMs: 13 });
    const model = rollout({ stable, candidate, strategy: { type: 'canary', weight: 0.3 }, analysis: { windowMs: 1000, minRequests: 10 } });
    const calls: Promise<string>[] = [];
    for (let tick = 0; tick < 60; tick++) {
      for (let i = 0; i < 50; i++) calls.push(model.infer(null, user(tick * 50 + i)));
      if (tick === 20) void model.promote({ reason: 'load test' });
      if (tick === 40) void model.rollback({ reason: 'load test' });
      await vi.advanceTimersByTimeAsync(3);
    }
    await vi.advanceTimersByTimeAsync(20);
    const results = await Promise.allSettled(calls);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(0);
    const served = results.map((r) => (r as PromiseFulfilledResult<string>).value);
    expect(served.slice(0, 20 * 50).some((v) => v === 'v1')).toBe(true);
    expect(served.slice(21 * 50, 40 * 50).every((v) => v === 'v2')).toBe(true);
    expect(served.slice(41 * 50).every((v) => v === 'v1')).toBe(true);
    expect(listener.events.map((e) => e.decision)).toEqual(['promote', 'rollback']);
    await model.close();
  });
});

describe('blue-green under concurrent load', () => {
  it('a switch, a rollback and a promotion fail zero requests', async () => {
    const blue = versionModel('blue', { delayMs: 9 });
    const green = versionModel('green', { delayMs: 4 });
    const model = rollout({ stable: blue, candidate: green, strategy: { type: 'blue-green' }, analysis: { windowMs: 100_000 } });
    const calls: Promise<string>[] = [];
    for (let tick = 0; tick < 45; tick++) {
      for (let i = 0; i < 40; i++) calls.push(model.infer(null));
      if (tick === 5) await vi.advanceTimersByTimeAsync(0); // the health check resolves: switch
      if (tick === 20) void model.rollback({ reason: 'switch back' });
      if (tick === 30) void model.promote({ reason: 'again' });
      await vi.advanceTimersByTimeAsync(2);
    }
    await vi.advanceTimersByTimeAsync(20);
    const results = await Promise.allSettled(calls);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(0);
    const served = results.map((r) => (r as PromiseFulfilledResult<string>).value);
    expect(served.slice(10 * 40, 20 * 40).every((v) => v === 'green')).toBe(true);
    expect(served.slice(21 * 40, 30 * 40).every((v) => v === 'blue')).toBe(true);
    expect(served.slice(31 * 40).every((v) => v === 'green')).toBe(true);
    expect(listener.events.map((e) => e.decision)).toEqual(['switch', 'rollback', 'promote']);
    await model.close();
  });
});

describe('shadow with a hung candidate', () => {
  it('holds its slots until the candidate settles, records timeouts, and keeps answering', async () => {
    let started = 0;
    const stable = defineModel({ name: 'h', version: 'v1', infer: async () => 'ok' });
    // Ignores cancellation and never answers.
    const candidate = defineModel({
      name: 'h',
      version: 'v2',
      infer: () => {
        started++;
        return new Promise<string>(() => undefined);
      },
    });
    const model = rollout({
      stable,
      candidate,
      strategy: { type: 'shadow', maxConcurrency: 2, timeoutMs: 50 },
      analysis: { minRequests: 1000 },
    });
    for (let i = 0; i < 20; i++) {
      expect(await model.infer(i)).toBe('ok');
      await vi.advanceTimersByTimeAsync(60);
    }
    expect(started).toBe(2);
    const status = model.status();
    expect(status.shadow).toMatchObject({ inFlight: 2, started: 2, dropped: 18 });
    expect(status.metrics.candidate).toMatchObject({ requests: 2, errors: 2 });
    await model.close();
  });
});

describe('health and drift sources', () => {
  it('reports the health of the versions serving now', async () => {
    const stable = { ...versionModel('v1'), health: async () => ({ ready: true, status: 'ready' as const }) };
    const candidate = {
      ...versionModel('v2'),
      health: async () => {
        throw new Error('no GPU');
      },
    };
    const model = rollout({ stable, candidate, strategy: { type: 'canary', weight: 0.5 } });
    const mixed = await (model.health as NonNullable<typeof model.health>)();
    expect(mixed).toMatchObject({ ready: true, status: 'degraded' });
    await model.rollback();
    expect(await (model.health as NonNullable<typeof model.health>)()).toMatchObject({ ready: true, status: 'ready' });
    await model.promote();
    expect(await (model.health as NonNullable<typeof model.health>)()).toMatchObject({
      ready: false,
      status: 'unavailable',
      message: 'no GPU',
    });
    await model.close();
  });

  it('reads a drift function per version, and treats a throwing source as no score', async () => {
    let broken = false;
    const drift = vi.fn((role: 'stable' | 'candidate') => {
      if (broken) throw new Error('monitor down');
      return role === 'stable' ? 0.05 : 0.15;
    });
    const model = rollout({
      stable: versionModel('v1'),
      candidate: versionModel('v2'),
      strategy: { type: 'canary', weight: 0.5 },
      analysis: { windowMs: 1000, minRequests: 5, maxDriftScore: 0.1, drift },
    });
    expect(model.status().metrics).toMatchObject({ stable: { driftScore: 0.05 }, candidate: { driftScore: 0.15 } });
    broken = true;
    for (let i = 0; i < 40; i++) await model.infer(null, user(i));
    await vi.advanceTimersByTimeAsync(1000);
    expect(model.status().metrics.candidate.driftScore).toBeUndefined();
    expect(model.status().phase).toBe('running');
    broken = false;
    await vi.advanceTimersByTimeAsync(1000);
    expect(listener.events[0]).toMatchObject({ decision: 'rollback', reason: 'drift' });
    await model.close();
  });
});

describe('persistence', () => {
  it('keeps decisions across a restart', async () => {
    const store = memoryStore();
    const first = rollout({
      name: 'fraud',
      stable: versionModel('v1'),
      candidate: versionModel('v2'),
      strategy: { type: 'canary', weight: 0.5 },
      store,
    });
    await first.rollback({ reason: 'paged at night' });
    await first.close();

    const second = rollout({
      name: 'fraud',
      stable: versionModel('v1'),
      candidate: versionModel('v2'),
      strategy: { type: 'canary', weight: 0.5 },
      store,
    });
    for (let i = 0; i < 50; i++) expect(await second.infer(null, user(i))).toBe('v1');
    const status = second.status();
    expect(status).toMatchObject({ phase: 'rolled-back', restored: true });
    expect(status.decisions).toHaveLength(1);
    expect(status.decisions[0]).toMatchObject({ decision: 'rollback', reason: 'paged at night' });

    // A new candidate starts afresh.
    const third = rollout({
      name: 'fraud',
      stable: versionModel('v1'),
      candidate: versionModel('v3'),
      strategy: { type: 'canary', weight: 0.5 },
      store,
    });
    expect(third.status()).toMatchObject({ phase: 'running', decisions: [] });
    await second.close();
    await third.close();
  });

  it('waits for an asynchronous store before routing, and keeps serving when the store fails', async () => {
    const saved = {
      stableVersion: 'v1',
      candidateVersion: 'v2',
      phase: 'promoted' as const,
      stepIndex: 0,
      switched: false,
      decisions: [],
      updatedAt: 0,
    };
    const slowStore = {
      load: () => new Promise<typeof saved>((resolve) => setTimeout(() => resolve(saved), 50)),
      save: async () => undefined,
    };
    const model = rollout({
      stable: versionModel('v1'),
      candidate: versionModel('v2'),
      strategy: { type: 'canary', weight: 0 },
      store: slowStore,
    });
    const pending = model.infer(null, user(1));
    await vi.advanceTimersByTimeAsync(50);
    expect(await pending).toBe('v2');

    const broken = {
      load: async () => {
        throw new Error('disk gone');
      },
      save: async () => {
        throw new Error('disk gone');
      },
    };
    const resilient = rollout({
      stable: versionModel('v1'),
      candidate: versionModel('v2'),
      strategy: { type: 'canary', weight: 0 },
      store: broken,
    });
    expect(await resilient.infer(null)).toBe('v1');
    expect(resilient.status().storeError).toBe('disk gone');
    expect((await resilient.promote()).phase).toBe('promoted');
    expect(await resilient.infer(null)).toBe('v2');
    await model.close();
    await resilient.close();
  });
});

describe('configuration', () => {
  const stable = versionModel('v1');
  const candidate = versionModel('v2');
  const cases: [string, unknown][] = [
    ['no candidate', { stable, strategy: { type: 'canary' } }],
    ['unknown strategy', { stable, candidate, strategy: { type: 'linear' } }],
    ['weight above 1', { stable, candidate, strategy: { type: 'canary', weight: 1.5 } }],
    ['empty ramp', { stable, candidate, strategy: { type: 'canary', steps: [] } }],
    ['step without duration', { stable, candidate, strategy: { type: 'canary', steps: [{ weight: 0.1 }] } }],
    ['zero shadow concurrency', { stable, candidate, strategy: { type: 'shadow', maxConcurrency: 0 } }],
    ['negative window', { stable, candidate, strategy: { type: 'blue-green' }, analysis: { windowMs: -1 } }],
    ['bad drift source', { stable, candidate, strategy: { type: 'blue-green' }, analysis: { drift: 3 } }],
    ['bad store', { stable, candidate, strategy: { type: 'blue-green' }, store: {} }],
  ];
  for (const [label, options] of cases) {
    it(`rejects ${label} with CONFIG`, () => {
      expect(() => rollout(options as never)).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    });
  }

  it('names the full path of a bad option, and the key a mistyped one was meant to be', () => {
    const details = (options: unknown): Record<string, unknown> | undefined => {
      try {
        rollout(options as never);
      } catch (error) {
        return (error as { details?: Record<string, unknown> }).details;
      }
      throw new Error('expected a CONFIG error');
    };
    const ramp = { type: 'canary', steps: [{ weight: 0.1, durationMs: 1000 }, { weight: 0.5 }] };
    expect(details({ stable, candidate, strategy: ramp })?.path).toBe('strategy.steps.1.durationMs');
    expect(details({ stable, candidate, strategy: { type: 'shadow', sampleRate: 2 } })?.path).toBe('strategy.sampleRate');
    expect(details({ stable, candidate, strategy: { type: 'linear' } })?.path).toBe('strategy.type');
    expect(details({ stable, candidate, strategy: { type: 'blue-green' }, analysis: { maxErrorRate: 2 } })?.path).toBe(
      'analysis.maxErrorRate',
    );
    expect(details({ stable, candidate, strategy: { type: 'blue-green' }, analyis: {} })).toMatchObject({
      path: 'analyis',
      suggestion: 'analysis',
    });
    expect(details({ stable, candidate, strategy: { type: 'canary', wieght: 0.2 } })).toMatchObject({
      path: 'strategy.wieght',
      suggestion: 'weight',
    });
  });

  it('fails a call whose key function throws with a typed error, and keeps serving others', async () => {
    const model = rollout({
      stable,
      candidate,
      strategy: {
        type: 'canary',
        weight: 0.5,
        key: (input) => {
          if (input === 'bad') throw new Error('no key');
          return String(input);
        },
      },
    });
    await expect(model.infer('bad')).rejects.toMatchObject({ code: 'INTERNAL', cause: expect.objectContaining({ message: 'no key' }) });
    expect(['v1', 'v2']).toContain(await model.infer('good'));
    await model.close();
  });

  it('rejects a bad manual reason with INVALID_INPUT', async () => {
    const model = rollout({ stable, candidate, strategy: { type: 'canary' } });
    await expect(model.promote({ reason: '' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(model.rollback({ reason: 42 as never })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await model.close();
    await expect(model.infer(null)).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
  });
});
