/*
 * Starts a real redis-server for tests: on a free 127.0.0.1 port, with no persistence, stopped by
 * the returned handle. Tests that need Redis call `redisOrSkip()`: when the binary is missing they
 * are skipped with a reason locally, and fail in CI (`CI` set), where `.ci/run` installs it.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running redis-server started by {@link startRedis}. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly process: ChildProcess;
  /** Stops it for good (SIGKILL when it does not exit within a second). */
  stop(): Promise<void>;
  /** SIGKILL now: a crash. `restart()` starts it again on the same port (empty: no persistence). */
  kill(): Promise<void>;
  /** Starts it again on the same port after `kill()` or `stop()`. */
  restart(): Promise<void>;
  /** SIGSTOP: Redis holds every connection and answers nothing until `resume()`. */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
}

/** The redis-server binary on PATH, or undefined when it is not installed. */
export function redisBinary(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether Redis tests can run here. Use as `describe.skipIf(!redisAvailable)`. In CI a missing
 * binary is an error, not a skip, so a broken install never passes silently.
 */
export const redisAvailable: boolean = (() => {
  const found = redisBinary() !== undefined;
  if (!found && process.env.CI) {
    throw new Error('redis-server is not installed, and CI must run the Redis tests (apt-get install redis-server)');
  }
  if (!found) console.warn('redis-server not found: Redis tests are skipped (apt-get install redis-server)');
  return found;
})();

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => {
        socket.write('PING\r\n');
      });
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('+PONG'));
      });
      socket.once('error', () => {
        socket.destroy();
        resolve(false);
      });
      socket.connect(port, '127.0.0.1');
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`redis-server did not answer on port ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function spawnRedis(port: number, extra: string[] = []): ChildProcess {
  const binary = redisBinary();
  if (!binary) throw new Error('redis-server is not installed');
  return spawn(
    binary,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--protected-mode',
      'no',
      '--loglevel',
      'warning',
      ...extra,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

/** Options of {@link startRedis}. */
export interface StartRedisOptions {
  /**
   * Run as a one-node Redis Cluster holding every slot: commands and scripts whose keys are in
   * different slots fail with CROSSSLOT, as on a real cluster, while a plain client still reaches
   * every key (no MOVED redirects).
   */
  cluster?: boolean;
}

/** Sends one inline command and returns the raw reply. */
async function inline(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString());
    });
    socket.once('error', reject);
    socket.connect(port, '127.0.0.1');
  });
}

async function clusterReady(port: number): Promise<void> {
  const reply = await inline(port, 'CLUSTER ADDSLOTSRANGE 0 16383');
  if (!reply.startsWith('+OK')) throw new Error(`CLUSTER ADDSLOTSRANGE failed: ${reply}`);
  const until = Date.now() + 5000;
  while (!(await inline(port, 'CLUSTER INFO')).includes('cluster_state:ok')) {
    if (Date.now() > until) throw new Error('the one-node cluster did not reach cluster_state:ok');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function exited(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
}

/**
 * Starts redis-server on a free 127.0.0.1 port and waits until it answers PING.
 *
 * @example
 * const redis = await startRedis();
 * try { ... redis.url ... } finally { await redis.stop(); }
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const configDirectory = options.cluster ? mkdtempSync(join(tmpdir(), 'ballast-redis-')) : undefined;
  const extra =
    configDirectory === undefined ? [] : ['--cluster-enabled', 'yes', '--cluster-config-file', join(configDirectory, 'nodes.conf')];
  let child = spawnRedis(port, extra);
  await waitForPort(port, child);
  if (options.cluster) await clusterReady(port);
  const handle: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get process() {
      return child;
    },
    async stop() {
      child.kill('SIGCONT');
      await exited(child, 'SIGTERM', 1000);
      if (configDirectory !== undefined) rmSync(configDirectory, { recursive: true, force: true });
    },
    async kill() {
      child.kill('SIGCONT');
      await exited(child, 'SIGKILL', 1000);
    },
    async restart() {
      await exited(child, 'SIGKILL', 1000);
      child = spawnRedis(port, extra);
      await waitForPort(port, child);
    },
    pause() {
      child.kill('SIGSTOP');
    },
    resume() {
      child.kill('SIGCONT');
    },
  };
  return handle;
}
