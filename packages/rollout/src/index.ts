/** @packageDocumentation Model versions, canary, blue-green, shadow traffic and automatic rollback */
export type { AdminAuthorize, AdminResponse, RolloutAdmin, RolloutAdminOptions } from './admin.js';
export { rolloutAdmin } from './admin.js';
export type { AnalysisOptions, DriftSource } from './analysis.js';
export type { Comparator, OutputComparatorOptions } from './comparator.js';
export { outputComparator } from './comparator.js';
export { bucketOf, hashKey } from './hash.js';
export type { ModelRegistry, VersionInfo, VersionSource, VersionState } from './registry.js';
export { createRegistry } from './registry.js';
export type { DecisionOptions, Rollout, RolloutOptions, RolloutStatus } from './rollout.js';
export { rollout } from './rollout.js';
export type { DecisionRecord, RolloutRecord, RolloutStore } from './store.js';
export { jsonFileStore, memoryStore } from './store.js';
export type { BlueGreenStrategy } from './strategies/blue-green.js';
export type { CanaryStep, CanaryStrategy } from './strategies/canary.js';
export type { RolloutStrategy } from './strategies/index.js';
export type { ShadowStrategy } from './strategies/shadow.js';
export type { RolloutEvent, RolloutWindowMetrics, VersionRole } from './types.js';
