import { SetMetadata } from '@nestjs/common';

const SERVED_BY_CORE = 'ballast:served-by-core';

/**
 * @internal Marks a controller whose routes the serving core answers whole (authentication,
 * admission, request id, budget, audit): `BallastAuthGuard` and `BallastContextInterceptor` let
 * them through untouched, so an app that applies them globally does not do that work twice.
 */
export function ServedByCore(): ClassDecorator {
  return SetMetadata(SERVED_BY_CORE, true);
}

/** @internal Whether `target` (a controller class) is answered by the serving core. */
export function isServedByCore(target: object): boolean {
  return Reflect.getMetadata(SERVED_BY_CORE, target) === true;
}
