import { BallastError, type Model, pipeline } from '@ballast/core';
import { specsToV2, type V2ModelMetadata, type V2TensorMetadata } from './v2-codec.js';

/** One served model (one version of a name). */
export interface RegisteredModel {
  /** The model as given (identity, metadata, health, close). */
  readonly original: Model;
  /** The model under one budget (`pipeline`): what requests call. */
  readonly served: Model;
}

interface Entry extends RegisteredModel {
  // The model's `inputs` specs last turned into v2 metadata, and the result (see declaredInputs).
  inputSpecs?: unknown;
  inputsV2?: V2TensorMetadata[] | undefined;
}

/** Extra metadata for a model's `GET /v2/models/{name}` answer, when the model cannot describe itself. */
export interface ModelMetadataOverride {
  /**
   * Platform string. Default: the model's own `platform` when it declares one, `onnx_onnxv1` (the
   * Open Inference Protocol's name for ONNX) for an `@ballast/onnx` model, else `ballast`.
   */
  platform?: string;
  /** Input tensors. */
  inputs?: V2TensorMetadata[];
  /** Output tensors. */
  outputs?: V2TensorMetadata[];
}

type Specs = Parameters<typeof specsToV2>[0];

/**
 * The models served, by name and version. One rule for every adapter: a name with several
 * entries holds several versions (the first registered is the default), and the same name and
 * version twice is refused with `CONFIG` (which one a request reaches would be an accident of
 * order). Models must have a non-empty `name` and an `infer()`.
 *
 * @example
 * const registry = new ModelRegistry([fraudV1, fraudV2]);
 * registry.resolve('fraud', '2').served.infer(input);
 */
export class ModelRegistry {
  private readonly byName = new Map<string, Entry[]>();

  /**
   * @param models the models (several with one name are its versions), or a record of them.
   * @param owner the name errors start with (`ballastRouter`, `BallastModule`...).
   */
  constructor(models: readonly Model[] | Readonly<Record<string, Model>> | undefined, owner = 'serving') {
    const list = Array.isArray(models) ? (models as readonly Model[]) : Object.values(models ?? {});
    if (list.length === 0)
      throw new BallastError('CONFIG', `${owner}: "models" must name at least one model`, { details: { path: 'models' } });
    for (const [index, model] of list.entries()) {
      if (typeof model?.infer !== 'function' || typeof model.name !== 'string' || model.name.length === 0) {
        throw new BallastError('CONFIG', `${owner}: models[${index}] is not a Model (needs a name and infer())`, {
          details: { path: `models[${index}]` },
        });
      }
      const versions = this.byName.get(model.name) ?? [];
      if (versions.some((entry) => entry.original.version === model.version)) {
        throw new BallastError('CONFIG', `${owner}: model "${model.name}" version "${model.version ?? '(none)'}" is registered twice`, {
          details: { path: `models[${index}]`, model: model.name, version: model.version },
        });
      }
      versions.push({ original: model, served: pipeline(model) });
      this.byName.set(model.name, versions);
    }
  }

  /** The names served. */
  names(): string[] {
    return [...this.byName.keys()];
  }

  /** Every registered model, every version. */
  all(): RegisteredModel[] {
    return [...this.byName.values()].flat();
  }

  /** The entries of one name, in registration order (empty for an unknown name). */
  versionsOf(name: string): readonly RegisteredModel[] {
    return this.byName.get(name) ?? [];
  }

  /** The entry for `name` (and `version`; without one the first registered), or `undefined`. */
  find(name: string, version?: string): RegisteredModel | undefined {
    const entries = this.byName.get(name);
    return version === undefined ? entries?.[0] : entries?.find((entry) => entry.original.version === version);
  }

  /** The entry for `name` (and `version`), or `NOT_FOUND` (404). */
  resolve(name: string, version?: string): RegisteredModel {
    const entry = this.find(name, version);
    if (entry === undefined) {
      throw new BallastError(
        'NOT_FOUND',
        version === undefined ? `unknown model "${name}"` : `unknown model "${name}" version "${version}"`,
        {
          details: version === undefined ? { model: name } : { model: name, version },
        },
      );
    }
    return entry;
  }

  /**
   * The inputs a model declares in v2 terms (what a request's datatypes are checked against): the
   * override's when given, else the model's `inputs` tensor specs, else `undefined` (unchecked).
   */
  declaredInputs(entry: RegisteredModel, override?: ModelMetadataOverride): V2TensorMetadata[] | undefined {
    if (override?.inputs !== undefined) return override.inputs;
    const described = (entry.original as Model & { inputs?: unknown }).inputs;
    if (!Array.isArray(described)) return undefined;
    // Converted once per specs array (a reloaded model brings a new one), not on every request.
    const cached = entry as Entry;
    if (cached.inputSpecs !== described) {
      cached.inputsV2 = specsToV2(described as Specs);
      cached.inputSpecs = described;
    }
    return cached.inputsV2;
  }

  /**
   * Whether a model takes one example per call (`true`, rows: the default) or whole tensors
   * (`false`), as it declares in `perExample` (an `@ballast/onnx` model does).
   */
  perExample(entry: RegisteredModel): boolean {
    return (entry.original as Model & { perExample?: unknown }).perExample !== false;
  }

  /** The v2 metadata of a model (and version): `NOT_FOUND` for an unknown one. */
  metadata(name: string, version: string | undefined, override?: ModelMetadataOverride): V2ModelMetadata {
    const entry = this.resolve(name, version);
    const described = entry.original as Model & { inputs?: Specs; outputs?: Specs };
    const versions = this.versionsOf(name)
      .map((e) => e.original.version)
      .filter((v): v is string => v !== undefined);
    const body = { name } as V2ModelMetadata;
    if (versions.length > 0) body.versions = versions;
    body.platform = override?.platform ?? platformOf(entry.original);
    body.inputs = this.declaredInputs(entry, override) ?? [];
    body.outputs = override?.outputs ?? specsToV2(described.outputs);
    return body;
  }
}

/**
 * The v2 `platform` of a model: its own `platform` string when it declares one; `onnx_onnxv1` for
 * an `@ballast/onnx` model (tensor specs and an execution `provider`); else `ballast`.
 */
function platformOf(model: Model): string {
  const { platform, provider, inputs } = model as Model & { platform?: unknown; provider?: unknown; inputs?: unknown };
  if (typeof platform === 'string' && platform !== '') return platform;
  return typeof provider === 'string' && Array.isArray(inputs) ? 'onnx_onnxv1' : 'ballast';
}
