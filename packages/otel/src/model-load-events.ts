/* Model loads and reloads: load time, and the provider gauge read at collection. */
import type { Attributes, ObservableResult } from '@opentelemetry/api';
import { errorType } from './error-type.js';
import type { HandlerContext } from './handler-context.js';
import * as S from './semconv.js';

/** @internal `ballast:model-load`. Keeps `context.providers`, which cost rates also read. */
export function modelLoadEvents({ on, onShutdown, instruments, providers }: HandlerContext): void {
  const observe = (result: ObservableResult) => {
    for (const { model, version, provider } of providers.values()) {
      const attributes: Attributes = { [S.ATTR_GEN_AI_REQUEST_MODEL]: model, [S.ATTR_BALLAST_PROVIDER]: provider };
      if (version !== undefined) attributes[S.ATTR_BALLAST_MODEL_VERSION] = version;
      result.observe(1, attributes);
    }
  };
  instruments.modelProvider.addCallback(observe);
  onShutdown(() => {
    instruments.modelProvider.removeCallback(observe);
    providers.clear();
  });

  on('modelLoad', (event) => {
    const attributes: Attributes = {
      [S.ATTR_GEN_AI_REQUEST_MODEL]: event.model,
      [S.ATTR_BALLAST_PROVIDER]: event.provider,
      [S.ATTR_BALLAST_LOAD_PHASE]: event.phase,
    };
    if (event.version !== undefined) attributes[S.ATTR_BALLAST_MODEL_VERSION] = event.version;
    if (event.error !== undefined) attributes[S.ATTR_ERROR_TYPE] = errorType(event.error);
    instruments.loadDuration.record(event.durationMs / 1000, attributes);
    if (event.error === undefined) providers.set(event.model, { model: event.model, version: event.version, provider: event.provider });
  });
}
