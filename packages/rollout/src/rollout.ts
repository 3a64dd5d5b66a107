import {
  BallastError,
  callModel,
  type HealthReport,
  type InferOptions,
  type Model,
  now,
  parseOptions,
  toBallastError,
} from '@ballast/core';
import { z } from 'zod';
import { Analysis, type AnalysisOptions, analysisOptionsSchema } from './analysis.js';
import { checkReason, functionOption } from './checks.js';
import { publishDecision } from './decision-event.js';
import { DecisionLog } from './decision-log.js';
import { healthOf } from './health.js';
import { isModel } from './registry.js';
import type { DecisionRecord, RolloutRecord, RolloutStore } from './store.js';
import { type RolloutStrategy, rolloutStrategySchema, STRATEGIES } from './strategies/index.js';
import type { StrategyContext, StrategyRuntime } from './strategy.js';
import type { RolloutWindowMetrics, VersionRole } from './types.js';
import { VersionWindow, type WindowTotals } from './version-window.js';

/** Options of {@link rollout}. */
export interface RolloutOptions<I, O> {
  /** Name of the rollout model (events, store key, admin). Default: the stable model's name. */
  name?: string;
  /** The version serving today. */
  stable: Model<I, O>;
  /** The version being rolled out. */
  candidate: Model<I, O>;
  /** How traffic is split. */
  strategy: RolloutStrategy<I, O>;
  /** Health limits and automatic decisions. */
  analysis?: AnalysisOptions;
  /** Where decisions are persisted so a restart keeps them. Default: none (in this object only). */
  store?: RolloutStore;
  /** Close both versions when the rollout is closed. Default `false` (the versions belong to the caller). */
  closeVersions?: boolean;
  /** Random source in [0, 1) for unkeyed assignment and shadow sampling. Default `Math.random`. */
  random?: () => number;
  /**
   * Called after every decision (automatic or manual), e.g. to move registry aliases on a
   * promotion. A throwing callback is ignored: it must not stop the rollout.
   */
  onDecision?: (decision: DecisionRecord, status: RolloutStatus) => void;
}

/** Options of a manual decision. */
export interface DecisionOptions {
  /** Why (kept in the history and the event). Default `manual`. */
  reason?: string;
  /** Who asked (a principal id), kept in the history. */
  by?: string;
}

/** A rollout's state, as `status()` and the admin handler report it. */
export interface RolloutStatus {
  /** Rollout name. */
  name: string;
  /** The strategy type: `canary`, `blue-green` or `shadow`. */
  strategy: RolloutStrategy['type'];
  /** `running` (under analysis), `promoted` (candidate serves all) or `rolled-back` (stable serves all). */
  phase: RolloutRecord['phase'];
  /** Stable version label. */
  stableVersion: string;
  /** Candidate version label. */
  candidateVersion: string;
  /** Candidate share of served traffic now, 0..1. */
  weight: number;
  /** Canary ramp position, when there is a ramp. */
  step?: { index: number; count: number; weight: number };
  /** Blue-green: whether traffic is on the candidate. */
  switched?: boolean;
  /** Consecutive healthy windows so far, and how many a promotion needs. */
  healthyWindows: { count: number; required: number };
  /** Shadow traffic counters. */
  shadow?: { inFlight: number; maxConcurrency: number; started: number; dropped: number };
  /** Per-version numbers over the current window. */
  metrics: { stable: RolloutWindowMetrics; candidate: RolloutWindowMetrics };
  /** Recent decisions, oldest first. */
  decisions: DecisionRecord[];
  /** Whether the persisted state has been loaded. */
  restored: boolean;
  /** The last store failure, if any (the rollout keeps serving from memory). */
  storeError?: string;
}

/** A rollout: a {@link Model} that routes between two versions, plus controls. */
export interface Rollout<I = unknown, O = unknown> extends Model<I, O> {
  /** Resolves once persisted decisions are loaded (calls made before wait for it). */
  readonly ready: Promise<void>;
  /** The current state. */
  status(): RolloutStatus;
  /** Sends all traffic to the candidate now; resolves once the decision is persisted. */
  promote(options?: DecisionOptions): Promise<RolloutStatus>;
  /** Sends all traffic to the stable version now; resolves once the decision is persisted. */
  rollback(options?: DecisionOptions): Promise<RolloutStatus>;
  /** Stops the analysis timer (and closes the versions with `closeVersions`). */
  close(): Promise<void>;
}

type Period = Record<VersionRole, WindowTotals>;

const modelOption = z.custom<Model>((value) => isModel(value), 'expected a Model with an infer() method');

/** @internal The schema of {@link RolloutOptions}: the strategy's and the analysis's own schemas are its sections. */
export const rolloutOptionsSchema = z
  .strictObject({
    name: z.string().min(1).optional(),
    stable: modelOption,
    candidate: modelOption,
    strategy: rolloutStrategySchema,
    analysis: analysisOptionsSchema.optional(),
    store: z
      .custom(
        (value) =>
          typeof (value as { load?: unknown } | null)?.load === 'function' && typeof (value as { save?: unknown }).save === 'function',
        'expected a store with load() and save() methods',
      )
      .optional(),
    closeVersions: z.boolean().optional(),
    random: functionOption.optional(),
    onDecision: functionOption.optional(),
  })
  // Without a name the rollout takes the stable model's.
  .refine((options) => options.name !== undefined || (typeof options.stable.name === 'string' && options.stable.name.length > 0), {
    message: 'must be a non-empty string (the stable model has no name)',
    path: ['name'],
  });

/**
 * Routes calls between a stable version and a candidate, watches both, and promotes or rolls back
 * by itself. The result is a `Model`, so it composes with `pipeline()` and the client middleware.
 *
 * - `canary`: a share of calls (fixed, or ramped over time) goes to the candidate, sticky per key.
 * - `blue-green`: all calls go to one version; traffic switches to the candidate once it reports
 *   healthy, and the stable version stays loaded for an instant switch back.
 * - `shadow`: the stable version answers every call; a sample is mirrored to the candidate, off the
 *   caller's path, with bounded concurrency, and the outputs are compared.
 *
 * The candidate is analysed over sliding windows (error rate, p95 latency, drift score, shadow
 * disagreement): a breach rolls back at once, `healthyWindows` healthy windows in a row promote.
 * Every decision is published on `ballast:rollout` with its reason and persisted in `store`.
 * In-flight calls always finish on the version they started on, so decisions fail no call.
 *
 * @example
 * const model = rollout({
 *   stable: v1,
 *   candidate: v2,
 *   strategy: { type: 'canary', steps: [{ weight: 0.05, durationMs: 60_000 }, { weight: 0.5, durationMs: 300_000 }] },
 *   analysis: { maxErrorRate: 0.02, maxP95Ms: 250 },
 *   store: jsonFileStore('./rollouts.json'),
 * });
 * await model.infer(input, { principal: { id: 'user-42' } }); // user-42 always sees the same version
 */
export function rollout<I, O>(given: RolloutOptions<I, O>): Rollout<I, O> {
  const options = parseOptions('rollout', rolloutOptionsSchema, given) as RolloutOptions<I, O>;
  const {
    stable,
    candidate,
    strategy,
    analysis: analysisOptions = {},
    store,
    closeVersions = false,
    random = Math.random,
    onDecision,
  } = options;
  const type = strategy.type;
  const name = options.name ?? stable.name;
  const analysis = new Analysis(analysisOptions ?? {});
  const { windowMs } = analysis;

  const stableVersion = stable.version ?? stable.name;
  const candidateVersion = candidate.version ?? candidate.name;
  const versions = { name, stableVersion, candidateVersion };
  const windows: Record<VersionRole, VersionWindow> = {
    stable: new VersionWindow(windowMs, analysis.buckets, analysis.maxP95Ms),
    candidate: new VersionWindow(windowMs, analysis.buckets, analysis.maxP95Ms),
  };
  const log = new DecisionLog(name, store);

  // Mutable state. Routing reads it synchronously at the start of each call, so a decision takes
  // effect for the next call while calls in flight finish where they started.
  let phase: RolloutRecord['phase'] = 'running';
  let healthy = 0;
  let nextWindowAt = now() + windowMs;
  let restored = store === undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;

  const running = (): boolean => phase === 'running' && !closed;

  const weight = (): number => {
    if (phase === 'promoted') return 1;
    if (phase === 'rolled-back') return 0;
    return traffic.weight();
  };

  const metricsAt = (at: number, period?: Period) => ({
    stable: windows.stable.snapshot(at, analysis.driftScore('stable'), false, period?.stable),
    candidate: windows.candidate.snapshot(at, analysis.driftScore('candidate'), traffic.compares === true, period?.candidate),
  });

  const toRecord = (): RolloutRecord => ({
    stableVersion,
    candidateVersion,
    phase,
    stepIndex: 0,
    switched: false,
    ...traffic.save?.(),
    decisions: log.snapshot(),
    updatedAt: Date.now(),
  });

  /** Takes a decision; `period` holds the window it was judged on, when a window closing took it. */
  const decide = (
    decision: DecisionRecord['decision'],
    reason: string,
    automatic: boolean,
    by?: string,
    period?: Period,
  ): Promise<void> => {
    if (decision === 'promote') phase = 'promoted';
    else if (decision === 'rollback') phase = 'rolled-back';
    const entry: DecisionRecord = { decision, reason, automatic, weight: weight(), at: Date.now(), ...(by === undefined ? {} : { by }) };
    log.add(entry);
    publishDecision(versions, entry, metricsAt(now(), period));
    schedule();
    const saved = log.persist(toRecord());
    if (onDecision !== undefined) {
      try {
        onDecision({ ...entry }, status());
      } catch {
        // The callback is the application's; the decision stands whatever it does.
      }
    }
    return saved;
  };

  const promoteIfDue = (period?: Period): void => {
    if (analysis.autoPromote && healthy >= analysis.healthyWindows && traffic.canPromote()) {
      void decide('promote', 'healthy-windows', true, undefined, period);
    }
  };

  const checkBreach = (at: number): void => {
    if (phase !== 'running' || !analysis.autoRollback || closed) return;
    const reason = analysis.breachOf(windows.candidate.totals(at), traffic.compares === true);
    if (reason !== undefined) void decide('rollback', reason, true);
  };

  const onWindow = (): void => {
    if (phase !== 'running') return;
    traffic.check?.();
    const period: Period = { stable: windows.stable.takePeriod(), candidate: windows.candidate.takePeriod() };
    const compares = traffic.compares === true;
    const reason = analysis.windowBreachOf(period.candidate, compares);
    if (reason !== undefined) {
      healthy = 0;
      if (analysis.autoRollback) void decide('rollback', reason, true, undefined, period);
      return;
    }
    // A window without enough traffic tells nothing: it neither counts nor resets the streak.
    if (!analysis.enough(period.candidate, compares)) return;
    healthy++;
    promoteIfDue(period);
  };

  const onTimer = (): void => {
    timer = undefined;
    const at = now();
    if (phase === 'running') traffic.tick?.(at);
    if (phase === 'running' && at >= nextWindowAt) {
      onWindow();
      nextWindowAt += windowMs * (Math.floor((at - nextWindowAt) / windowMs) + 1);
    }
    schedule();
  };

  function schedule(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (closed || phase !== 'running' || !restored) return;
    const strategyDue = traffic.dueAt?.();
    const due = strategyDue === undefined ? nextWindowAt : Math.min(nextWindowAt, strategyDue);
    timer = setTimeout(onTimer, Math.max(0, due - now()));
    // The analysis must never keep a process alive on its own.
    timer.unref();
  }

  const record = (role: VersionRole, started: number, failed: boolean): void => {
    const at = now();
    windows[role].record(at, at - started, failed);
    if (role === 'candidate') checkBreach(at);
  };

  const context: StrategyContext<I, O> = {
    name,
    stable,
    candidate,
    random,
    running,
    isError: analysis.isError,
    record,
    compare(agreed) {
      const at = now();
      windows.candidate.compare(at, agreed);
      checkBreach(at);
    },
    decide(decision, reason) {
      void decide(decision, reason, true);
    },
    promoteIfDue: () => promoteIfDue(),
  };
  // Checks the strategy's own options (CONFIG) before anything starts.
  const traffic: StrategyRuntime<I, O> = STRATEGIES[type](strategy as never, context);

  const route = (input: I, callOptions: InferOptions | undefined): VersionRole => {
    const share = weight();
    if (share <= 0) return 'stable';
    if (share >= 1) return 'candidate';
    if (traffic.pick !== undefined) return traffic.pick(input, callOptions, share);
    return random() < share ? 'candidate' : 'stable';
  };

  const infer = (input: I, callOptions?: InferOptions): Promise<O> => {
    if (!restored) return ready.then(() => infer(input, callOptions));
    if (closed) return Promise.reject(new BallastError('MODEL_UNAVAILABLE', `rollout ${name} is closed`));
    let role: VersionRole;
    try {
      role = route(input, callOptions);
    } catch (error) {
      // Only the application's `key` function can throw here.
      return Promise.reject(toBallastError(error, 'INTERNAL', `rollout ${name}: the key function failed`));
    }
    const started = now();
    const promise = callModel(role === 'candidate' ? candidate : stable, input, callOptions);
    traffic.started?.(role, input, callOptions, promise);
    return promise.then(
      (output) => {
        record(role, started, false);
        return output;
      },
      (error: unknown) => {
        record(role, started, analysis.isError(error));
        throw error;
      },
    );
  };

  const apply = (saved: RolloutRecord | undefined): void => {
    // A record about other versions belongs to an earlier rollout: start afresh.
    if (saved === undefined || saved.stableVersion !== stableVersion || saved.candidateVersion !== candidateVersion) return;
    phase = saved.phase;
    traffic.restore?.(saved);
    log.restore(saved.decisions);
  };

  const start = (): void => {
    restored = true;
    // Calls that waited for the store were not part of any window yet.
    windows.stable.takePeriod();
    windows.candidate.takePeriod();
    nextWindowAt = now() + windowMs;
    schedule();
    if (running()) traffic.check?.();
  };

  // Calls made before the persisted decisions are applied wait for them (see infer).
  const ready = log.load(apply, start);

  const status = (): RolloutStatus => {
    const report: RolloutStatus = {
      name,
      strategy: type,
      phase,
      stableVersion,
      candidateVersion,
      weight: weight(),
      healthyWindows: { count: healthy, required: analysis.healthyWindows },
      metrics: metricsAt(now()),
      decisions: log.list(),
      restored,
    };
    traffic.describe?.(report);
    if (log.storeError !== undefined) report.storeError = log.storeError;
    return report;
  };

  const manual = async (decision: 'promote' | 'rollback', decisionOptions: DecisionOptions = {}): Promise<RolloutStatus> => {
    const { reason = 'manual', by } = decisionOptions ?? {};
    checkReason(reason);
    if (by !== undefined && typeof by !== 'string') {
      throw new BallastError('INVALID_INPUT', 'rollout: "by" must be a string', { details: { path: 'by' } });
    }
    await ready;
    const target = decision === 'promote' ? 'promoted' : 'rolled-back';
    if (phase !== target) await decide(decision, reason, false, by);
    else await log.saving;
    return status();
  };

  const model: Rollout<I, O> = {
    name,
    version: `${stableVersion}->${candidateVersion}`,
    kind: stable.kind ?? 'internal',
    ready,
    infer,
    status,
    promote: (decisionOptions) => manual('promote', decisionOptions),
    rollback: (decisionOptions) => manual('rollback', decisionOptions),
    async health(): Promise<HealthReport> {
      const share = weight();
      if (share <= 0) return healthOf(stable);
      if (share >= 1) return healthOf(candidate);
      const [a, b] = await Promise.all([healthOf(stable), healthOf(candidate)]);
      const ready = a.ready && b.ready;
      return {
        ready: a.ready || b.ready,
        status: ready ? 'ready' : a.ready || b.ready ? 'degraded' : 'unavailable',
        details: { stable: a, candidate: b },
      };
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await log.saving;
      if (closeVersions) await Promise.all([stable.close?.(), candidate.close?.()]);
    },
  };
  return Object.freeze(model);
}
