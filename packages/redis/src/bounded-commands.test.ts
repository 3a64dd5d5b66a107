import { describe, expect, it } from 'vitest';
import { BoundedCommands, CommandTimeout } from './bounded-commands.js';

const never = () => new Promise<never>(() => {});

describe('BoundedCommands', () => {
  it('ends each command at its own budget, the shorter first, whichever was sent first', async () => {
    const settled: string[] = [];
    const commands = new BoundedCommands('test', (op, outcome, startedAt) => {
      settled.push(`${op}:${outcome}`);
      expect(performance.now() - startedAt).toBeGreaterThanOrEqual(op === 'short' ? 19 : 199);
    });
    const started = performance.now();
    const long = commands.run('long', 200, 'command', never);
    const short = commands.run('short', 20, 'caller', never);
    const shortError = await short.catch((error: unknown) => error);
    const shortAt = performance.now() - started;
    expect(shortError).toBeInstanceOf(CommandTimeout);
    expect(shortError).toMatchObject({ code: 'TIMEOUT', limitedBy: 'caller', op: 'short' });
    // The later-armed, earlier end re-armed the one timer: the short command did not wait for the long one.
    expect(shortAt).toBeGreaterThanOrEqual(19);
    expect(shortAt).toBeLessThan(150);
    await expect(long).rejects.toMatchObject({ code: 'TIMEOUT', limitedBy: 'command' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(199);
    expect(settled).toEqual(['short:timeout', 'long:timeout']);
    expect(commands.inFlight).toBe(0);
  });

  it('settles with the answer (mapped), the failure as the store words it, or a cancellation', async () => {
    const commands = new BoundedCommands('test', undefined, (op, error) => new Error(`${op} failed: ${(error as Error).message}`));
    await expect(
      commands.run(
        'get',
        1000,
        'command',
        async () => 2,
        (n) => n * 21,
      ),
    ).resolves.toBe(42);
    await expect(
      commands.run('get', 1000, 'command', async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('get failed: boom');
    const controller = new AbortController();
    const pending = commands.run('get', 1000, 'command', never, undefined, controller.signal);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(commands.inFlight).toBe(0);
    commands.close();
  });

  it('holds a command on its own limit back after a stall of this process, for an answer sent after the stall', async () => {
    const commands = new BoundedCommands('test');
    let answer!: (value: string) => void;
    const reading = commands.run('get', 20, 'command', () => new Promise<string>((resolve) => (answer = resolve)));
    const until = performance.now() + 150;
    while (performance.now() < until); // the process stalls past the budget (and past STALL_MS over it)
    // The answer comes only after the stall (a command queued during it is written after it).
    setTimeout(() => answer('value'), 2);
    await expect(reading).resolves.toBe('value');
    commands.close();
  });

  it('still ends a hung command after a stall, once held back for at most STALL_MS', async () => {
    const commands = new BoundedCommands('test');
    const hung = commands.run('get', 20, 'command', never);
    const caller = commands.run('get', 20, 'caller', never);
    const order: string[] = [];
    hung.catch(() => order.push('hung'));
    caller.catch(() => order.push('caller'));
    const until = performance.now() + 150;
    while (performance.now() < until);
    const resumed = performance.now();
    await expect(hung).rejects.toMatchObject({ code: 'TIMEOUT', limitedBy: 'command' });
    const hungAt = performance.now() - resumed;
    await expect(caller).rejects.toMatchObject({ code: 'TIMEOUT', limitedBy: 'caller' });
    // The caller's time is up either way: a command on the caller's limit is not held back.
    expect(order).toEqual(['caller', 'hung']);
    expect(hungAt).toBeGreaterThanOrEqual(45);
    expect(hungAt).toBeLessThan(1000);
    expect(commands.inFlight).toBe(0);
  });

  it('drops an answer that comes after the budget ended', async () => {
    const commands = new BoundedCommands('test');
    let answer!: (value: string) => void;
    const late = commands.run('get', 10, 'command', () => new Promise<string>((resolve) => (answer = resolve)));
    await expect(late).rejects.toBeInstanceOf(CommandTimeout);
    answer('too late');
    await new Promise((resolve) => setImmediate(resolve));
    await expect(late).rejects.toBeInstanceOf(CommandTimeout);
  });
});
