import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const replicaScript = fileURLToPath(new URL('./limiter-replica.ts', import.meta.url));

/** A replica process (limiter-replica.ts: limits and breakers) driven over IPC. */
export interface LimiterReplica {
  readonly process: ChildProcess;
  /** Sends one command and resolves with its answer (rejects when the replica reports an error). */
  ask<T>(message: Record<string, unknown>): Promise<T>;
}

/** Starts a replica: its own node process and Redis connection to `url`. */
export async function startLimiterReplica(url: string): Promise<LimiterReplica> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', replicaScript], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, REDIS_URL: url },
  });
  let next = 0;
  const waiting = new Map<number, (value: unknown) => void>();
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`replica exited with ${code}`)));
    child.on('message', (message: { ready?: boolean; id?: number }) => {
      if (message.ready) resolve();
      else if (message.id !== undefined) waiting.get(message.id)?.(message);
    });
  });
  return {
    process: child,
    ask<T>(message: Record<string, unknown>) {
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        waiting.set(id, (value) => {
          waiting.delete(id);
          const answer = value as { error?: string };
          if (answer.error !== undefined) reject(new Error(answer.error));
          else resolve(value as T);
        });
        child.send({ ...message, id });
      });
    },
  };
}
