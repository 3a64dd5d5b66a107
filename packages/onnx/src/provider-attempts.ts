import { BallastError } from '@ballast/core';
import * as ort from 'onnxruntime-node';
import type { BackendOptions } from './backend.js';
import { type ProviderAttempt, type ProviderName, translateProviderError } from './providers.js';

/*
 * Provider fallback: each execution provider tried in order, every attempt recorded with a
 * translated reason, for the calling thread's backend and the worker backend alike.
 */

/** The session options of one attempt: Ballast's provider and threads over the caller's options. */
export function sessionOptionsFor(options: BackendOptions, provider: ProviderName): ort.InferenceSession.SessionOptions {
  return {
    // Failed provider attempts are reported by Ballast, translated; onnxruntime's own error log
    // for them would only repeat the raw message on stderr.
    logSeverityLevel: provider === 'cpu' ? 2 : 4,
    ...options.sessionOptions,
    executionProviders: [provider],
    ...(options.threadsPerSession === undefined ? {} : { intraOpNumThreads: options.threadsPerSession }),
  };
}

/*
 * A provider library that fails to load is reported by onnxruntime's process-wide logger (not the
 * session's, which `logSeverityLevel` governs) as `[E:onnxruntime…]` lines on stderr, even when
 * the CPU fallback then serves; the message is kept in the attempt's reason instead. That logger
 * takes its level from `env.logLevel` once, when the runtime starts (the first session created),
 * so Ballast raises it to `fatal` while it creates sessions, unless the application chose a level
 * other than the default `warning`. Sessions keep logging at their own `logSeverityLevel`
 * (warning for the one that serves; see sessionOptionsFor). A runtime started before, at another
 * level, keeps that level.
 */
const DEFAULT_LOG_LEVEL = 'warning';

/** Runs `attempts` with onnxruntime's process-wide log raised to `fatal` (see above). */
export async function quietly<T>(attempts: () => Promise<T>): Promise<T> {
  const previous = ort.env.logLevel;
  if (previous !== undefined && previous !== DEFAULT_LOG_LEVEL) return attempts();
  ort.env.logLevel = 'fatal';
  try {
    return await attempts();
  } finally {
    ort.env.logLevel = previous;
  }
}

/**
 * Tries each provider in order with `create`; records every attempt. CPU failing means the model
 * itself does not load (CONFIG); `requireProvider` turns a fallback into MODEL_UNAVAILABLE.
 */
export async function attemptProviders<T>(
  options: BackendOptions,
  create: (provider: ProviderName) => Promise<T>,
): Promise<{ value: T; provider: ProviderName; attempts: ProviderAttempt[] }> {
  const attempts: ProviderAttempt[] = [];
  const required = options.requireProvider === true ? options.providers[0] : options.requireProvider || undefined;
  if (required !== undefined && !options.providers.includes(required)) {
    throw new BallastError('CONFIG', `requireProvider "${required}" is not in providers [${options.providers.join(', ')}]`);
  }
  let lastError: unknown;
  for (const provider of options.providers) {
    try {
      const value = await create(provider);
      attempts.push({ provider, ok: true });
      if (required !== undefined && provider !== required) {
        await (value as { close?: () => Promise<void> }).close?.();
        break;
      }
      return { value, provider, attempts };
    } catch (error) {
      lastError = error;
      const message = error instanceof Error ? error.message : String(error);
      attempts.push({ provider, ok: false, reason: provider === 'cpu' ? message : translateProviderError(provider, message) });
      if (required !== undefined && provider === required) break;
    }
  }
  const summary = attempts.map((a) => `${a.provider}: ${a.ok ? 'loaded' : a.reason}`).join('; ');
  if (required !== undefined) {
    throw new BallastError(
      'MODEL_UNAVAILABLE',
      `model "${options.modelName}" requires the ${required} provider, which did not load. ${summary}`,
      {
        retryable: false,
        cause: lastError,
        details: { attempts, required },
      },
    );
  }
  const cpuFailed = attempts.some((a) => a.provider === 'cpu' && !a.ok);
  throw new BallastError(
    cpuFailed ? 'CONFIG' : 'MODEL_UNAVAILABLE',
    `model "${options.modelName}" did not load with any provider. ${summary}`,
    { retryable: false, cause: lastError, details: { attempts } },
  );
}
