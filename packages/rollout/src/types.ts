import type { EventPayloads } from '@ballast/core';

/** Payload of the `ballast:rollout` channel (defined in `@ballast/core`). */
export type RolloutEvent = EventPayloads['rollout'];

/** One version's numbers over an analysis window, as reported in events and status. */
export type RolloutWindowMetrics = NonNullable<RolloutEvent['metrics']['candidate']>;

/** Which side of a rollout a version is on. */
export type VersionRole = 'stable' | 'candidate';
