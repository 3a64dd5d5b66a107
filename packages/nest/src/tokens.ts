import { Inject } from '@nestjs/common';

/** Injection token of the resolved {@link BallastModuleOptions}. */
export const BALLAST_OPTIONS = Symbol.for('ballast.nest.options');

const MODEL_TOKENS = new Map<string, symbol>();

/**
 * The injection token of the model registered under `name`. Tokens are interned, so the same
 * name always gives the same token (use it in `inject: [...]` of your own factories).
 *
 * @example
 * { provide: Scorer, useFactory: (model: Model) => new Scorer(model), inject: [modelToken('iris')] }
 */
export function modelToken(name: string): symbol {
  let token = MODEL_TOKENS.get(name);
  if (token === undefined) {
    token = Symbol.for(`ballast.nest.model:${name}`);
    MODEL_TOKENS.set(name, token);
  }
  return token;
}

/**
 * Injects the model registered under `name` with `BallastModule.forRoot({ models })`. The injected
 * model carries the current request's context (principal, request id, route, deadline, client
 * disconnect) into every `infer` call when the request went through `BallastContextInterceptor`.
 *
 * @example
 * @Controller('score')
 * class ScoreController {
 *   constructor(@InjectModel('iris') private readonly model: Model<IrisInput, IrisOutput>) {}
 * }
 */
export function InjectModel(name: string): PropertyDecorator & ParameterDecorator {
  return Inject(modelToken(name));
}
