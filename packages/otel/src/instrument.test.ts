import { BallastError, channels, defineModel, pipeline } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { useTelemetry } from '../test/harness.js';
import { instrument } from './instrument.js';

const fixture = useTelemetry();
const start = (options?: Parameters<typeof instrument>[0]) => fixture.start(options);

describe('instrument() without an SDK', () => {
  it('subscribes to nothing and reports itself disabled', () => {
    const handle = instrument();
    expect(handle.enabled).toEqual({ traces: false, metrics: false });
    expect(channels.infer.hasSubscribers).toBe(false);
    expect(channels.httpRequest.hasSubscribers).toBe(false);
    handle.shutdown();
  });

  it('rejects bad options with CONFIG', () => {
    expect(() => instrument({ captureInputs: 'yes' as unknown as boolean })).toThrowError(BallastError);
    expect(() => instrument({ costs: [{ model: 'm', perCall: -1 }] })).toThrowError(/perCall/);
    expect(() => instrument({ costs: [{ model: '' }] })).toThrowError(/model/);
    expect(() => instrument({ currency: 'US dollars' })).toThrowError(/currency/);
    try {
      instrument({ maxCapturedLength: 0 });
      expect.unreachable();
    } catch (error) {
      expect((error as BallastError).code).toBe('CONFIG');
    }
  });
});

describe('shutdown()', () => {
  it('unsubscribes, so later calls record nothing', async () => {
    const handle = start();
    expect(handle.enabled).toEqual({ traces: true, metrics: true });
    expect(channels.infer.hasSubscribers).toBe(true);
    handle.shutdown();
    handle.shutdown();
    expect(channels.infer.hasSubscribers).toBe(false);
    expect(channels.retry.hasSubscribers).toBe(false);
    await pipeline(defineModel({ name: 'm', infer: async () => 1 })).infer(0);
    expect(fixture.harness.spans.getFinishedSpans()).toEqual([]);
  });
});
