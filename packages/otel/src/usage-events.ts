/* Token and item usage reported by models: usage metrics, token counts on the call's span, and cost. */
import type { Attributes } from '@opentelemetry/api';
import type { HandlerContext } from './handler-context.js';
import * as S from './semconv.js';

/** @internal `ballast:usage`. */
export function usageEvents({ on, instruments, currentCall, costs, providers, charge }: HandlerContext): void {
  on('usage', (event) => {
    const state = currentCall();
    const provider = event.provider ?? providers.get(event.model)?.provider;
    const attributes: Attributes = {
      [S.ATTR_GEN_AI_OPERATION_NAME]: event.operation ?? 'infer',
      [S.ATTR_GEN_AI_REQUEST_MODEL]: event.model,
    };
    if (event.provider !== undefined) attributes[S.ATTR_GEN_AI_PROVIDER_NAME] = event.provider;
    if (event.inputTokens !== undefined)
      instruments.tokenUsage.record(event.inputTokens, { ...attributes, [S.ATTR_GEN_AI_TOKEN_TYPE]: 'input' });
    if (event.outputTokens !== undefined)
      instruments.tokenUsage.record(event.outputTokens, { ...attributes, [S.ATTR_GEN_AI_TOKEN_TYPE]: 'output' });
    if (event.items !== undefined) instruments.usageItems.add(event.items, attributes);
    if (state !== undefined && !state.done) {
      if (event.provider !== undefined) state.usageProvider = event.provider;
      if (state.span.isRecording()) {
        if (event.inputTokens !== undefined)
          state.span.setAttribute(S.ATTR_GEN_AI_USAGE_INPUT_TOKENS, (state.inputTokens += event.inputTokens));
        if (event.outputTokens !== undefined)
          state.span.setAttribute(S.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS, (state.outputTokens += event.outputTokens));
      }
    }
    if (!costs.empty) {
      const rate = costs.rateFor(event.model, provider);
      if (rate !== undefined) {
        if (rate.perInputToken && event.inputTokens) charge(event.model, provider, 'input_token', rate.perInputToken * event.inputTokens);
        if (rate.perOutputToken && event.outputTokens)
          charge(event.model, provider, 'output_token', rate.perOutputToken * event.outputTokens);
        if (rate.perItem && event.items) charge(event.model, provider, 'item', rate.perItem * event.items);
      }
    }
  });
}
