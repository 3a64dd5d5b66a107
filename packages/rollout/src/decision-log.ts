import type { DecisionRecord, RolloutRecord, RolloutStore } from './store.js';

/** Decisions kept in memory, the store and status. */
const HISTORY = 50;

/**
 * A rollout's recent decisions and their persistence: saves are chained so records reach the
 * store in decision order, and a store failure is kept (the rollout serves on from memory).
 */
export class DecisionLog {
  private decisions: DecisionRecord[] = [];
  /** The last store failure, cleared by the next successful save. */
  storeError: string | undefined;
  /** Settles once every save asked for so far has finished (successfully or not). */
  saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly name: string,
    private readonly store: RolloutStore | undefined,
  ) {}

  /** Adds a decision, keeping the newest {@link HISTORY}. */
  add(entry: DecisionRecord): void {
    this.decisions.push(entry);
    if (this.decisions.length > HISTORY) this.decisions = this.decisions.slice(-HISTORY);
  }

  /** Replaces the history with a restored one. */
  restore(decisions: readonly DecisionRecord[]): void {
    this.decisions = decisions.slice(-HISTORY);
  }

  /** Copies of the decisions, oldest first. */
  list(): DecisionRecord[] {
    return this.decisions.map((d) => ({ ...d }));
  }

  /** The history as persisted (the entries themselves, in a new array). */
  snapshot(): DecisionRecord[] {
    return this.decisions.slice();
  }

  /** Records a store failure. */
  failed(error: unknown): void {
    this.storeError = error instanceof Error ? error.message : String(error);
  }

  /**
   * Loads the persisted record, hands it to `apply` (`undefined` when there is none) and then
   * calls `start`; synchronously when there is no store or it answers synchronously. A store that
   * fails to load is recorded in `storeError` and the rollout starts afresh from memory.
   */
  load(apply: (record: RolloutRecord | undefined) => void, start: () => void): Promise<void> {
    const store = this.store;
    if (store === undefined) {
      start();
      return Promise.resolve();
    }
    const failed = (error: unknown): void => {
      this.failed(error);
      start();
    };
    let loaded: ReturnType<RolloutStore['load']>;
    try {
      loaded = store.load(this.name);
    } catch (error) {
      failed(error);
      return Promise.resolve();
    }
    if (loaded instanceof Promise) {
      return loaded.then((record) => {
        apply(record);
        start();
      }, failed);
    }
    apply(loaded);
    start();
    return Promise.resolve();
  }

  /** Saves `record` after every earlier save; resolves once it is saved or failed. */
  persist(record: RolloutRecord): Promise<void> {
    const store = this.store;
    if (store === undefined) return this.saving;
    this.saving = this.saving
      .then(() => store.save(this.name, record))
      .then(
        () => {
          this.storeError = undefined;
        },
        (error: unknown) => this.failed(error),
      );
    return this.saving;
  }
}
