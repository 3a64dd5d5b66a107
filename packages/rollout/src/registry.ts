import { BallastError, type Model } from '@ballast/core';

/** Load state of a registered version. */
export type VersionState = 'registered' | 'loading' | 'ready' | 'failed' | 'closed';

/** A version as {@link ModelRegistry.versions} reports it. */
export interface VersionInfo {
  /** Model name. */
  name: string;
  /** Version label. */
  version: string;
  /** Load state. */
  state: VersionState;
  /** Aliases pointing at this version (`stable`, `candidate`, ...). */
  aliases: string[];
  /** Why loading failed, when `state` is `failed`. */
  error?: string;
}

/** A model, or a function that loads one (called once, by {@link ModelRegistry.load}). */
export type VersionSource<I, O> = Model<I, O> | (() => Model<I, O> | Promise<Model<I, O>>);

/** Versions per model name, with load state and aliases. */
export interface ModelRegistry {
  /** Adds a version. A ready model is `ready` at once; a loader waits for {@link load}. */
  register<I, O>(name: string, version: string, source: VersionSource<I, O>): void;
  /** Loads a version (once; concurrent calls share the load). Fails with `MODEL_UNAVAILABLE`. */
  load<I = unknown, O = unknown>(name: string, versionOrAlias: string): Promise<Model<I, O>>;
  /** The ready model of a version or alias. Fails with `NOT_FOUND` or `MODEL_UNAVAILABLE`. */
  get<I = unknown, O = unknown>(name: string, versionOrAlias: string): Model<I, O>;
  /** Points `alias` at a registered version (moving it if it pointed elsewhere). */
  alias(name: string, alias: string, version: string): void;
  /** The version label a version or alias stands for. Fails with `NOT_FOUND`. */
  resolve(name: string, versionOrAlias: string): string;
  /** Whether a version or alias is loaded and ready (`false` when unknown). */
  isReady(name: string, versionOrAlias: string): boolean;
  /** Every version, or those of one model name. */
  versions(name?: string): VersionInfo[];
  /** Closes a version (its `close()`), which then can no longer be fetched. Refused while an alias points at it. */
  close(name: string, version: string): Promise<void>;
}

interface Entry {
  version: string;
  state: VersionState;
  model?: Model<unknown, unknown>;
  loader?: () => Model<unknown, unknown> | Promise<Model<unknown, unknown>>;
  loading?: Promise<Model<unknown, unknown>>;
  error?: string;
}

interface Family {
  versions: Map<string, Entry>;
  aliases: Map<string, string>;
}

function checkLabel(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) {
    throw new BallastError('CONFIG', `registry: ${what} must be a non-empty string of at most 200 characters`, {
      details: { [what]: value },
    });
  }
}

/** @internal Whether a value can serve as a Model (an object with an `infer()` method). */
export function isModel(value: unknown): value is Model {
  return typeof value === 'object' && value !== null && typeof (value as Model).infer === 'function';
}

/**
 * A registry of model versions per name: register ready models or loaders, load them, and point
 * aliases (`stable`, `candidate`) at versions. Each version is a plain `Model`, so
 * `registry.get('fraud', 'candidate')` plugs straight into {@link rollout}.
 *
 * @example
 * const registry = createRegistry();
 * registry.register('fraud', 'v1', v1Model);
 * registry.register('fraud', 'v2', () => loadOnnxModel('./fraud-v2.onnx'));
 * await registry.load('fraud', 'v2');
 * registry.alias('fraud', 'stable', 'v1');
 * registry.alias('fraud', 'candidate', 'v2');
 * const model = rollout({ stable: registry.get('fraud', 'stable'), candidate: registry.get('fraud', 'candidate'), strategy: { type: 'canary' } });
 */
export function createRegistry(): ModelRegistry {
  const families = new Map<string, Family>();

  const family = (name: string): Family => {
    checkLabel(name, 'name');
    const found = families.get(name);
    if (found === undefined) throw new BallastError('NOT_FOUND', `registry: no model named ${name}`, { details: { name } });
    return found;
  };

  const entry = (name: string, versionOrAlias: string): Entry => {
    checkLabel(versionOrAlias, 'version');
    const f = family(name);
    const version = f.aliases.get(versionOrAlias) ?? versionOrAlias;
    const found = f.versions.get(version);
    if (found === undefined) {
      throw new BallastError('NOT_FOUND', `registry: ${name} has no version or alias ${versionOrAlias}`, {
        details: { name, version: versionOrAlias },
      });
    }
    return found;
  };

  const unavailable = (name: string, e: Entry): BallastError =>
    new BallastError('MODEL_UNAVAILABLE', `registry: ${name}@${e.version} is ${e.state}${e.error ? `: ${e.error}` : ''}`, {
      details: { name, version: e.version, state: e.state },
    });

  return {
    register(name, version, source) {
      checkLabel(name, 'name');
      checkLabel(version, 'version');
      let f = families.get(name);
      if (f === undefined) {
        f = { versions: new Map(), aliases: new Map() };
        families.set(name, f);
      }
      if (f.versions.has(version))
        throw new BallastError('CONFIG', `registry: ${name}@${version} is already registered`, { details: { name, version } });
      if (f.aliases.has(version))
        throw new BallastError('CONFIG', `registry: ${version} is an alias of ${name}`, { details: { name, version } });
      if (isModel(source)) f.versions.set(version, { version, state: 'ready', model: source as Model<unknown, unknown> });
      else if (typeof source === 'function') {
        f.versions.set(version, { version, state: 'registered', loader: source as Entry['loader'] });
      } else {
        throw new BallastError('CONFIG', `registry: ${name}@${version} must be a Model or a loader function`, {
          details: { name, version },
        });
      }
    },

    load<I, O>(name: string, versionOrAlias: string): Promise<Model<I, O>> {
      let e: Entry;
      try {
        e = entry(name, versionOrAlias);
      } catch (error) {
        return Promise.reject(error);
      }
      if (e.state === 'ready' && e.model) return Promise.resolve(e.model as Model<I, O>);
      if (e.state === 'closed') return Promise.reject(unavailable(name, e));
      if (e.loading === undefined) {
        const loader = e.loader as NonNullable<Entry['loader']>;
        e.state = 'loading';
        delete e.error;
        e.loading = (async () => {
          try {
            const model = await loader();
            if (!isModel(model)) throw new BallastError('CONFIG', `registry: the loader of ${name}@${e.version} did not return a Model`);
            e.model = model;
            e.state = 'ready';
            return model;
          } catch (error) {
            e.state = 'failed';
            e.error = error instanceof Error ? error.message : String(error);
            throw new BallastError('MODEL_UNAVAILABLE', `registry: loading ${name}@${e.version} failed: ${e.error}`, {
              cause: error,
              details: { name, version: e.version },
            });
          } finally {
            // A failed load may be tried again.
            delete e.loading;
          }
        })();
      }
      return e.loading as Promise<Model<I, O>>;
    },

    get<I, O>(name: string, versionOrAlias: string): Model<I, O> {
      const e = entry(name, versionOrAlias);
      if (e.state !== 'ready' || e.model === undefined) throw unavailable(name, e);
      return e.model as Model<I, O>;
    },

    alias(name, alias, version) {
      checkLabel(alias, 'alias');
      const f = family(name);
      if (f.versions.has(alias))
        throw new BallastError('CONFIG', `registry: alias ${alias} is a version of ${name}`, { details: { name, alias } });
      const e = entry(name, version);
      if (e.state === 'closed') throw unavailable(name, e);
      f.aliases.set(alias, e.version);
    },

    resolve(name, versionOrAlias) {
      return entry(name, versionOrAlias).version;
    },

    isReady(name, versionOrAlias) {
      const f = families.get(name);
      if (f === undefined) return false;
      return f.versions.get(f.aliases.get(versionOrAlias) ?? versionOrAlias)?.state === 'ready';
    },

    versions(name) {
      const out: VersionInfo[] = [];
      for (const [familyName, f] of families) {
        if (name !== undefined && familyName !== name) continue;
        for (const e of f.versions.values()) {
          const aliases = [...f.aliases].filter(([, v]) => v === e.version).map(([a]) => a);
          out.push({ name: familyName, version: e.version, state: e.state, aliases, ...(e.error === undefined ? {} : { error: e.error }) });
        }
      }
      return out;
    },

    async close(name, version) {
      const f = family(name);
      const e = entry(name, version);
      const aliases = [...f.aliases].filter(([, v]) => v === e.version).map(([a]) => a);
      if (aliases.length > 0) {
        throw new BallastError('CONFIG', `registry: ${name}@${e.version} is still aliased as ${aliases.join(', ')}`, {
          details: { name, version: e.version, aliases },
        });
      }
      if (e.state === 'closed') return;
      const model = e.model;
      e.state = 'closed';
      delete e.model;
      await model?.close?.();
    },
  };
}
