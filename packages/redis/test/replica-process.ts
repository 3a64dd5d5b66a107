import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const tsxCli = createRequire(import.meta.url).resolve('tsx/cli');

/** A replica process (key-replica.ts) driven over stdin/stdout. */
export interface Replica {
  /** Sends one command and resolves with its result (rejects with the replica's error). */
  send<T = Record<string, unknown>>(command: Record<string, unknown>): Promise<T>;
  /** Asks it to close its connections and exit; kills it if it does not within 2 s. */
  stop(): Promise<void>;
  readonly process: ChildProcess;
}

/** Starts a replica: its own node process, Redis client, key store and api-keys verifier. */
export async function startReplica(url: string, staleForMs: number, cacheTtlMs: number): Promise<Replica> {
  const child = spawn(
    process.execPath,
    [
      tsxCli,
      '--conditions=source',
      fileURLToPath(new URL('./key-replica.ts', import.meta.url)),
      url,
      String(staleForMs),
      String(cacheTtlMs),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const waiting = new Map<number, { resolve: (value: never) => void; reject: (error: Error) => void }>();
  let seq = 0;
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`replica exited with ${code} before it was ready`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const message = JSON.parse(line) as { ready?: boolean; seq?: number; result?: never; error?: string; message?: string };
      if (message.ready) return resolve();
      const entry = waiting.get(message.seq ?? -1);
      if (entry === undefined) return;
      waiting.delete(message.seq ?? -1);
      if (message.error !== undefined) entry.reject(Object.assign(new Error(message.message), { code: message.error }));
      else entry.resolve(message.result as never);
    });
  });
  await ready;
  return {
    process: child,
    send<T>(command: Record<string, unknown>) {
      const id = ++seq;
      return new Promise<T>((resolve, reject) => {
        waiting.set(id, { resolve: resolve as (value: never) => void, reject });
        child.stdin?.write(`${JSON.stringify({ ...command, seq: id })}\n`);
      });
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.stdin?.write(`${JSON.stringify({ op: 'exit', seq: ++seq })}\n`);
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    },
  };
}
