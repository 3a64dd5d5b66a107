import type { Principal } from '@ballast/core';
import express, { type Request, type Response, type Router } from 'express';
import { sendError } from './errors.js';
import { readJson } from './http-context.js';

/** What an admin operation answers: an HTTP status and a JSON body (the same shape as `@ballast/rollout`'s). */
export interface AdminResponse {
  /** HTTP status to send. */
  status: number;
  /** JSON body to send. */
  body: unknown;
}

/** A permission check: throws (or returns `false`) to refuse `action` on the rollout `name`. */
export type AdminPermissionCheck = (principal: Principal | undefined, action: 'read' | 'admin', name: string | undefined) => unknown;

/** @deprecated Use {@link AdminResponse}, the same shape under the name `@ballast/rollout` uses. */
export type AdminAnswer = AdminResponse;

/**
 * The admin operations of `@ballast/rollout`'s `rolloutAdmin()`, described structurally so this
 * package does not depend on the rollout package. Each checks the principal's permission itself.
 */
export interface RolloutAdminOperations {
  /** Status of one rollout, or of all. */
  status(principal: Principal | undefined, name?: string): Promise<AdminResponse>;
  /** Promotes the candidate of `name`. */
  promote(principal: Principal | undefined, name: string, body?: unknown): Promise<AdminResponse>;
  /** Rolls `name` back to its stable version. */
  rollback(principal: Principal | undefined, name: string, body?: unknown): Promise<AdminResponse>;
  /** The same operations with `authorize` deciding permissions (instead of role names). */
  authorizedBy?(authorize: AdminPermissionCheck): RolloutAdminOperations;
}

/**
 * @internal Where `ballastRouter()`'s gate leaves its guard's permission check for the routers it
 * mounts (`res.locals[MOUNT_AUTHORIZE]`), so they decide with the same role policy.
 */
export const MOUNT_AUTHORIZE = 'ballastAuthorize';

/** Options of {@link rolloutAdminRoutes}. */
export interface RolloutAdminRoutesOptions {
  /** Largest request body (`{ "reason": "..." }`), bytes. Default 4096. */
  maxBodyBytes?: number;
}

/**
 * Express routes for rollout administration, to mount behind the Ballast router's
 * authentication: `GET /` (every rollout's status), `GET /:name`, `POST /:name/promote` and
 * `POST /:name/rollback` with an optional `{ "reason": "..." }` body. Mounted in a
 * `ballastRouter()` with a guard, the guard's role policies decide: `read` on the rollout's name
 * for status, `admin` for promote and roll back (a principal with the `admin` role may read, as
 * everywhere else). Elsewhere the rollout admin decides (by default the `admin` role for every
 * operation). Errors answer with the Ballast status and `{ error }` body.
 *
 * @example
 * const admin = rolloutAdmin({ rollouts: [fraudRollout] });
 * const router = ballastRouter({ models, guard, mount: [{ path: '/admin/rollouts', handler: rolloutAdminRoutes(admin), action: 'read' }] });
 */
export function rolloutAdminRoutes(admin: RolloutAdminOperations, options: RolloutAdminRoutesOptions = {}): Router {
  const { maxBodyBytes = 4096 } = options;
  const router = express.Router();
  const principalOf = (res: Response) => res.locals.principal as Principal | undefined;
  // The operations under the mounting router's permission check, one set per router.
  const byCheck = new WeakMap<AdminPermissionCheck, RolloutAdminOperations>();
  const operations = (res: Response): RolloutAdminOperations => {
    const check = res.locals[MOUNT_AUTHORIZE] as AdminPermissionCheck | undefined;
    if (typeof check !== 'function' || typeof admin.authorizedBy !== 'function') return admin;
    let checked = byCheck.get(check);
    if (checked === undefined) {
      checked = admin.authorizedBy(check);
      byCheck.set(check, checked);
    }
    return checked;
  };
  const answer = (res: Response, work: Promise<AdminResponse>) =>
    work.then(
      ({ status, body }) => {
        res.status(status).json(body);
      },
      (error: unknown) => {
        sendError(res, error);
      },
    );
  const bodyOf = async (request: Request, res: Response) => {
    const length = Number(request.headers['content-length'] ?? 0);
    const chunked = request.headers['transfer-encoding'] !== undefined;
    return length > 0 || chunked ? readJson(request, res, maxBodyBytes) : undefined;
  };

  router.get('/', (_request, res) => answer(res, operations(res).status(principalOf(res))));
  router.get('/:name', (request, res) => answer(res, operations(res).status(principalOf(res), String(request.params.name))));
  router.post('/:name/promote', (request, res) =>
    answer(
      res,
      bodyOf(request, res).then((body) => operations(res).promote(principalOf(res), String(request.params.name), body)),
    ),
  );
  router.post('/:name/rollback', (request, res) =>
    answer(
      res,
      bodyOf(request, res).then((body) => operations(res).rollback(principalOf(res), String(request.params.name), body)),
    ),
  );
  return router;
}
