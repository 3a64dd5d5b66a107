import { emit } from '@ballast/core';
import type { DecisionRecord } from './store.js';
import type { RolloutEvent } from './types.js';

/** The versions a rollout moves between. */
export interface RolloutVersions {
  /** Rollout name (the event's `model`). */
  name: string;
  stableVersion: string;
  candidateVersion: string;
}

/**
 * Publishes a decision on `ballast:rollout`: a rollback moves from the candidate to the stable
 * version, every other decision the other way. `metrics` are the windows the decision was judged on.
 */
export function publishDecision(versions: RolloutVersions, entry: DecisionRecord, metrics: RolloutEvent['metrics']): void {
  const back = entry.decision === 'rollback';
  emit('rollout', {
    model: versions.name,
    fromVersion: back ? versions.candidateVersion : versions.stableVersion,
    toVersion: back ? versions.stableVersion : versions.candidateVersion,
    decision: entry.decision,
    reason: entry.reason,
    automatic: entry.automatic,
    weight: entry.weight,
    metrics,
  });
}
