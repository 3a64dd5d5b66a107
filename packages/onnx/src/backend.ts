import type { Worker } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import { createMainBackend } from './main-thread-backend.js';
import type { ProviderAttempt, ProviderName } from './providers.js';
import type { BatchInput, Feed, TensorSpec } from './tensors.js';
import { createWorkerBackend } from './worker-backend.js';

/*
 * A loaded model, on the calling thread (main-thread-backend.ts) or in worker threads
 * (worker-backend.ts, session-worker.ts, over wire.ts); both try providers by provider-attempts.ts.
 */

/** onnxruntime session options Ballast passes through (provider and threads are set by Ballast). */
export type SessionOptions = Omit<ort.InferenceSession.SessionOptions, 'executionProviders' | 'intraOpNumThreads'>;

/** A loaded model: one session on the calling thread, or one per worker thread. */
export interface Backend {
  readonly provider: ProviderName;
  readonly attempts: readonly ProviderAttempt[];
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** Runs one set of whole tensors (models without a batch dimension). The feeds' buffers may be transferred. */
  run(feeds: Feed[]): Promise<Feed[]>;
  /**
   * Runs one batch of rows: each input's rows are written once, straight into the buffer the
   * run reads (a fresh array on the calling thread, a worker's shared slot). Outputs keep the
   * batch dimension.
   */
  runBatch(inputs: readonly BatchInput[]): Promise<Feed[]>;
  /** Runs the feeds once on every session (main: once; pool: once per worker). */
  warmUp(feeds: () => Feed[]): Promise<void>;
  close(): Promise<void>;
  /** The worker threads now serving (empty on the calling thread). For diagnostics and tests. */
  readonly threads: readonly Worker[];
}

/** What {@link createBackend} needs. */
export interface BackendOptions {
  bytes: Uint8Array;
  providers: readonly ProviderName[];
  requireProvider: boolean | ProviderName;
  workers: number;
  /** Intra-op threads of each session; undefined lets onnxruntime choose. */
  threadsPerSession: number | undefined;
  sessionOptions: SessionOptions;
  modelName: string;
}

/** Loads a model with provider attempts, on the calling thread or in `workers` worker threads. */
export function createBackend(options: BackendOptions): Promise<Backend> {
  return options.workers > 0 ? createWorkerBackend(options) : createMainBackend(options);
}
