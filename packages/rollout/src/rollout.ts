import {
  BallastError,
  callModel,
  emit,
  type HealthReport,
  type InferOptions,
  isBallastError,
  type Model,
  now,
  toBallastError,
  withDeadline,
} from '@ballast/core';
import { type Comparator, outputComparator } from './comparator.js';
import { bucketOf, hashKey } from './hash.js';
import { isModel } from './registry.js';
import { p95Exceeds, SlidingWindow, type WindowTotals } from './sliding-window.js';
import type { DecisionRecord, RolloutRecord, RolloutStore } from './store.js';
import type { RolloutWindowMetrics, VersionRole } from './types.js';

/**
 * Where a drift score comes from: a function, or an object with a `score()` method, that returns
 * the latest score for a version (`undefined` when unknown). Scores are read when an analysis
 * window closes. A `@ballast/drift` `DriftMonitor` is not a source by itself (it watches one
 * stream and has no `score()`): read its latest result, e.g. the share of drifted features.
 *
 * @example
 * const monitor = new DriftMonitor({ reference }); // fed with the candidate's inputs
 * const drift: DriftSource = (role) => (role === 'candidate' ? monitor.lastResult?.share : undefined);
 */
export type DriftSource = ((role: VersionRole) => number | undefined) | { score(role: VersionRole): number | undefined };

/** One step of a canary ramp. */
export interface CanaryStep {
  /** Share of traffic on the candidate during the step, 0..1. */
  weight: number;
  /** How long the step lasts before the next one, ms (for the last step: the least time before promotion). */
  durationMs: number;
}

/** Canary: a share of traffic goes to the candidate, sticky per key. */
export interface CanaryStrategy<I = unknown> {
  type: 'canary';
  /** Fixed candidate share, 0..1 (when no `steps`). Default `0.1`. */
  weight?: number;
  /** A ramp: weights that take over from each other as time passes. Overrides `weight`. */
  steps?: readonly CanaryStep[];
  /**
   * The sticky key of a call: one key always lands on the same version for a given weight, and
   * raising the weight never moves a key back to the stable version. Default: the principal's id.
   * Calls without a key are assigned at random with the current weight.
   */
  key?: (input: I, options: InferOptions | undefined) => string | undefined;
}

/** Blue-green: all traffic on one version; switch to the candidate once it is healthy. */
export interface BlueGreenStrategy {
  type: 'blue-green';
  /** Switch by itself when the candidate's `health()` reports ready (checked every window). Default `true`. */
  autoSwitch?: boolean;
}

/** Shadow: the stable version serves; a sample of calls is mirrored to the candidate and compared. */
export interface ShadowStrategy<O = unknown> {
  type: 'shadow';
  /** Share of calls mirrored, 0..1. Default `1`. */
  sampleRate?: number;
  /** Most shadow calls in flight at once; calls beyond it are not mirrored. Default `4`. */
  maxConcurrency?: number;
  /** Budget of one shadow call, ms. Default `10000`. */
  timeoutMs?: number;
  /** Whether two outputs agree. Default: {@link outputComparator}() (numeric tolerance, top-class agreement). */
  comparator?: Comparator<O>;
}

/** How a rollout splits traffic. */
export type RolloutStrategy<I = unknown, O = unknown> = CanaryStrategy<I> | BlueGreenStrategy | ShadowStrategy<O>;

/** When a candidate is healthy, and what the rollout does about it. */
export interface AnalysisOptions {
  /** Length of one analysis window, ms. Default `60000`. */
  windowMs?: number;
  /** Sub-buckets of the sliding window. Default `10`. */
  buckets?: number;
  /** Calls (and, for shadow, comparisons) a window needs before it counts or can breach. Default `20`. */
  minRequests?: number;
  /** Consecutive healthy windows before an automatic promotion. Default `3`. */
  healthyWindows?: number;
  /** Promote by itself after `healthyWindows`. Default `true`. */
  autoPromote?: boolean;
  /** Roll back by itself, at once, when a limit is breached. Default `true`. */
  autoRollback?: boolean;
  /** Highest tolerated candidate error rate, 0..1. Default `0.05`. */
  maxErrorRate?: number;
  /** Highest tolerated candidate p95 latency, ms. Default: no latency limit. */
  maxP95Ms?: number;
  /** Highest tolerated candidate drift score (needs `drift`). Default: no drift limit. */
  maxDriftScore?: number;
  /** Highest tolerated shadow disagreement rate, 0..1. Default `0.05`. */
  maxDisagreementRate?: number;
  /** Where drift scores come from (e.g. a `@ballast/drift` monitor). */
  drift?: DriftSource;
  /** Whether a failure counts against a version. Default: everything except `CANCELLED` and `INVALID_INPUT`. */
  isError?: (error: unknown) => boolean;
}

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
  /** `canary`, `blue-green` or `shadow`. */
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

const HISTORY = 50;

function fail(message: string, details?: Record<string, unknown>): never {
  throw new BallastError('CONFIG', `rollout: ${message}`, details ? { details } : {});
}

function checkShare(value: unknown, path: string): void {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1))
    fail(`"${path}" must be a number in [0, 1], got ${String(value)}`, { path });
}

function checkPositive(value: unknown, path: string, integer = false): void {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    fail(`"${path}" must be a positive ${integer ? 'integer' : 'number'}, got ${String(value)}`, { path });
  }
}

/**
 * @internal Checks the reason of a manual decision (a rollout's promote/rollback and the admin
 * operations): a string of 1 to 500 characters, kept in the history and the event.
 */
export function checkReason(reason: unknown): asserts reason is string {
  if (typeof reason !== 'string' || reason.length === 0 || reason.length > 500) {
    throw new BallastError('INVALID_INPUT', 'rollout: "reason" must be a string of 1 to 500 characters', { details: { path: 'reason' } });
  }
}

function defaultIsError(error: unknown): boolean {
  return !(isBallastError(error) && (error.code === 'CANCELLED' || error.code === 'INVALID_INPUT'));
}

async function healthOf(model: Model): Promise<HealthReport> {
  if (typeof model.health !== 'function') return { ready: true, status: 'ready' };
  try {
    return await model.health();
  } catch (error) {
    return { ready: false, status: 'unavailable', message: error instanceof Error ? error.message : String(error) };
  }
}

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
export function rollout<I, O>(options: RolloutOptions<I, O>): Rollout<I, O> {
  if (typeof options !== 'object' || options === null) fail('expects an options object');
  const { stable, candidate, strategy, analysis = {}, store, closeVersions = false, random = Math.random, onDecision } = options;
  if (!isModel(stable)) fail('"stable" must be a Model with an infer() method', { path: 'stable' });
  if (!isModel(candidate)) fail('"candidate" must be a Model with an infer() method', { path: 'candidate' });
  if (typeof strategy !== 'object' || strategy === null) fail('"strategy" must be an object', { path: 'strategy' });
  const type = strategy.type;
  if (type !== 'canary' && type !== 'blue-green' && type !== 'shadow') {
    fail(`"strategy.type" must be 'canary', 'blue-green' or 'shadow', got ${String(type)}`, { path: 'strategy.type' });
  }
  if (typeof random !== 'function') fail('"random" must be a function', { path: 'random' });
  if (onDecision !== undefined && typeof onDecision !== 'function') fail('"onDecision" must be a function', { path: 'onDecision' });
  if (store !== undefined && (typeof store?.load !== 'function' || typeof store?.save !== 'function')) {
    fail('"store" must have load() and save() methods', { path: 'store' });
  }
  const name = options.name ?? stable.name;
  if (typeof name !== 'string' || name.length === 0) fail('"name" must be a non-empty string', { path: 'name' });

  const {
    windowMs = 60_000,
    buckets = 10,
    minRequests = 20,
    healthyWindows = 3,
    autoPromote = true,
    autoRollback = true,
    maxErrorRate = 0.05,
    maxP95Ms,
    maxDriftScore,
    maxDisagreementRate = 0.05,
    drift,
    isError = defaultIsError,
  } = analysis;
  checkPositive(windowMs, 'analysis.windowMs');
  checkPositive(buckets, 'analysis.buckets', true);
  checkPositive(minRequests, 'analysis.minRequests', true);
  checkPositive(healthyWindows, 'analysis.healthyWindows', true);
  checkShare(maxErrorRate, 'analysis.maxErrorRate');
  checkShare(maxDisagreementRate, 'analysis.maxDisagreementRate');
  if (maxP95Ms !== undefined) checkPositive(maxP95Ms, 'analysis.maxP95Ms');
  if (maxDriftScore !== undefined && (typeof maxDriftScore !== 'number' || Number.isNaN(maxDriftScore))) {
    fail('"analysis.maxDriftScore" must be a number', { path: 'analysis.maxDriftScore' });
  }
  if (drift !== undefined && typeof drift !== 'function' && typeof (drift as { score?: unknown })?.score !== 'function') {
    fail('"analysis.drift" must be a function or an object with a score() method', { path: 'analysis.drift' });
  }
  if (typeof isError !== 'function') fail('"analysis.isError" must be a function', { path: 'analysis.isError' });

  // Strategy settings, checked once.
  let fixedWeight = 0;
  let steps: readonly CanaryStep[] | undefined;
  let keyOf: (input: I, options: InferOptions | undefined) => string | undefined = (_input, callOptions) => callOptions?.principal?.id;
  let autoSwitch = true;
  let sampleRate = 1;
  let maxConcurrency = 4;
  let shadowTimeoutMs = 10_000;
  let comparator: Comparator<O> = outputComparator() as Comparator<O>;
  if (strategy.type === 'canary') {
    if (strategy.steps !== undefined) {
      if (!Array.isArray(strategy.steps) || strategy.steps.length === 0)
        fail('"strategy.steps" must be a non-empty array', { path: 'strategy.steps' });
      strategy.steps.forEach((step, i) => {
        checkShare(step?.weight, `strategy.steps[${i}].weight`);
        checkPositive(step?.durationMs, `strategy.steps[${i}].durationMs`);
      });
      steps = strategy.steps.map((step) => ({ weight: step.weight, durationMs: step.durationMs }));
    } else {
      fixedWeight = strategy.weight ?? 0.1;
      checkShare(fixedWeight, 'strategy.weight');
    }
    if (strategy.key !== undefined) {
      if (typeof strategy.key !== 'function') fail('"strategy.key" must be a function', { path: 'strategy.key' });
      keyOf = strategy.key;
    }
  } else if (strategy.type === 'blue-green') {
    autoSwitch = strategy.autoSwitch ?? true;
  } else {
    sampleRate = strategy.sampleRate ?? 1;
    checkShare(sampleRate, 'strategy.sampleRate');
    maxConcurrency = strategy.maxConcurrency ?? 4;
    checkPositive(maxConcurrency, 'strategy.maxConcurrency', true);
    shadowTimeoutMs = strategy.timeoutMs ?? 10_000;
    checkPositive(shadowTimeoutMs, 'strategy.timeoutMs');
    if (strategy.comparator !== undefined) {
      if (typeof strategy.comparator !== 'function') fail('"strategy.comparator" must be a function', { path: 'strategy.comparator' });
      comparator = strategy.comparator;
    }
  }

  const stableVersion = stable.version ?? stable.name;
  const candidateVersion = candidate.version ?? candidate.name;
  const seed = hashKey(name);
  const windows: Record<VersionRole, SlidingWindow> = {
    stable: new SlidingWindow(windowMs, buckets, maxP95Ms),
    candidate: new SlidingWindow(windowMs, buckets, maxP95Ms),
  };

  // Mutable state. Routing reads it synchronously at the start of each call, so a decision takes
  // effect for the next call while calls in flight finish where they started.
  let phase: RolloutRecord['phase'] = 'running';
  let stepIndex = 0;
  let stepStartedAt = now();
  let rampDone = steps === undefined;
  let switched = false;
  let healthy = 0;
  let nextWindowAt = now() + windowMs;
  let decisions: DecisionRecord[] = [];
  let restored = store === undefined;
  let storeError: string | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let checkingHealth = false;
  let saving: Promise<void> = Promise.resolve();
  const shadow = { inFlight: 0, started: 0, dropped: 0 };

  const weight = (): number => {
    if (phase === 'promoted') return 1;
    if (phase === 'rolled-back') return 0;
    if (type === 'canary') return steps ? (steps[stepIndex] as CanaryStep).weight : fixedWeight;
    if (type === 'blue-green') return switched ? 1 : 0;
    return 0;
  };

  const readDrift = (role: VersionRole): number | undefined => {
    if (drift === undefined) return undefined;
    try {
      const score = typeof drift === 'function' ? drift(role) : drift.score(role);
      return typeof score === 'number' && !Number.isNaN(score) ? score : undefined;
    } catch {
      // A failing drift source must not take the model down; it reads as "no score".
      return undefined;
    }
  };

  type Period = Record<VersionRole, WindowTotals>;
  const metricsAt = (at: number, period?: Period) => ({
    stable: windows.stable.snapshot(at, readDrift('stable'), false, period?.stable),
    candidate: windows.candidate.snapshot(at, readDrift('candidate'), type === 'shadow', period?.candidate),
  });

  const toRecord = (): RolloutRecord => ({
    stableVersion,
    candidateVersion,
    phase,
    stepIndex,
    switched,
    decisions: decisions.slice(),
    updatedAt: Date.now(),
  });

  const persist = (): Promise<void> => {
    if (store === undefined) return saving;
    const record = toRecord();
    saving = saving
      .then(() => store.save(name, record))
      .then(
        () => {
          storeError = undefined;
        },
        (error: unknown) => {
          storeError = error instanceof Error ? error.message : String(error);
        },
      );
    return saving;
  };

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
    else if (decision === 'switch') switched = true;
    const entry: DecisionRecord = { decision, reason, automatic, weight: weight(), at: Date.now(), ...(by === undefined ? {} : { by }) };
    decisions.push(entry);
    if (decisions.length > HISTORY) decisions = decisions.slice(-HISTORY);
    const back = decision === 'rollback';
    emit('rollout', {
      model: name,
      fromVersion: back ? candidateVersion : stableVersion,
      toVersion: back ? stableVersion : candidateVersion,
      decision,
      reason,
      automatic,
      weight: entry.weight,
      metrics: metricsAt(now(), period),
    });
    schedule();
    const saved = persist();
    if (onDecision !== undefined) {
      try {
        onDecision({ ...entry }, status());
      } catch {
        // The callback is the application's; the decision stands whatever it does.
      }
    }
    return saved;
  };

  const breachOf = (totals: WindowTotals): string | undefined => {
    if (totals.requests >= minRequests) {
      if (totals.errors / totals.requests > maxErrorRate) return 'error-rate';
      if (maxP95Ms !== undefined && p95Exceeds(totals)) return 'p95-latency';
    }
    if (type === 'shadow' && totals.compared >= minRequests && totals.disagreed / totals.compared > maxDisagreementRate)
      return 'disagreement';
    return undefined;
  };

  const checkBreach = (at: number): void => {
    if (phase !== 'running' || !autoRollback || closed) return;
    const reason = breachOf(windows.candidate.totals(at));
    if (reason !== undefined) void decide('rollback', reason, true);
  };

  const checkCandidateHealth = (): void => {
    if (type !== 'blue-green' || !autoSwitch || switched || phase !== 'running' || checkingHealth || closed) return;
    checkingHealth = true;
    void healthOf(candidate).then((report) => {
      checkingHealth = false;
      if (report.ready && !switched && phase === 'running' && !closed) void decide('switch', 'candidate-healthy', true);
    });
  };

  const onWindow = (): void => {
    if (phase !== 'running') return;
    checkCandidateHealth();
    const period: Period = { stable: windows.stable.takePeriod(), candidate: windows.candidate.takePeriod() };
    const totals = period.candidate;
    let reason = breachOf(totals);
    if (reason === undefined && maxDriftScore !== undefined) {
      const score = readDrift('candidate');
      if (score !== undefined && score > maxDriftScore) reason = 'drift';
    }
    if (reason !== undefined) {
      healthy = 0;
      if (autoRollback) void decide('rollback', reason, true, undefined, period);
      return;
    }
    // A window without enough traffic tells nothing: it neither counts nor resets the streak.
    if (totals.requests < minRequests || (type === 'shadow' && totals.compared < minRequests)) return;
    healthy++;
    if (autoPromote && healthy >= healthyWindows && rampDone && (type !== 'blue-green' || switched)) {
      void decide('promote', 'healthy-windows', true, undefined, period);
    }
  };

  const onStep = (at: number): void => {
    if (steps === undefined) return;
    if (stepIndex < steps.length - 1) {
      stepIndex++;
      stepStartedAt = at;
      void decide('step', 'ramp', true);
    } else {
      rampDone = true;
      if (autoPromote && healthy >= healthyWindows) void decide('promote', 'healthy-windows', true);
    }
  };

  const onTimer = (): void => {
    timer = undefined;
    const at = now();
    while (phase === 'running' && steps !== undefined && !rampDone) {
      const due = stepStartedAt + (steps[stepIndex] as CanaryStep).durationMs;
      if (at < due) break;
      onStep(due);
    }
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
    let due = nextWindowAt;
    if (steps !== undefined && !rampDone) due = Math.min(due, stepStartedAt + (steps[stepIndex] as CanaryStep).durationMs);
    timer = setTimeout(onTimer, Math.max(0, due - now()));
    // The analysis must never keep a process alive on its own.
    timer.unref();
  }

  const record = (role: VersionRole, started: number, failed: boolean): void => {
    const at = now();
    windows[role].record(at, at - started, failed);
    if (role === 'candidate') checkBreach(at);
  };

  const compareShadow = (primary: Promise<O>, shadowOutput: O): void => {
    primary.then(
      (stableOutput) => {
        let agreed: boolean;
        try {
          agreed = comparator(stableOutput, shadowOutput) === true;
        } catch {
          agreed = false;
        }
        const at = now();
        windows.candidate.compare(at, agreed);
        checkBreach(at);
      },
      // The stable call failed: there is nothing to compare against.
      () => undefined,
    );
  };

  const runShadow = (input: I, principal: InferOptions['principal'], primary: Promise<O>): void => {
    const started = now();
    let inner: Promise<O> | undefined;
    const release = (): void => {
      shadow.inFlight--;
    };
    const call = withDeadline({ timeoutMs: shadowTimeoutMs, ...(principal === undefined ? {} : { principal }) }, (scoped) => {
      inner = callModel(candidate, input, scoped);
      return inner;
    });
    // The slot is held until the candidate's own work settles, not just until the budget ends, so
    // a candidate that ignores cancellation still never runs more than `maxConcurrency` calls.
    if (inner === undefined) release();
    else inner.then(release, release);
    call.then(
      (output) => {
        record('candidate', started, false);
        compareShadow(primary, output);
      },
      (error: unknown) => record('candidate', started, isError(error)),
    );
  };

  const maybeShadow = (input: I, callOptions: InferOptions | undefined, primary: Promise<O>): void => {
    if (phase !== 'running' || closed) return;
    if (sampleRate < 1 && random() >= sampleRate) return;
    if (shadow.inFlight >= maxConcurrency) {
      shadow.dropped++;
      return;
    }
    shadow.inFlight++;
    shadow.started++;
    // setImmediate: the candidate's synchronous work (if any) runs after the caller's call returns,
    // so the mirror adds nothing to the caller's latency. The caller's signal is not passed: the
    // shadow call has its own budget and must not be cut short by a caller that got its answer.
    setImmediate(runShadow, input, callOptions?.principal, primary);
  };

  const route = (input: I, callOptions: InferOptions | undefined): VersionRole => {
    const share = weight();
    if (share <= 0) return 'stable';
    if (share >= 1) return 'candidate';
    const key = keyOf(input, callOptions);
    const position = typeof key === 'string' ? bucketOf(key, seed) : random();
    return position < share ? 'candidate' : 'stable';
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
    if (type === 'shadow' && role === 'stable') maybeShadow(input, callOptions, promise);
    return promise.then(
      (output) => {
        record(role, started, false);
        return output;
      },
      (error: unknown) => {
        record(role, started, isError(error));
        throw error;
      },
    );
  };

  const apply = (saved: RolloutRecord | undefined): void => {
    // A record about other versions belongs to an earlier rollout: start afresh.
    if (saved === undefined || saved.stableVersion !== stableVersion || saved.candidateVersion !== candidateVersion) return;
    phase = saved.phase;
    stepIndex = steps === undefined ? 0 : Math.min(Math.max(0, Math.floor(saved.stepIndex)), steps.length - 1);
    stepStartedAt = now();
    switched = saved.switched;
    decisions = saved.decisions.slice(-HISTORY);
  };

  const start = (): void => {
    restored = true;
    // Calls that waited for the store were not part of any window yet.
    windows.stable.takePeriod();
    windows.candidate.takePeriod();
    nextWindowAt = now() + windowMs;
    schedule();
    checkCandidateHealth();
  };

  const restoreFailed = (error: unknown): void => {
    storeError = error instanceof Error ? error.message : String(error);
    start();
  };

  let ready: Promise<void>;
  if (store === undefined) {
    ready = Promise.resolve();
    start();
  } else {
    let loaded: ReturnType<RolloutStore['load']>;
    try {
      loaded = store.load(name);
    } catch (error) {
      loaded = undefined;
      restoreFailed(error);
    }
    if (!restored) {
      if (loaded instanceof Promise) {
        ready = loaded.then((saved) => {
          apply(saved);
          start();
        }, restoreFailed);
      } else {
        apply(loaded);
        start();
        ready = Promise.resolve();
      }
    } else {
      ready = Promise.resolve();
    }
  }

  const status = (): RolloutStatus => {
    const report: RolloutStatus = {
      name,
      strategy: type,
      phase,
      stableVersion,
      candidateVersion,
      weight: weight(),
      healthyWindows: { count: healthy, required: healthyWindows },
      metrics: metricsAt(now()),
      decisions: decisions.map((d) => ({ ...d })),
      restored,
    };
    if (steps !== undefined) report.step = { index: stepIndex, count: steps.length, weight: (steps[stepIndex] as CanaryStep).weight };
    if (type === 'blue-green') report.switched = switched;
    if (type === 'shadow') report.shadow = { inFlight: shadow.inFlight, maxConcurrency, started: shadow.started, dropped: shadow.dropped };
    if (storeError !== undefined) report.storeError = storeError;
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
    else await saving;
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
      await saving;
      if (closeVersions) await Promise.all([stable.close?.(), candidate.close?.()]);
    },
  };
  return Object.freeze(model);
}
