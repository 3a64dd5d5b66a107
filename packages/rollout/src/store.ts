import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BallastError } from '@ballast/core';

/** One decision as kept in a rollout's history. */
export interface DecisionRecord {
  /** `step`, `switch`, `promote` or `rollback`. */
  decision: 'promote' | 'rollback' | 'step' | 'switch';
  /** Why it was taken (`healthy-windows`, `error-rate`, `p95-latency`, `drift`, `disagreement`, `manual`, `ramp`, `candidate-healthy`). */
  reason: string;
  /** Whether the rollout decided by itself. */
  automatic: boolean;
  /** Candidate traffic share after the decision. */
  weight: number;
  /** Wall-clock time of the decision, ms since the epoch. */
  at: number;
  /** Who asked, for manual decisions (a principal id). */
  by?: string;
}

/** What a rollout persists: enough to come back in the same state after a restart. */
export interface RolloutRecord {
  /** Version label of the stable model the record is about. */
  stableVersion: string;
  /** Version label of the candidate the record is about. */
  candidateVersion: string;
  /** `running` (under analysis), `promoted` (candidate serves all) or `rolled-back` (stable serves all). */
  phase: 'running' | 'promoted' | 'rolled-back';
  /** Canary: index of the current ramp step. */
  stepIndex: number;
  /** Blue-green: whether traffic has been switched to the candidate. */
  switched: boolean;
  /** Recent decisions, oldest first. */
  decisions: DecisionRecord[];
  /** Wall-clock time of the last change, ms since the epoch. */
  updatedAt: number;
}

/**
 * Where rollout decisions are kept so a restart keeps them. `load` and `save` may be synchronous
 * or return promises. Keys are rollout names.
 */
export interface RolloutStore {
  /** The record saved under `key`, or `undefined`. */
  load(key: string): RolloutRecord | undefined | Promise<RolloutRecord | undefined>;
  /** Saves `record` under `key`, replacing what was there. */
  save(key: string, record: RolloutRecord): void | Promise<void>;
}

/**
 * A store in process memory. Share one instance between rollouts to survive re-creating a
 * rollout within the process (tests, hot reloads); use {@link jsonFileStore} across restarts.
 *
 * @example
 * const store = memoryStore();
 * const model = rollout({ stable, candidate, strategy: { type: 'canary', weight: 0.1 }, store });
 */
export function memoryStore(): RolloutStore {
  const records = new Map<string, RolloutRecord>();
  return {
    load: (key) => {
      const record = records.get(key);
      return record === undefined ? undefined : structuredClone(record);
    },
    save: (key, record) => {
      records.set(key, structuredClone(record));
    },
  };
}

function isRecord(value: unknown): value is RolloutRecord {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.stableVersion === 'string' &&
    typeof r.candidateVersion === 'string' &&
    (r.phase === 'running' || r.phase === 'promoted' || r.phase === 'rolled-back') &&
    typeof r.stepIndex === 'number' &&
    typeof r.switched === 'boolean' &&
    Array.isArray(r.decisions)
  );
}

/**
 * A store in one JSON file (`{ "<rollout name>": record }`). Writes are serialised and atomic
 * (written to a temporary file, then renamed), so a crash never leaves half a file. A missing
 * file reads as empty; a file that is not valid JSON fails with `CONFIG`.
 *
 * @example
 * const store = jsonFileStore('/var/lib/my-service/rollouts.json');
 * const model = rollout({ stable, candidate, strategy: { type: 'blue-green' }, store });
 */
export function jsonFileStore(path: string): RolloutStore {
  if (typeof path !== 'string' || path.length === 0) {
    throw new BallastError('CONFIG', 'jsonFileStore: "path" must be a non-empty string');
  }
  let queue: Promise<unknown> = Promise.resolve();
  const readAll = async (): Promise<Record<string, unknown>> => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new BallastError('CONFIG', `jsonFileStore: cannot read ${path}`, { cause: error });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new BallastError('CONFIG', `jsonFileStore: ${path} is not valid JSON`, { cause: error });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new BallastError('CONFIG', `jsonFileStore: ${path} must hold a JSON object`);
    }
    return parsed as Record<string, unknown>;
  };
  // Every operation runs after the previous one so a load never sees half of a save's effect.
  const serial = <T>(task: () => Promise<T>): Promise<T> => {
    const run = queue.then(task, task);
    queue = run.catch(() => undefined);
    return run;
  };
  return {
    load: (key) =>
      serial(async () => {
        const record = (await readAll())[key];
        return isRecord(record) ? record : undefined;
      }),
    save: (key, record) =>
      serial(async () => {
        const all = await readAll();
        all[key] = record;
        await mkdir(dirname(path), { recursive: true });
        const temporary = `${path}.${randomUUID()}.tmp`;
        await writeFile(temporary, `${JSON.stringify(all, null, 2)}\n`, 'utf8');
        await rename(temporary, path);
      }),
  };
}
