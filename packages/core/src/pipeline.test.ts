import diagnostics from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { annotate, capTimeout, withDeadline } from './deadline.js';
import { isBallastError } from './errors.js';
import { CHANNEL_NAMES, type InferContext, subscribe } from './events.js';
import { defineModel, hasTypedFailures, type InferOptions, type Middleware, type Model, markTypedFailures } from './model.js';
import { pipeline } from './pipeline.js';

function tag(label: string, log: string[]): Middleware {
  return <I, O>(next: Model<I, O>): Model<I, O> => ({
    name: next.name,
    infer: async (input: I, options?: InferOptions) => {
      log.push(`${label}>`);
      const out = await next.infer(input, options);
      log.push(`<${label}`);
      return out;
    },
  });
}

describe('pipeline', () => {
  it('runs the first middleware listed outermost', async () => {
    const log: string[] = [];
    const model = defineModel({
      name: 'm',
      version: '3',
      infer: async (x: number) => {
        log.push('model');
        return x + 1;
      },
    });
    const composed = pipeline(model, tag('a', log), tag('b', log));
    expect(await composed.infer(1)).toBe(2);
    expect(log).toEqual(['a>', 'b>', 'model', '<b', '<a']);
    expect(composed.name).toBe('m');
    expect(composed.version).toBe('3');
  });

  it('reports the current version of a model that changes it (a reload)', () => {
    let version = 'v1';
    const reloadable = {
      name: 'r',
      get version() {
        return version;
      },
      infer: async (x: number) => x,
    } as Model<number, number>;
    const composed = pipeline(reloadable);
    expect(composed.version).toBe('v1');
    version = 'v2';
    expect(composed.version).toBe('v2');
  });

  it('turns a synchronous throw into a rejection', async () => {
    const model = {
      name: 'sync',
      infer: () => {
        throw new Error('sync boom');
      },
    } as unknown as Model<number, number>;
    await expect(pipeline(model).infer(1)).rejects.toThrow('sync boom');
  });

  it('classifies what an unmarked model rejects with, and trusts a model marked with markTypedFailures', async () => {
    const raw = new Error('raw failure');
    const plain: Model<number, number> = { name: 'plain', infer: () => Promise.reject(raw) };
    const failure = await pipeline(plain)
      .infer(1)
      .catch((error: unknown) => error);
    expect(isBallastError(failure) && failure.code).toBe('INTERNAL');
    expect((failure as Error).cause).toBe(raw);
    // A marked model promises BallastErrors, so pipeline() passes its rejection on unchanged (no
    // classification per call). A model that broke the promise shows it: the raw error arrives.
    const marked = markTypedFailures({ name: 'marked', infer: (_: number) => Promise.reject(raw) });
    expect(hasTypedFailures(marked)).toBe(true);
    expect(hasTypedFailures(plain)).toBe(false);
    expect(
      await pipeline(marked)
        .infer(1)
        .catch((error: unknown) => error),
    ).toBe(raw);
    // With a budget the call's scope classifies as before.
    const scoped = await pipeline(marked)
      .infer(1, { timeoutMs: 1_000 })
      .catch((error: unknown) => error);
    expect(isBallastError(scoped) && scoped.code).toBe('INTERNAL');
  });

  it('still classifies a synchronous throw of a marked model', async () => {
    const raw = new Error('sync failure');
    const marked = markTypedFailures({
      name: 'marked-sync',
      infer: (_: number): Promise<number> => {
        throw raw;
      },
    });
    const failure = await pipeline(marked)
      .infer(1)
      .catch((error: unknown) => error);
    expect(isBallastError(failure) && failure.code).toBe('INTERNAL');
    expect((failure as Error).cause).toBe(raw);
  });

  it('marks its own model (its rejections are classified), but not a frozen one it is given', () => {
    const model = defineModel({ name: 'm', infer: async (x: number) => x });
    expect(hasTypedFailures(model)).toBe(false);
    expect(hasTypedFailures(pipeline(model))).toBe(true);
    expect(() => markTypedFailures(model)).toThrow(/frozen/);
  });

  it('rejects bad arguments with CONFIG', () => {
    for (const build of [
      () => pipeline({} as Model),
      () => pipeline(defineModel({ name: 'm', infer: async () => 1 }), 3 as unknown as Middleware),
    ]) {
      try {
        build();
        expect.unreachable();
      } catch (error) {
        expect(isBallastError(error) && error.code).toBe('CONFIG');
      }
    }
  });

  it('forwards inferBatch, health and close', async () => {
    let closed = false;
    const model = pipeline(
      defineModel({
        name: 'full',
        infer: async (x: number) => x,
        inferBatch: async (xs: readonly number[]) => xs.map((x) => -x),
        health: async () => ({ ready: true, status: 'ready' as const }),
        close: async () => void (closed = true),
      }),
    );
    expect(await model.inferBatch?.([1, 2])).toEqual([-1, -2]);
    expect(await model.health?.()).toEqual({ ready: true, status: 'ready' });
    await model.close?.();
    expect(closed).toBe(true);
  });
});

describe('ballast:infer tracing channel', () => {
  const channel = diagnostics.tracingChannel<InferContext>(CHANNEL_NAMES.infer);
  let unsubscribe: (() => void) | undefined;
  afterEach(() => unsubscribe?.());

  function record() {
    const events: [string, InferContext][] = [];
    const handlers = {
      start: (c: InferContext) => events.push(['start', c]),
      end: (c: InferContext) => events.push(['end', c]),
      asyncStart: (c: InferContext) => events.push(['asyncStart', c]),
      asyncEnd: (c: InferContext) => events.push(['asyncEnd', c]),
      error: (c: InferContext) => events.push(['error', c]),
    };
    channel.subscribe(handlers as never);
    unsubscribe = () => channel.unsubscribe(handlers as never);
    return events;
  }

  it('publishes start/end/asyncStart/asyncEnd with attributes middleware add during the call', async () => {
    const events = record();
    const model = pipeline(
      defineModel({
        name: 'traced',
        version: '7',
        kind: 'client',
        infer: async (x: number, options?: InferOptions) => {
          annotate(options, 'ballast.provider', 'cpu');
          return x * 2;
        },
      }),
    );
    expect(await model.infer(4, { attributes: { tenant: 't1' } })).toBe(8);
    expect(events.map(([name]) => name)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    const context = events[0]?.[1] as InferContext;
    expect(context).toMatchObject({ model: 'traced', version: '7', kind: 'client', operation: 'infer', input: 4, result: 8 });
    expect(context.attributes).toEqual({ 'ballast.provider': 'cpu' });
  });

  it('publishes error with the error and nests inner pipelines in their own contexts', async () => {
    const events = record();
    const inner = pipeline(
      defineModel({
        name: 'inner',
        infer: async (_x: number, options?: InferOptions) => {
          annotate(options, 'where', 'inner');
          throw new Error('inner failed');
        },
      }),
    );
    const outer = pipeline(
      defineModel({
        name: 'outer',
        infer: async (x: number, options?: InferOptions) => {
          annotate(options, 'where', 'outer');
          return inner.infer(x, options).catch(() => -1);
        },
      }),
    );
    expect(await outer.infer(1, { timeoutMs: 1000 })).toBe(-1);
    const starts = events.filter(([name]) => name === 'start').map(([, c]) => c.model);
    expect(starts).toEqual(['outer', 'inner']);
    const innerError = events.find(([name, c]) => name === 'error' && c.model === 'inner')?.[1];
    expect((innerError?.error as Error | undefined)?.message).toBe('inner failed');
    expect(innerError?.attributes).toEqual({ where: 'inner' });
    expect(events.find(([name, c]) => name === 'asyncEnd' && c.model === 'outer')?.[1].attributes).toEqual({ where: 'outer' });
  });

  it('keeps annotations of a layer that only tightens the budget on the traced call', async () => {
    const events = record();
    const inner = defineModel({
      name: 'inner',
      infer: async (x: number, options?: InferOptions) => {
        annotate(options, 'ballast.attempts', 2);
        return x;
      },
    });
    // A client-like layer: caps the budget, is not itself a traced pipeline.
    const capped: Model<number, number> = {
      name: 'capped',
      infer: (x, o) => withDeadline(capTimeout(o, 50), (scoped) => inner.infer(x, scoped)),
    };
    await pipeline(capped).infer(1, { timeoutMs: 1000 });
    expect(events.find(([name]) => name === 'asyncEnd')?.[1].attributes).toEqual({ 'ballast.attempts': 2 });
  });

  it('does no tracing work when nobody subscribes', async () => {
    const model = pipeline(defineModel({ name: 'quiet', infer: async (_x: number, options?: InferOptions) => options }));
    // Without subscribers and without a budget, the options pass through untouched.
    const options = { priority: 1 };
    expect(await model.infer(1, options)).toBe(options);
    expect(await model.infer(1)).toBeUndefined();
  });
});

describe('subscribe', () => {
  it('delivers typed payloads until unsubscribed', () => {
    const seen: string[] = [];
    const stop = subscribe('cache', (event) => seen.push(event.result));
    diagnostics.channel(CHANNEL_NAMES.cache).publish({ model: 'm', result: 'hit' });
    stop();
    diagnostics.channel(CHANNEL_NAMES.cache).publish({ model: 'm', result: 'miss' });
    expect(seen).toEqual(['hit']);
  });
});
